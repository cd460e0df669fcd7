using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Panel.Core.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class BillingTaxCoupons : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "bill_to",
                table: "invoices",
                type: "character varying(1000)",
                maxLength: 1000,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<string>(
                name: "customer_country",
                table: "invoices",
                type: "character(2)",
                fixedLength: true,
                maxLength: 2,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "customer_vat_number",
                table: "invoices",
                type: "character varying(20)",
                maxLength: 20,
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "net",
                table: "invoices",
                type: "numeric(18,2)",
                precision: 18,
                scale: 2,
                nullable: false,
                defaultValue: 0m);

            migrationBuilder.AddColumn<decimal>(
                name: "tax_amount",
                table: "invoices",
                type: "numeric(18,2)",
                precision: 18,
                scale: 2,
                nullable: false,
                defaultValue: 0m);

            migrationBuilder.AddColumn<string>(
                name: "tax_label",
                table: "invoices",
                type: "character varying(20)",
                maxLength: 20,
                nullable: false,
                defaultValue: "VAT");

            migrationBuilder.AddColumn<string>(
                name: "tax_note",
                table: "invoices",
                type: "character varying(100)",
                maxLength: 100,
                nullable: true);

            migrationBuilder.AddColumn<decimal>(
                name: "tax_rate_percent",
                table: "invoices",
                type: "numeric(5,2)",
                precision: 5,
                scale: 2,
                nullable: false,
                defaultValue: 0m);

            migrationBuilder.AddColumn<string>(
                name: "address",
                table: "billing_accounts",
                type: "character varying(500)",
                maxLength: 500,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "country",
                table: "billing_accounts",
                type: "character(2)",
                fixedLength: true,
                maxLength: 2,
                nullable: true);

            migrationBuilder.AddColumn<bool>(
                name: "is_business",
                table: "billing_accounts",
                type: "boolean",
                nullable: false,
                defaultValue: false);

            migrationBuilder.AddColumn<string>(
                name: "legal_name",
                table: "billing_accounts",
                type: "character varying(200)",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "vat_number",
                table: "billing_accounts",
                type: "character varying(20)",
                maxLength: 20,
                nullable: true);

            migrationBuilder.CreateTable(
                name: "coupons",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    code = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    kind = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    value = table.Column<decimal>(type: "numeric(18,2)", precision: 18, scale: 2, nullable: false),
                    valid_from = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    valid_until = table.Column<DateTime>(type: "timestamp with time zone", nullable: true),
                    max_redemptions = table.Column<int>(type: "integer", nullable: true),
                    redemptions = table.Column<int>(type: "integer", nullable: false),
                    created_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_coupons", x => x.id);
                    table.CheckConstraint("ck_coupons_value", "value > 0 AND (kind <> 'Percent' OR value <= 100)");
                });

            migrationBuilder.CreateTable(
                name: "credit_note_counters",
                columns: table => new
                {
                    year = table.Column<int>(type: "integer", nullable: false),
                    last_number = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_credit_note_counters", x => x.year);
                });

            migrationBuilder.CreateTable(
                name: "credit_notes",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    number = table.Column<string>(type: "character varying(32)", maxLength: 32, nullable: false),
                    invoice_id = table.Column<long>(type: "bigint", nullable: false),
                    customer_id = table.Column<Guid>(type: "uuid", nullable: false),
                    issued_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    amount = table.Column<decimal>(type: "numeric(18,2)", precision: 18, scale: 2, nullable: false),
                    reason = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: false),
                    actor_name = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_credit_notes", x => x.id);
                    table.CheckConstraint("ck_credit_notes_amount", "amount > 0");
                    table.ForeignKey(
                        name: "fk_credit_notes_invoices_invoice_id",
                        column: x => x.invoice_id,
                        principalTable: "invoices",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_credit_notes_users_customer_id",
                        column: x => x.customer_id,
                        principalTable: "users",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "tax_rates",
                columns: table => new
                {
                    country_code = table.Column<string>(type: "character(2)", fixedLength: true, maxLength: 2, nullable: false),
                    rate_percent = table.Column<decimal>(type: "numeric(5,2)", precision: 5, scale: 2, nullable: false),
                    name = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    updated_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    updated_by = table.Column<string>(type: "character varying(256)", maxLength: 256, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_tax_rates", x => x.country_code);
                    table.CheckConstraint("ck_tax_rates_rate", "rate_percent >= 0 AND rate_percent <= 100");
                });

            migrationBuilder.CreateTable(
                name: "coupon_redemptions",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    coupon_id = table.Column<int>(type: "integer", nullable: false),
                    customer_id = table.Column<Guid>(type: "uuid", nullable: false),
                    redeemed_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    invoice_id = table.Column<long>(type: "bigint", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_coupon_redemptions", x => x.id);
                    table.ForeignKey(
                        name: "fk_coupon_redemptions_coupons_coupon_id",
                        column: x => x.coupon_id,
                        principalTable: "coupons",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_coupon_redemptions_invoices_invoice_id",
                        column: x => x.invoice_id,
                        principalTable: "invoices",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_coupon_redemptions_users_customer_id",
                        column: x => x.customer_id,
                        principalTable: "users",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateIndex(
                name: "ix_coupon_redemptions_coupon_id_customer_id",
                table: "coupon_redemptions",
                columns: new[] { "coupon_id", "customer_id" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_coupon_redemptions_customer_id_invoice_id",
                table: "coupon_redemptions",
                columns: new[] { "customer_id", "invoice_id" });

            migrationBuilder.CreateIndex(
                name: "ix_coupon_redemptions_invoice_id",
                table: "coupon_redemptions",
                column: "invoice_id");

            migrationBuilder.CreateIndex(
                name: "ix_coupons_code",
                table: "coupons",
                column: "code",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_credit_notes_customer_id",
                table: "credit_notes",
                column: "customer_id");

            migrationBuilder.CreateIndex(
                name: "ix_credit_notes_invoice_id",
                table: "credit_notes",
                column: "invoice_id");

            migrationBuilder.CreateIndex(
                name: "ix_credit_notes_number",
                table: "credit_notes",
                column: "number",
                unique: true);

            // Invoices issued before tax existed: net = total, no tax. The immutability trigger is lifted
            // for this one statement, then replaced by one that also guards the new columns.
            migrationBuilder.Sql("""
                ALTER TABLE invoices DISABLE TRIGGER invoices_immutable;
                UPDATE invoices SET net = total;
                ALTER TABLE invoices ENABLE TRIGGER invoices_immutable;

                CREATE OR REPLACE FUNCTION billing_invoice_update() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF (NEW.id, NEW.number, NEW.customer_id, NEW.period_start, NEW.period_end, NEW.issued_at, NEW.due_at, NEW.currency, NEW.total,
                        NEW.net, NEW.tax_rate_percent, NEW.tax_amount, NEW.tax_label, NEW.tax_note, NEW.bill_to, NEW.customer_country, NEW.customer_vat_number)
                       IS DISTINCT FROM (OLD.id, OLD.number, OLD.customer_id, OLD.period_start, OLD.period_end, OLD.issued_at, OLD.due_at, OLD.currency, OLD.total,
                        OLD.net, OLD.tax_rate_percent, OLD.tax_amount, OLD.tax_label, OLD.tax_note, OLD.bill_to, OLD.customer_country, OLD.customer_vat_number)
                       OR NOT (OLD.status = 'Open' AND NEW.status = 'Paid' AND NEW.paid_at IS NOT NULL) THEN
                        RAISE EXCEPTION 'invoice % is issued: only its payment can be recorded', OLD.number USING ERRCODE = 'P0001';
                    END IF;
                    RETURN NEW;
                END $$;

                CREATE TRIGGER credit_notes_immutable BEFORE UPDATE OR DELETE ON credit_notes
                    FOR EACH ROW EXECUTE FUNCTION billing_refuse_change();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER IF EXISTS credit_notes_immutable ON credit_notes;
                CREATE OR REPLACE FUNCTION billing_invoice_update() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF (NEW.id, NEW.number, NEW.customer_id, NEW.period_start, NEW.period_end, NEW.issued_at, NEW.due_at, NEW.currency, NEW.total)
                       IS DISTINCT FROM (OLD.id, OLD.number, OLD.customer_id, OLD.period_start, OLD.period_end, OLD.issued_at, OLD.due_at, OLD.currency, OLD.total)
                       OR NOT (OLD.status = 'Open' AND NEW.status = 'Paid' AND NEW.paid_at IS NOT NULL) THEN
                        RAISE EXCEPTION 'invoice % is issued: only its payment can be recorded', OLD.number USING ERRCODE = 'P0001';
                    END IF;
                    RETURN NEW;
                END $$;
                """);

            migrationBuilder.DropTable(
                name: "coupon_redemptions");

            migrationBuilder.DropTable(
                name: "credit_note_counters");

            migrationBuilder.DropTable(
                name: "credit_notes");

            migrationBuilder.DropTable(
                name: "tax_rates");

            migrationBuilder.DropTable(
                name: "coupons");

            migrationBuilder.DropColumn(
                name: "bill_to",
                table: "invoices");

            migrationBuilder.DropColumn(
                name: "customer_country",
                table: "invoices");

            migrationBuilder.DropColumn(
                name: "customer_vat_number",
                table: "invoices");

            migrationBuilder.DropColumn(
                name: "net",
                table: "invoices");

            migrationBuilder.DropColumn(
                name: "tax_amount",
                table: "invoices");

            migrationBuilder.DropColumn(
                name: "tax_label",
                table: "invoices");

            migrationBuilder.DropColumn(
                name: "tax_note",
                table: "invoices");

            migrationBuilder.DropColumn(
                name: "tax_rate_percent",
                table: "invoices");

            migrationBuilder.DropColumn(
                name: "address",
                table: "billing_accounts");

            migrationBuilder.DropColumn(
                name: "country",
                table: "billing_accounts");

            migrationBuilder.DropColumn(
                name: "is_business",
                table: "billing_accounts");

            migrationBuilder.DropColumn(
                name: "legal_name",
                table: "billing_accounts");

            migrationBuilder.DropColumn(
                name: "vat_number",
                table: "billing_accounts");
        }
    }
}
