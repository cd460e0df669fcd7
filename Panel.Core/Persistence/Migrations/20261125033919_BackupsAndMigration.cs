using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Panel.Core.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class BackupsAndMigration : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<int>(
                name: "migration_target_node_id",
                table: "vpses",
                type: "integer",
                nullable: true);

            migrationBuilder.CreateTable(
                name: "vps_backups",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    vps_id = table.Column<int>(type: "integer", nullable: false),
                    archive = table.Column<string>(type: "character varying(1000)", maxLength: 1000, nullable: false),
                    size_bytes = table.Column<long>(type: "bigint", nullable: false),
                    consistency = table.Column<string>(type: "character varying(200)", maxLength: 200, nullable: false),
                    operation_id = table.Column<long>(type: "bigint", nullable: false),
                    created_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_vps_backups", x => x.id);
                    table.ForeignKey(
                        name: "fk_vps_backups_vpses_vps_id",
                        column: x => x.vps_id,
                        principalTable: "vpses",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_vpses_migration_target_node_id",
                table: "vpses",
                column: "migration_target_node_id");

            migrationBuilder.CreateIndex(
                name: "ix_vps_backups_operation_id",
                table: "vps_backups",
                column: "operation_id",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_vps_backups_vps_id_created_at",
                table: "vps_backups",
                columns: new[] { "vps_id", "created_at" });

            migrationBuilder.AddForeignKey(
                name: "fk_vpses_nodes_migration_target_node_id",
                table: "vpses",
                column: "migration_target_node_id",
                principalTable: "nodes",
                principalColumn: "id",
                onDelete: ReferentialAction.Restrict);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropForeignKey(
                name: "fk_vpses_nodes_migration_target_node_id",
                table: "vpses");

            migrationBuilder.DropTable(
                name: "vps_backups");

            migrationBuilder.DropIndex(
                name: "ix_vpses_migration_target_node_id",
                table: "vpses");

            migrationBuilder.DropColumn(
                name: "migration_target_node_id",
                table: "vpses");
        }
    }
}
