using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Panel.Core.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class Ipv6Pools : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "guest_network6",
                table: "nodes",
                type: "character varying(50)",
                maxLength: 50,
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "family",
                table: "ip_pools",
                type: "integer",
                nullable: false,
                defaultValue: 4); // every pool so far is an IPv4 range

            migrationBuilder.AddColumn<long>(
                name: "next_host",
                table: "ip_pools",
                type: "bigint",
                nullable: false,
                defaultValue: 0L);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "guest_network6",
                table: "nodes");

            migrationBuilder.DropColumn(
                name: "family",
                table: "ip_pools");

            migrationBuilder.DropColumn(
                name: "next_host",
                table: "ip_pools");
        }
    }
}
