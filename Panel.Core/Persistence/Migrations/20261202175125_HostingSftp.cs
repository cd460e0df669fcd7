using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Panel.Core.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class HostingSftp : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "command",
                table: "sites",
                type: "character varying(500)",
                maxLength: 500,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "sftp_password_hash",
                table: "hosting_spaces",
                type: "character varying(200)",
                maxLength: 200,
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "sftp_port",
                table: "hosting_spaces",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            // Spaces made before get gateway ports from the default first port (2201), in order of creation.
            migrationBuilder.Sql("UPDATE hosting_spaces s SET sftp_port = 2200 + n.rn FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM hosting_spaces) n WHERE n.id = s.id;");

            migrationBuilder.CreateIndex(
                name: "ix_hosting_spaces_sftp_port",
                table: "hosting_spaces",
                column: "sftp_port",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_hosting_spaces_sftp_port",
                table: "hosting_spaces");

            migrationBuilder.DropColumn(
                name: "command",
                table: "sites");

            migrationBuilder.DropColumn(
                name: "sftp_password_hash",
                table: "hosting_spaces");

            migrationBuilder.DropColumn(
                name: "sftp_port",
                table: "hosting_spaces");
        }
    }
}
