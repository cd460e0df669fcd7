using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Panel.Core.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class SiteAcme : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "certificate_problem",
                table: "sites",
                type: "character varying(1000)",
                maxLength: 1000,
                nullable: true);

            migrationBuilder.AddColumn<DateTime>(
                name: "certificate_problem_at",
                table: "sites",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "certificate_source",
                table: "sites",
                type: "character varying(20)",
                maxLength: 20,
                nullable: false,
                defaultValue: "PanelCa");

            migrationBuilder.AddColumn<string>(
                name: "issuer",
                table: "edge_certificates",
                type: "character varying(500)",
                maxLength: 500,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<string>(
                name: "source",
                table: "edge_certificates",
                type: "character varying(20)",
                maxLength: 20,
                nullable: false,
                defaultValue: "PanelCa");

            migrationBuilder.CreateTable(
                name: "acme_accounts",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    directory_url = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: false),
                    key_pem = table.Column<string>(type: "text", nullable: false),
                    account_url = table.Column<string>(type: "character varying(500)", maxLength: 500, nullable: true),
                    contact = table.Column<string>(type: "character varying(320)", maxLength: 320, nullable: true),
                    created_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_acme_accounts", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "acme_challenges",
                columns: table => new
                {
                    token = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    site_id = table.Column<int>(type: "integer", nullable: false),
                    name = table.Column<string>(type: "character varying(253)", maxLength: 253, nullable: false),
                    key_authorization = table.Column<string>(type: "character varying(300)", maxLength: 300, nullable: false),
                    created_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_acme_challenges", x => x.token);
                    table.ForeignKey(
                        name: "fk_acme_challenges_sites_site_id",
                        column: x => x.site_id,
                        principalTable: "sites",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_acme_accounts_directory_url",
                table: "acme_accounts",
                column: "directory_url",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_acme_challenges_site_id",
                table: "acme_challenges",
                column: "site_id");

            // Every certificate so far is the panel CA's (or the CA itself, self-signed): its subject is the issuer.
            migrationBuilder.Sql("UPDATE edge_certificates c SET issuer = ca.names FROM edge_certificates ca WHERE ca.site_id IS NULL;");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "acme_accounts");

            migrationBuilder.DropTable(
                name: "acme_challenges");

            migrationBuilder.DropColumn(
                name: "certificate_problem",
                table: "sites");

            migrationBuilder.DropColumn(
                name: "certificate_problem_at",
                table: "sites");

            migrationBuilder.DropColumn(
                name: "certificate_source",
                table: "sites");

            migrationBuilder.DropColumn(
                name: "issuer",
                table: "edge_certificates");

            migrationBuilder.DropColumn(
                name: "source",
                table: "edge_certificates");
        }
    }
}
