using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Panel.Core.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class HostingPlanPrices : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            // Hosting plans made before hosting was billed: their containers' compute plans get the price
            // (the monthly price as the cap, the hourly price reaching it after 672 hours).
            migrationBuilder.Sql("""
                UPDATE plans p SET monthly_price = h.monthly_price, hourly_price = round(h.monthly_price / 672, 4)
                FROM hosting_plans h
                WHERE h.compute_plan_id = p.id AND p.monthly_price = 0 AND p.hourly_price = 0
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {

        }
    }
}
