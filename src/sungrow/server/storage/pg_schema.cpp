// PgStore's schema: the versioned migrations, applied under an advisory lock, and the spans
// backfill that follows the migration creating them.
#include <fmt/format.h>

#include <array>

#include "sungrow/server/storage/pg_store_impl.hpp"

namespace sungrow::storage {

namespace {

// ---- schema ----

struct Migration {
  std::int64_t version;
  std::string_view description;
  std::string_view sql;
  // Then (re)compute every hour and day span from the stored base buckets.
  bool rebuilds_spans = false;
};

// Append only: a released migration is never edited, a change is a new version.
// - One real column per field, so SQL users query samples directly; float8 keeps every double.
// - COLLATE "C": device ids compare as bytes (like SQLite and std::string), and faster.
// - PRIMARY KEY (device_id, ts) is the dedup key and the index every range scan and latest() use;
//   a year of 5-s data (6.3 M rows per device) stays a few index pages deep.
// - base_buckets: one row per device and 5-minute bucket, the bucket as deterministic JSON text
//   (base_bucket_json; the json type keeps the text verbatim). fillfactor leaves room for the
//   in-place (HOT) updates every batch makes.
constexpr std::string_view kCreateTables = R"sql(
CREATE TABLE samples (
  device_id text COLLATE "C" NOT NULL CHECK (length(device_id) BETWEEN 1 AND 64),
  ts timestamptz NOT NULL,
  seq bigint NOT NULL,
  pv_power_w float8,
  mppt1_voltage_v float8,
  mppt1_current_a float8,
  mppt2_voltage_v float8,
  mppt2_current_a float8,
  load_power_w float8,
  grid_power_w float8,
  battery_power_w float8,
  grid_voltage_v float8,
  grid_frequency_hz float8,
  inverter_temperature_c float8,
  battery_soc_pct float8,
  battery_soh_pct float8,
  battery_voltage_v float8,
  battery_current_a float8,
  battery_temperature_c float8,
  pv_energy_today_kwh float8,
  pv_energy_total_kwh float8,
  grid_import_today_kwh float8,
  grid_import_total_kwh float8,
  grid_export_today_kwh float8,
  grid_export_total_kwh float8,
  battery_charge_today_kwh float8,
  battery_charge_total_kwh float8,
  battery_discharge_today_kwh float8,
  battery_discharge_total_kwh float8,
  load_energy_today_kwh float8,
  grid_power_source text CHECK (grid_power_source IN ('meter', 'inverter', 'estimate')),
  running_state integer CHECK (running_state BETWEEN 0 AND 65535),
  power_flow smallint CHECK (power_flow BETWEEN 0 AND 63),
  PRIMARY KEY (device_id, ts)
);
CREATE TABLE base_buckets (
  device_id text COLLATE "C" NOT NULL,
  bucket_start timestamptz NOT NULL CHECK (extract(epoch FROM bucket_start) % 300 = 0),
  data json NOT NULL,
  PRIMARY KEY (device_id, bucket_start)
) WITH (fillfactor = 70);
)sql";

// TimescaleDB when the server offers it (and preloads it): samples becomes a hypertable of
// weekly chunks, compressed after 30 days, segmented by device so a device's range stays one
// scan. Late samples into compressed chunks need TimescaleDB ≥ 2.11 (ON CONFLICT on compressed
// chunks). Retention stays off (no data loss is the product); an operator who wants it runs
//   SELECT add_retention_policy('samples', INTERVAL '5 years');
// Without the extension this is a no-op and the plain table above is used.
constexpr std::string_view kTimescale = R"sql(
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')
     AND current_setting('shared_preload_libraries') LIKE '%timescaledb%' THEN
    CREATE EXTENSION IF NOT EXISTS timescaledb;
    PERFORM create_hypertable('samples', 'ts', chunk_time_interval => INTERVAL '7 days',
                              migrate_data => true, if_not_exists => true);
    ALTER TABLE samples SET (timescaledb.compress,
                             timescaledb.compress_segmentby = 'device_id',
                             timescaledb.compress_orderby = 'ts');
    PERFORM add_compression_policy('samples', INTERVAL '30 days', if_not_exists => true);
  END IF;
END
$$;
)sql";

// Precomputed spans (rollup/span.hpp) as fixed-layout binary records (span_codec); migrate()
// fills them from the existing base buckets right after this version is applied.
constexpr std::string_view kCreateSpans = R"sql(
CREATE TABLE hour_spans (
  device_id text COLLATE "C" NOT NULL,
  span_start timestamptz NOT NULL CHECK (extract(epoch FROM span_start) % 3600 = 0),
  data bytea NOT NULL,
  PRIMARY KEY (device_id, span_start)
) WITH (fillfactor = 70);
CREATE TABLE day_spans (
  device_id text COLLATE "C" NOT NULL,
  span_start timestamptz NOT NULL CHECK (extract(epoch FROM span_start) % 86400 = 0),
  data bytea NOT NULL,
  PRIMARY KEY (device_id, span_start)
) WITH (fillfactor = 70);
)sql";

// Register 13001 kept whole: bit 7 (negative load power) joins power_flow, and the raw word gets a
// column of its own.
constexpr std::string_view kPowerFlowRaw = R"sql(
ALTER TABLE samples DROP CONSTRAINT IF EXISTS samples_power_flow_check;
ALTER TABLE samples ADD CONSTRAINT samples_power_flow_check CHECK (power_flow BETWEEN 0 AND 255);
ALTER TABLE samples ADD COLUMN power_flow_raw integer
  CHECK (power_flow_raw BETWEEN 0 AND 65535);
)sql";

// Dashboard sessions (session_store.hpp): digests only.
constexpr std::string_view kCreateSessions = R"sql(
CREATE TABLE sessions (
  id_digest text PRIMARY KEY CHECK (length(id_digest) = 64),
  viewer_digest text NOT NULL,
  created timestamptz NOT NULL,
  expires timestamptz NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires);
)sql";

// Where each sample's ts came from (the edge's clock, synchronized or not, the inverter's clock, or
// a bump by the spool) and what was added to the edge clock's reading.
constexpr std::string_view kTsSource = R"sql(
ALTER TABLE samples ADD COLUMN ts_source text
  CHECK (ts_source IN ('ntp', 'inverter', 'unsynced', 'bumped'));
ALTER TABLE samples ADD COLUMN ts_adjust_ms bigint;
)sql";

// The battery's capacity, for capacity-weighted site SoC.
constexpr std::string_view kBatteryCapacity = R"sql(
ALTER TABLE samples ADD COLUMN battery_capacity_kwh float8;
)sql";

constexpr std::array kMigrations{
    Migration{1, "samples and base_buckets", kCreateTables},
    Migration{2, "samples as a TimescaleDB hypertable when available", kTimescale},
    Migration{3, "hour_spans and day_spans, filled from base_buckets", kCreateSpans, true},
    Migration{4, "power_flow_raw, and bit 7 in power_flow", kPowerFlowRaw},
    Migration{5, "spans rebuilt with glitch-tolerant counter chains",
              "DELETE FROM hour_spans; DELETE FROM day_spans;", true},
    Migration{6, "dashboard sessions, as digests", kCreateSessions},
    Migration{7, "ts_source and ts_adjust_ms", kTsSource},
    Migration{8, "battery_capacity_kwh", kBatteryCapacity},
};

}  // namespace

StoreResult<std::int64_t> PgStore::Impl::max_version(PgConnection& conn) {
  auto exists = conn.exec("read schema", "SELECT to_regclass('schema_migrations') IS NOT NULL");
  if (!exists) return exists.error();
  if (cell(exists.value().get(), 0, 0) != "t") return std::int64_t{0};
  auto max =
      conn.exec("read schema version", "SELECT COALESCE(max(version), 0) FROM schema_migrations");
  if (!max) return max.error();
  auto v = int_cell(max.value().get(), 0, 0);
  if (!v) return StoreError{StoreErrorKind::internal, "postgres: bad schema version"};
  return *v;
}

// The spans migration's data step: the spans over every stored base bucket, a chunk of hours at
// a time.
StoreResult<void> PgStore::Impl::backfill_spans(PgConnection& conn) {
  auto r = conn.exec("read base bucket keys",
                     "SELECT DISTINCT device_id, "
                     "(extract(epoch FROM date_trunc('hour', bucket_start AT TIME ZONE 'UTC')"
                     " AT TIME ZONE 'UTC') * 1000)::int8 FROM base_buckets ORDER BY 1, 2");
  if (!r) return r.error();
  const PGresult* result = r.value().get();
  std::set<BucketKey> chunk;
  for (int row = 0; row < PQntuples(result); ++row) {
    const auto ms = int_cell(result, row, 1);
    if (!ms) return StoreError{StoreErrorKind::internal, "postgres: bad bucket start"};
    chunk.emplace(std::string(cell(result, row, 0)), *ms);
    if (chunk.size() >= 2000 || row + 1 == PQntuples(result)) {
      const auto touched = touched_by(chunk);
      std::map<BucketKey, rollup::BaseBucket> base;
      std::map<BucketKey, rollup::Span> hour_spans;
      if (auto read = read_touched(conn, touched, base, hour_spans); !read) return read.error();
      if (auto written = write_touched(conn, touched, base, std::move(hour_spans), {}); !written) {
        return written.error();
      }
      chunk.clear();
    }
  }
  return {};
}

StoreResult<void> PgStore::migrate() {
  return impl_->run([&](PgConnection& conn) -> StoreResult<void> {
    auto tx = Transaction::begin(conn);
    if (!tx) return tx.error();
    // A migration may rewrite a big table, and a second instance waits for the first one's
    // lock: neither is a runaway query, so the per-statement limit is lifted for this
    // transaction only.
    if (auto unlimited = conn.exec("migration timeout", "SET LOCAL statement_timeout = 0");
        !unlimited) {
      return unlimited.error();
    }
    // Held until commit: a second server migrating at once waits here, then finds everything
    // recorded (READ COMMITTED: its next statement sees our commit).
    const auto lock_sql = fmt::format("SELECT pg_advisory_xact_lock({})", kMigrationLock);
    if (auto locked = conn.exec("migration lock", lock_sql.c_str()); !locked) {
      return locked.error();
    }
    if (auto made = conn.exec("create schema_migrations",
                              "CREATE TABLE IF NOT EXISTS schema_migrations ("
                              "version bigint PRIMARY KEY, "
                              "applied_at timestamptz NOT NULL DEFAULT now(), "
                              "description text NOT NULL)");
        !made) {
      return made.error();
    }
    auto applied = impl_->max_version(conn);
    if (!applied) return applied.error();
    for (const auto& m : kMigrations) {
      if (m.version <= applied.value()) continue;
      const std::string sql(m.sql);
      if (auto ran = conn.exec(fmt::format("migration {}", m.version), sql.c_str()); !ran) {
        return ran.error();
      }
      PgParams record;
      record.add(std::to_string(m.version));
      record.add(std::string(m.description));
      if (auto row = conn.exec_params(
              "record migration",
              "INSERT INTO schema_migrations (version, description) VALUES ($1, $2)", record);
          !row) {
        return row.error();
      }
      if (m.rebuilds_spans) {
        if (auto filled = impl_->backfill_spans(conn); !filled) return filled.error();
      }
    }
    return tx.value().commit();
  });
}

StoreResult<std::int64_t> PgStore::schema_version() {
  return impl_->run([&](PgConnection& conn) { return impl_->max_version(conn); });
}

StoreResult<bool> PgStore::uses_timescaledb() {
  return impl_->run([&](PgConnection& conn) -> StoreResult<bool> {
    auto r = conn.exec("read extensions",
                       "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')");
    if (!r) return r.error();
    return cell(r.value().get(), 0, 0) == "t";
  });
}

}  // namespace sungrow::storage
