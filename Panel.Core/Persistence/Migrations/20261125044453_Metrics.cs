using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Panel.Core.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class Metrics : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "vps_metric_hours",
                columns: table => new
                {
                    vps_id = table.Column<int>(type: "integer", nullable: false),
                    hour = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    cpu_percent = table.Column<double>(type: "double precision", nullable: false),
                    memory_bytes = table.Column<long>(type: "bigint", nullable: false),
                    disk_used_bytes = table.Column<long>(type: "bigint", nullable: false),
                    rx_bytes_per_second = table.Column<double>(type: "double precision", nullable: false),
                    tx_bytes_per_second = table.Column<double>(type: "double precision", nullable: false),
                    samples = table.Column<int>(type: "integer", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_vps_metric_hours", x => new { x.vps_id, x.hour });
                    table.ForeignKey(
                        name: "fk_vps_metric_hours_vpses_vps_id",
                        column: x => x.vps_id,
                        principalTable: "vpses",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "vps_metrics",
                columns: table => new
                {
                    vps_id = table.Column<int>(type: "integer", nullable: false),
                    at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    cpu_time_ms = table.Column<long>(type: "bigint", nullable: false),
                    rx_bytes = table.Column<long>(type: "bigint", nullable: false),
                    tx_bytes = table.Column<long>(type: "bigint", nullable: false),
                    cpu_percent = table.Column<double>(type: "double precision", nullable: false),
                    memory_bytes = table.Column<long>(type: "bigint", nullable: false),
                    disk_used_bytes = table.Column<long>(type: "bigint", nullable: false),
                    rx_bytes_per_second = table.Column<double>(type: "double precision", nullable: false),
                    tx_bytes_per_second = table.Column<double>(type: "double precision", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_vps_metrics", x => new { x.vps_id, x.at });
                    table.ForeignKey(
                        name: "fk_vps_metrics_vpses_vps_id",
                        column: x => x.vps_id,
                        principalTable: "vpses",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_vps_metric_hours_hour",
                table: "vps_metric_hours",
                column: "hour");

            migrationBuilder.CreateIndex(
                name: "ix_vps_metrics_at",
                table: "vps_metrics",
                column: "at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "vps_metric_hours");

            migrationBuilder.DropTable(
                name: "vps_metrics");
        }
    }
}
