using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Panel.Core.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class UsageSegments : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "usage_changes",
                columns: table => new
                {
                    vps_id = table.Column<int>(type: "integer", nullable: false),
                    changed_at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_usage_changes", x => x.vps_id);
                    table.ForeignKey(
                        name: "fk_usage_changes_vpses_vps_id",
                        column: x => x.vps_id,
                        principalTable: "vpses",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "usage_segments",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityAlwaysColumn),
                    vps_id = table.Column<int>(type: "integer", nullable: false),
                    owner_id = table.Column<Guid>(type: "uuid", nullable: false),
                    plan_id = table.Column<int>(type: "integer", nullable: false),
                    status = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false),
                    billable = table.Column<bool>(type: "boolean", nullable: false),
                    from_hour = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    to_hour = table.Column<DateTime>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_usage_segments", x => x.id);
                    table.CheckConstraint("ck_usage_segments_hours", "to_hour IS NULL OR to_hour > from_hour");
                    table.ForeignKey(
                        name: "fk_usage_segments_plans_plan_id",
                        column: x => x.plan_id,
                        principalTable: "plans",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_usage_segments_users_owner_id",
                        column: x => x.owner_id,
                        principalTable: "users",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_usage_segments_vpses_vps_id",
                        column: x => x.vps_id,
                        principalTable: "vpses",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "usage_watermark",
                columns: table => new
                {
                    id = table.Column<int>(type: "integer", nullable: false),
                    metered_until = table.Column<DateTime>(type: "timestamp with time zone", nullable: true),
                    open_segments = table.Column<int>(type: "integer", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_usage_watermark", x => x.id);
                    table.CheckConstraint("ck_usage_watermark_single", "id = 1");
                });

            migrationBuilder.CreateTable(
                name: "vps_traffic_counters",
                columns: table => new
                {
                    vps_id = table.Column<int>(type: "integer", nullable: false),
                    at = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    rx_bytes = table.Column<long>(type: "bigint", nullable: false),
                    tx_bytes = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_vps_traffic_counters", x => x.vps_id);
                    table.ForeignKey(
                        name: "fk_vps_traffic_counters_vpses_vps_id",
                        column: x => x.vps_id,
                        principalTable: "vpses",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "vps_traffic_days",
                columns: table => new
                {
                    vps_id = table.Column<int>(type: "integer", nullable: false),
                    day = table.Column<DateOnly>(type: "date", nullable: false),
                    bytes = table.Column<long>(type: "bigint", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_vps_traffic_days", x => new { x.vps_id, x.day });
                    table.CheckConstraint("ck_vps_traffic_days_bytes", "bytes >= 0");
                    table.ForeignKey(
                        name: "fk_vps_traffic_days_vpses_vps_id",
                        column: x => x.vps_id,
                        principalTable: "vpses",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateIndex(
                name: "ix_usage_segments_open",
                table: "usage_segments",
                column: "vps_id",
                unique: true,
                filter: "to_hour IS NULL");

            migrationBuilder.CreateIndex(
                name: "ix_usage_segments_owner_id_from_hour",
                table: "usage_segments",
                columns: new[] { "owner_id", "from_hour" });

            migrationBuilder.CreateIndex(
                name: "ix_usage_segments_plan_id",
                table: "usage_segments",
                column: "plan_id");

            migrationBuilder.CreateIndex(
                name: "ix_usage_segments_vps_id_from_hour",
                table: "usage_segments",
                columns: new[] { "vps_id", "from_hour" });
            // The metered hours become segments: each run of consecutive hours of a VPS in one state
            // (gaps and islands: hour - row number within the state is constant along a run).
            migrationBuilder.Sql("""
                INSERT INTO usage_segments (vps_id, owner_id, plan_id, status, billable, from_hour, to_hour)
                SELECT vps_id, owner_id, plan_id, status, billable, min(hour_start), max(hour_start) + interval '1 hour'
                FROM (
                    SELECT u.*, u.hour_start - row_number() OVER (PARTITION BY u.vps_id, u.owner_id, u.plan_id, u.status, u.billable ORDER BY u.hour_start) * interval '1 hour' AS island
                    FROM usage_hours u
                ) x
                GROUP BY vps_id, owner_id, plan_id, status, billable, island;

                -- Metered until the hour after the last one recorded (null: never metered).
                INSERT INTO usage_watermark (id, metered_until, open_segments) SELECT 1, max(hour_start) + interval '1 hour', 0 FROM usage_hours;

                -- A VPS's segment that reaches the watermark stays open while the VPS still has hours to meter
                -- (not deleted, or deleted within an hour that has not ended).
                UPDATE usage_segments s SET to_hour = NULL
                FROM vpses v, usage_watermark w
                WHERE v.id = s.vps_id AND s.to_hour = w.metered_until
                  AND (v.deleted_at IS NULL OR date_trunc('hour', v.deleted_at - interval '1 microsecond', 'UTC') + interval '1 hour' > w.metered_until);
                UPDATE usage_watermark SET open_segments = (SELECT count(*) FROM usage_segments WHERE to_hour IS NULL);

                -- Traffic recorded on hours, per UTC day.
                INSERT INTO vps_traffic_days (vps_id, day, bytes)
                SELECT vps_id, (hour_start AT TIME ZONE 'UTC')::date, sum(bandwidth_bytes)
                FROM usage_hours WHERE bandwidth_bytes > 0 GROUP BY 1, 2;

                -- The counters' delta starts from each VPS's last sample, so traffic before this version is not counted.
                INSERT INTO vps_traffic_counters (vps_id, at, rx_bytes, tx_bytes)
                SELECT DISTINCT ON (vps_id) vps_id, at, rx_bytes, tx_bytes FROM vps_metrics ORDER BY vps_id, at DESC;
                """);

            // Every new VPS and every change of what the meter reads marks the VPS for the next metering run.
            // DO UPDATE (not DO NOTHING): it waits for a run that holds the row, so a change made while a run
            // works on the VPS is marked again after it.
            migrationBuilder.Sql("""
                CREATE FUNCTION usage_vps_changed() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    INSERT INTO usage_changes (vps_id, changed_at) VALUES (NEW.id, now())
                    ON CONFLICT (vps_id) DO UPDATE SET changed_at = excluded.changed_at;
                    RETURN NULL;
                END $$;
                CREATE TRIGGER vpses_usage_inserted AFTER INSERT ON vpses
                    FOR EACH ROW EXECUTE FUNCTION usage_vps_changed();
                CREATE TRIGGER vpses_usage_changed AFTER UPDATE ON vpses
                    FOR EACH ROW WHEN (OLD.owner_id IS DISTINCT FROM NEW.owner_id OR OLD.plan_id IS DISTINCT FROM NEW.plan_id
                        OR OLD.status IS DISTINCT FROM NEW.status OR (OLD.node_id IS NULL) IS DISTINCT FROM (NEW.node_id IS NULL)
                        OR OLD.created_at IS DISTINCT FROM NEW.created_at OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
                    EXECUTE FUNCTION usage_vps_changed();

                -- The first run after this migration looks at every VPS once.
                INSERT INTO usage_changes (vps_id, changed_at) SELECT id, now() FROM vpses;
                """);

            migrationBuilder.DropTable(
                name: "usage_hours");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER IF EXISTS vpses_usage_inserted ON vpses;
                DROP TRIGGER IF EXISTS vpses_usage_changed ON vpses;
                DROP FUNCTION IF EXISTS usage_vps_changed();
                """);

            migrationBuilder.CreateTable(
                name: "usage_hours",
                columns: table => new
                {
                    vps_id = table.Column<int>(type: "integer", nullable: false),
                    hour_start = table.Column<DateTime>(type: "timestamp with time zone", nullable: false),
                    bandwidth_bytes = table.Column<long>(type: "bigint", nullable: true),
                    billable = table.Column<bool>(type: "boolean", nullable: false),
                    owner_id = table.Column<Guid>(type: "uuid", nullable: false),
                    plan_id = table.Column<int>(type: "integer", nullable: false),
                    status = table.Column<string>(type: "character varying(20)", maxLength: 20, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_usage_hours", x => new { x.vps_id, x.hour_start });
                    table.ForeignKey(
                        name: "fk_usage_hours_plans_plan_id",
                        column: x => x.plan_id,
                        principalTable: "plans",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_usage_hours_users_owner_id",
                        column: x => x.owner_id,
                        principalTable: "users",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "fk_usage_hours_vpses_vps_id",
                        column: x => x.vps_id,
                        principalTable: "vpses",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateIndex(
                name: "ix_usage_hours_owner_id_hour_start",
                table: "usage_hours",
                columns: new[] { "owner_id", "hour_start" });

            migrationBuilder.CreateIndex(
                name: "ix_usage_hours_plan_id",
                table: "usage_hours",
                column: "plan_id");

            // Segments back to one row per hour up to the watermark; a day's traffic goes on its 00:00 hour where the VPS has one.
            migrationBuilder.Sql("""
                INSERT INTO usage_hours (vps_id, hour_start, owner_id, plan_id, status, billable)
                SELECT s.vps_id, h, s.owner_id, s.plan_id, s.status, s.billable
                FROM usage_segments s CROSS JOIN usage_watermark w
                CROSS JOIN LATERAL generate_series(s.from_hour, COALESCE(s.to_hour, w.metered_until) - interval '1 hour', interval '1 hour') AS h;
                UPDATE usage_hours u SET bandwidth_bytes = t.bytes
                FROM vps_traffic_days t WHERE u.vps_id = t.vps_id AND u.hour_start = t.day::timestamp AT TIME ZONE 'UTC';
                """);

            migrationBuilder.DropTable(
                name: "usage_changes");

            migrationBuilder.DropTable(
                name: "usage_segments");

            migrationBuilder.DropTable(
                name: "usage_watermark");

            migrationBuilder.DropTable(
                name: "vps_traffic_counters");

            migrationBuilder.DropTable(
                name: "vps_traffic_days");
        }
    }
}
