using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Panel.Core.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class Nodes : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "nodes",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    name = table.Column<string>(type: "character varying(40)", maxLength: 40, nullable: false),
                    hostname = table.Column<string>(type: "character varying(253)", maxLength: 253, nullable: false),
                    cpu_count = table.Column<int>(type: "integer", nullable: false),
                    memory_bytes = table.Column<long>(type: "bigint", nullable: false),
                    disk_bytes = table.Column<long>(type: "bigint", nullable: false),
                    cpu_overcommit = table.Column<decimal>(type: "numeric(6,2)", precision: 6, scale: 2, nullable: false),
                    memory_overcommit = table.Column<decimal>(type: "numeric(6,2)", precision: 6, scale: 2, nullable: false),
                    disk_overcommit = table.Column<decimal>(type: "numeric(6,2)", precision: 6, scale: 2, nullable: false),
                    maintenance = table.Column<bool>(type: "boolean", nullable: false),
                    last_heartbeat_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    registered_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    kernel = table.Column<string>(type: "character varying(100)", maxLength: 100, nullable: false),
                    drivers = table.Column<string>(type: "jsonb", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_nodes", x => x.id);
                });

            migrationBuilder.CreateIndex(
                name: "ix_nodes_name",
                table: "nodes",
                column: "name",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "nodes");
        }
    }
}
