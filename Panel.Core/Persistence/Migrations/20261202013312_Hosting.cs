using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Panel.Core.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class Hosting : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "hosting_plans",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    name = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    max_sites = table.Column<int>(type: "integer", nullable: false),
                    disk_bytes = table.Column<long>(type: "bigint", nullable: false),
                    monthly_bandwidth_bytes = table.Column<long>(type: "bigint", nullable: true),
                    vcpus = table.Column<int>(type: "integer", nullable: false),
                    memory_bytes = table.Column<long>(type: "bigint", nullable: false),
                    monthly_price = table.Column<decimal>(type: "numeric(18,4)", precision: 18, scale: 4, nullable: false),
                    active = table.Column<bool>(type: "boolean", nullable: false),
                    compute_plan_id = table.Column<int>(type: "integer", nullable: false),
                    created_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_hosting_plans", x => x.id);
                    table.CheckConstraint("ck_hosting_plans_sites", "max_sites > 0");
                    table.ForeignKey(
                        name: "fk_hosting_plans_plans_compute_plan_id",
                        column: x => x.compute_plan_id,
                        principalTable: "plans",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "hosting_spaces",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    owner_id = table.Column<Guid>(type: "uuid", nullable: false),
                    plan_id = table.Column<int>(type: "integer", nullable: false),
                    vps_id = table.Column<int>(type: "integer", nullable: true),
                    created_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_hosting_spaces", x => x.id);
                    table.ForeignKey(
                        name: "fk_hosting_spaces_hosting_plans_plan_id",
                        column: x => x.plan_id,
                        principalTable: "hosting_plans",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_hosting_spaces_users_owner_id",
                        column: x => x.owner_id,
                        principalTable: "users",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_hosting_spaces_vpses_vps_id",
                        column: x => x.vps_id,
                        principalTable: "vpses",
                        principalColumn: "id",
                        onDelete: ReferentialAction.SetNull);
                });

            migrationBuilder.CreateTable(
                name: "sites",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    space_id = table.Column<int>(type: "integer", nullable: false),
                    domain = table.Column<string>(type: "character varying(253)", maxLength: 253, nullable: false),
                    kind = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    status = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    status_reason = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: true),
                    port = table.Column<int>(type: "integer", nullable: false),
                    content_bytes = table.Column<long>(type: "bigint", nullable: false),
                    created_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_sites", x => x.id);
                    table.ForeignKey(
                        name: "fk_sites_hosting_spaces_space_id",
                        column: x => x.space_id,
                        principalTable: "hosting_spaces",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "edge_certificates",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    site_id = table.Column<int>(type: "integer", nullable: true),
                    names = table.Column<string>(type: "text", nullable: false),
                    certificate_pem = table.Column<string>(type: "text", nullable: false),
                    key_pem = table.Column<string>(type: "text", nullable: false),
                    not_before = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    not_after = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_edge_certificates", x => x.id);
                    table.ForeignKey(
                        name: "fk_edge_certificates_sites_site_id",
                        column: x => x.site_id,
                        principalTable: "sites",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "site_domains",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    site_id = table.Column<int>(type: "integer", nullable: false),
                    name = table.Column<string>(type: "character varying(253)", maxLength: 253, nullable: false),
                    is_primary = table.Column<bool>(type: "boolean", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_site_domains", x => x.id);
                    table.ForeignKey(
                        name: "fk_site_domains_sites_site_id",
                        column: x => x.site_id,
                        principalTable: "sites",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "site_traffic",
                columns: table => new
                {
                    site_id = table.Column<int>(type: "integer", nullable: false),
                    day = table.Column<DateOnly>(type: "date", nullable: false),
                    requests = table.Column<long>(type: "bigint", nullable: false),
                    request_bytes = table.Column<long>(type: "bigint", nullable: false),
                    response_bytes = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_site_traffic", x => new { x.site_id, x.day });
                    table.ForeignKey(
                        name: "fk_site_traffic_sites_site_id",
                        column: x => x.site_id,
                        principalTable: "sites",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_edge_certificates_not_after",
                table: "edge_certificates",
                column: "not_after");

            migrationBuilder.CreateIndex(
                name: "ix_edge_certificates_site_id",
                table: "edge_certificates",
                column: "site_id",
                unique: true)
                .Annotation("Npgsql:NullsDistinct", false);

            migrationBuilder.CreateIndex(
                name: "ix_hosting_plans_compute_plan_id",
                table: "hosting_plans",
                column: "compute_plan_id");

            migrationBuilder.CreateIndex(
                name: "ix_hosting_plans_name",
                table: "hosting_plans",
                column: "name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_hosting_spaces_owner_id",
                table: "hosting_spaces",
                column: "owner_id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_hosting_spaces_plan_id",
                table: "hosting_spaces",
                column: "plan_id");

            migrationBuilder.CreateIndex(
                name: "ix_hosting_spaces_vps_id",
                table: "hosting_spaces",
                column: "vps_id");

            migrationBuilder.CreateIndex(
                name: "ix_site_domains_name",
                table: "site_domains",
                column: "name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_site_domains_site_id",
                table: "site_domains",
                column: "site_id");

            migrationBuilder.CreateIndex(
                name: "ix_sites_space_id_port",
                table: "sites",
                columns: new[] { "space_id", "port" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "edge_certificates");

            migrationBuilder.DropTable(
                name: "site_domains");

            migrationBuilder.DropTable(
                name: "site_traffic");

            migrationBuilder.DropTable(
                name: "sites");

            migrationBuilder.DropTable(
                name: "hosting_spaces");

            migrationBuilder.DropTable(
                name: "hosting_plans");
        }
    }
}
