using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Panel.Core.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class PlanThrottle : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<DateTime>(
                name: "throttled_until",
                table: "vpses",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "throttle_mbit",
                table: "plans",
                type: "integer",
                nullable: true);

            migrationBuilder.AddCheckConstraint(
                name: "ck_plans_throttle",
                table: "plans",
                sql: "throttle_mbit IS NULL OR (throttle_mbit BETWEEN 1 AND 100000 AND monthly_bandwidth_bytes IS NOT NULL AND price_per_extra_gb IS NULL)");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropCheckConstraint(
                name: "ck_plans_throttle",
                table: "plans");

            migrationBuilder.DropColumn(
                name: "throttled_until",
                table: "vpses");

            migrationBuilder.DropColumn(
                name: "throttle_mbit",
                table: "plans");
        }
    }
}
