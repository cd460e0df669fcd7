using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Panel.Core.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class HostingHourlyTraffic : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Daily rows become the first hour of their day (the counts are kept; the graph shows them at 00:00).
            migrationBuilder.AddColumn<DateTime>(
                name: "hour_start",
                table: "site_traffic",
                type: "timestamp with time zone",
                nullable: true);

            migrationBuilder.Sql("UPDATE site_traffic SET hour_start = day::timestamp AT TIME ZONE 'UTC'");

            migrationBuilder.AlterColumn<DateTime>(
                name: "hour_start",
                table: "site_traffic",
                type: "timestamp with time zone",
                nullable: false,
                oldClrType: typeof(DateTime),
                oldType: "timestamp with time zone",
                oldNullable: true);

            migrationBuilder.DropPrimaryKey(
                name: "pk_site_traffic",
                table: "site_traffic");

            migrationBuilder.DropColumn(
                name: "day",
                table: "site_traffic");

            migrationBuilder.AddPrimaryKey(
                name: "pk_site_traffic",
                table: "site_traffic",
                columns: new[] { "site_id", "hour_start" });
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            // Hours add up to their day again.
            migrationBuilder.Sql("""
                CREATE TEMP TABLE site_traffic_days ON COMMIT DROP AS
                    SELECT site_id, (hour_start AT TIME ZONE 'UTC')::date AS day, sum(requests) AS requests,
                           sum(request_bytes) AS request_bytes, sum(response_bytes) AS response_bytes
                    FROM site_traffic GROUP BY 1, 2;
                DELETE FROM site_traffic;
                """);

            migrationBuilder.DropPrimaryKey(
                name: "pk_site_traffic",
                table: "site_traffic");

            migrationBuilder.DropColumn(
                name: "hour_start",
                table: "site_traffic");

            migrationBuilder.AddColumn<DateOnly>(
                name: "day",
                table: "site_traffic",
                type: "date",
                nullable: false,
                defaultValue: new DateOnly(1, 1, 1));

            migrationBuilder.Sql("INSERT INTO site_traffic (site_id, day, requests, request_bytes, response_bytes) SELECT site_id, day, requests, request_bytes, response_bytes FROM site_traffic_days");

            migrationBuilder.AddPrimaryKey(
                name: "pk_site_traffic",
                table: "site_traffic",
                columns: new[] { "site_id", "day" });
        }
    }
}
