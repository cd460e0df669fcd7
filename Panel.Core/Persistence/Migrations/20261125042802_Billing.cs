using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Panel.Core.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class Billing : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<decimal>(
                name: "hourly_price",
                table: "plans",
                type: "numeric(18,4)",
                precision: 18,
                scale: 4,
                nullable: false,
                defaultValue: 0m);

            migrationBuilder.AddColumn<decimal>(
                name: "monthly_price",
                table: "plans",
                type: "numeric(18,4)",
                precision: 18,
                scale: 4,
                nullable: false,
                defaultValue: 0m);

            migrationBuilder.AddColumn<decimal>(
                name: "price_per_extra_gb",
                table: "plans",
                type: "numeric(18,4)",
                precision: 18,
                scale: 4,
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "setup_fee",
                table: "plans",
                type: "numeric(18,4)",
                precision: 18,
                scale: 4,
                nullable: false,
                defaultValue: 0m);

            migrationBuilder.CreateTable(
                name: "billing_accounts",
                columns: table => new
                {
                    customer_id = table.Column<Guid>(type: "uuid", nullable: false),
                    billing_day = table.Column<int>(type: "integer", nullable: false),
                    created_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_billing_accounts", x => x.customer_id);
                    table.CheckConstraint("ck_billing_accounts_day", "billing_day BETWEEN 1 AND 28");
                    table.ForeignKey(
                        name: "fk_billing_accounts_users_customer_id",
                        column: x => x.customer_id,
                        principalTable: "users",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "invoice_counters",
                columns: table => new
                {
                    year = table.Column<int>(type: "integer", nullable: false),
                    last_number = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_invoice_counters", x => x.year);
                });

            migrationBuilder.CreateTable(
                name: "invoices",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    number = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    customer_id = table.Column<Guid>(type: "uuid", nullable: false),
                    period_start = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    period_end = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    issued_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    due_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    currency = table.Column<string>(type: "character(3)", fixedLength: true, maxLength: 3, nullable: false),
                    total = table.Column<decimal>(type: "numeric(18,2)", precision: 18, scale: 2, nullable: false),
                    status = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    paid_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_invoices", x => x.id);
                    table.CheckConstraint("ck_invoices_total", "total >= 0");
                    table.ForeignKey(
                        name: "fk_invoices_users_customer_id",
                        column: x => x.customer_id,
                        principalTable: "users",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "usage_hours",
                columns: table => new
                {
                    vps_id = table.Column<int>(type: "integer", nullable: false),
                    hour_start = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    owner_id = table.Column<Guid>(type: "uuid", nullable: false),
                    plan_id = table.Column<int>(type: "integer", nullable: false),
                    status = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    billable = table.Column<bool>(type: "boolean", nullable: false),
                    bandwidth_bytes = table.Column<long>(type: "bigint", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_usage_hours", x => new { x.vps_id, x.hour_start });
                    table.ForeignKey(
                        name: "fk_usage_hours_plans_plan_id",
                        column: x => x.plan_id,
                        principalTable: "plans",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_usage_hours_users_owner_id",
                        column: x => x.owner_id,
                        principalTable: "users",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_usage_hours_vpses_vps_id",
                        column: x => x.vps_id,
                        principalTable: "vpses",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "invoice_lines",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    invoice_id = table.Column<long>(type: "bigint", nullable: false),
                    position = table.Column<int>(type: "integer", nullable: false),
                    kind = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    vps_id = table.Column<int>(type: "integer", nullable: true),
                    description = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: false),
                    quantity = table.Column<decimal>(type: "numeric(18,4)", precision: 18, scale: 4, nullable: false),
                    unit_price = table.Column<decimal>(type: "numeric(18,4)", precision: 18, scale: 4, nullable: true),
                    amount = table.Column<decimal>(type: "numeric(18,2)", precision: 18, scale: 2, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_invoice_lines", x => x.id);
                    table.ForeignKey(
                        name: "fk_invoice_lines_invoices_invoice_id",
                        column: x => x.invoice_id,
                        principalTable: "invoices",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_invoice_lines_vpses_vps_id",
                        column: x => x.vps_id,
                        principalTable: "vpses",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "ledger_entries",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    customer_id = table.Column<Guid>(type: "uuid", nullable: false),
                    at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    kind = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    amount = table.Column<decimal>(type: "numeric(18,2)", precision: 18, scale: 2, nullable: false),
                    balance_after = table.Column<decimal>(type: "numeric(18,2)", precision: 18, scale: 2, nullable: false),
                    invoice_id = table.Column<long>(type: "bigint", nullable: true),
                    reference = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: true),
                    actor_name = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_ledger_entries", x => x.id);
                    table.CheckConstraint("ck_ledger_entries_balance", "balance_after >= 0");
                    table.ForeignKey(
                        name: "fk_ledger_entries_invoices_invoice_id",
                        column: x => x.invoice_id,
                        principalTable: "invoices",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_ledger_entries_users_customer_id",
                        column: x => x.customer_id,
                        principalTable: "users",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateIndex(
                name: "ix_invoice_lines_invoice_id_position",
                table: "invoice_lines",
                columns: new[] { "invoice_id", "position" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_invoice_lines_vps_id",
                table: "invoice_lines",
                column: "vps_id");

            migrationBuilder.CreateIndex(
                name: "ix_invoices_customer_id_period_start",
                table: "invoices",
                columns: new[] { "customer_id", "period_start" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_invoices_number",
                table: "invoices",
                column: "number",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_invoices_status_due_at",
                table: "invoices",
                columns: new[] { "status", "due_at" });

            migrationBuilder.CreateIndex(
                name: "ix_ledger_entries_customer_id_id",
                table: "ledger_entries",
                columns: new[] { "customer_id", "id" });

            migrationBuilder.CreateIndex(
                name: "ix_ledger_entries_invoice_id",
                table: "ledger_entries",
                column: "invoice_id");

            migrationBuilder.CreateIndex(
                name: "ix_usage_hours_owner_id_hour_start",
                table: "usage_hours",
                columns: new[] { "owner_id", "hour_start" });

            migrationBuilder.CreateIndex(
                name: "ix_usage_hours_plan_id",
                table: "usage_hours",
                column: "plan_id");

            // The ledger is append-only and issued invoices are immutable: the service only inserts, and
            // the database refuses anything else (TRUNCATE, used by the tests' reset, is not refused).
            migrationBuilder.Sql("""
                CREATE FUNCTION billing_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    RAISE EXCEPTION '% rows are never %d', TG_TABLE_NAME, lower(TG_OP) USING ERRCODE = 'P0001';
                END $$;
                CREATE TRIGGER ledger_entries_append_only BEFORE UPDATE OR DELETE ON ledger_entries
                    FOR EACH ROW EXECUTE FUNCTION billing_refuse_change();
                CREATE TRIGGER invoice_lines_immutable BEFORE UPDATE OR DELETE ON invoice_lines
                    FOR EACH ROW EXECUTE FUNCTION billing_refuse_change();
                CREATE TRIGGER invoices_no_delete BEFORE DELETE ON invoices
                    FOR EACH ROW EXECUTE FUNCTION billing_refuse_change();

                -- An issued invoice changes only from open to paid.
                CREATE FUNCTION billing_invoice_update() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF (NEW.id, NEW.number, NEW.customer_id, NEW.period_start, NEW.period_end, NEW.issued_at, NEW.due_at, NEW.currency, NEW.total)
                       IS DISTINCT FROM (OLD.id, OLD.number, OLD.customer_id, OLD.period_start, OLD.period_end, OLD.issued_at, OLD.due_at, OLD.currency, OLD.total)
                       OR NOT (OLD.status = 'Open' AND NEW.status = 'Paid' AND NEW.paid_at IS NOT NULL) THEN
                        RAISE EXCEPTION 'invoice % is issued: only its payment can be recorded', OLD.number USING ERRCODE = 'P0001';
                    END IF;
                    RETURN NEW;
                END $$;
                CREATE TRIGGER invoices_immutable BEFORE UPDATE ON invoices
                    FOR EACH ROW EXECUTE FUNCTION billing_invoice_update();
                """);

            // The first catalog's plans get the prices CatalogService.SeedDefaultsAsync gives new installations.
            migrationBuilder.Sql("""
                UPDATE plans SET monthly_price = p.monthly, hourly_price = p.hourly, price_per_extra_gb = 0.01
                FROM (VALUES ('Container S', 4.00, 0.0060), ('Container M', 12.00, 0.0180), ('Para-virtual S', 5.00, 0.0075), ('VM S', 8.00, 0.0120))
                     AS p(name, monthly, hourly)
                WHERE plans.name = p.name AND plans.monthly_price = 0 AND plans.hourly_price = 0;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER IF EXISTS ledger_entries_append_only ON ledger_entries;
                DROP TRIGGER IF EXISTS invoice_lines_immutable ON invoice_lines;
                DROP TRIGGER IF EXISTS invoices_no_delete ON invoices;
                DROP TRIGGER IF EXISTS invoices_immutable ON invoices;
                DROP FUNCTION IF EXISTS billing_refuse_change();
                DROP FUNCTION IF EXISTS billing_invoice_update();
                """);

            migrationBuilder.DropTable(
                name: "billing_accounts");

            migrationBuilder.DropTable(
                name: "invoice_counters");

            migrationBuilder.DropTable(
                name: "invoice_lines");

            migrationBuilder.DropTable(
                name: "ledger_entries");

            migrationBuilder.DropTable(
                name: "usage_hours");

            migrationBuilder.DropTable(
                name: "invoices");

            migrationBuilder.DropColumn(
                name: "hourly_price",
                table: "plans");

            migrationBuilder.DropColumn(
                name: "monthly_price",
                table: "plans");

            migrationBuilder.DropColumn(
                name: "price_per_extra_gb",
                table: "plans");

            migrationBuilder.DropColumn(
                name: "setup_fee",
                table: "plans");
        }
    }
}
