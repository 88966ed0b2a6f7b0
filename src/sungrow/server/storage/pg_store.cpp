// PgStore: versioned migrations under an advisory lock, batch insert with incremental base
// buckets (merged in C++ by rollup::merge, the same code as SQLite), range reads.
#include "sungrow/server/storage/pg_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "sungrow/server/storage/base_bucket_json.hpp"
#include "sungrow/server/storage/pg_connection.hpp"
#include "sungrow/server/storage/pg_pool.hpp"
#include "sungrow/server/storage/pg_sample_codec.hpp"
#include "sungrow/server/storage/span_codec.hpp"
#include "sungrow/server/storage/span_upkeep.hpp"

namespace sungrow::storage {

namespace {

// ---- schema ----

struct Migration {
  std::int64_t version;
  std::string_view description;
  std::string_view sql;
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

constexpr std::array kMigrations{
    Migration{1, "samples and base_buckets", kCreateTables},
    Migration{2, "samples as a TimescaleDB hypertable when available", kTimescale},
    Migration{3, "hour_spans and day_spans, filled from base_buckets", kCreateSpans},
};
constexpr std::int64_t kSpansMigration = 3;

// Advisory lock keys. Migrations use the one-bigint key space, per-device ingest locks the
// two-int4 space (a separate space in PostgreSQL), so they never collide.
constexpr std::int64_t kMigrationLock = 0x53'47'52'57'4d'49'47'52;  // "SGRWMIGR"
constexpr std::int32_t kDeviceLockClass = 0x53475257;               // "SGRW"

// ---- statements (prepared per connection at first use) ----

const PgStatement& lock_devices() {
  // The subquery's ORDER BY fixes the order locks are taken in: no two batches deadlock.
  static const PgStatement s{"sungrow_lock_devices",
                             "SELECT pg_advisory_xact_lock($2::int4, k) FROM "
                             "(SELECT k FROM unnest($1::int4[]) AS k ORDER BY k) AS sorted"};
  return s;
}

const std::string& returning_key() {
  static const std::string s = " RETURNING device_id, (extract(epoch FROM ts) * 1000)::int8";
  return s;
}

const PgStatement& insert_unnest() {
  static const std::string sql = fmt::format(
      "INSERT INTO samples ({}) SELECT * FROM unnest({}) "
      "ON CONFLICT (device_id, ts) DO NOTHING{}",
      pg_sample_columns(), pg_sample_unnest_args(), returning_key());
  static const PgStatement s{"sungrow_insert_unnest", sql.c_str()};
  return s;
}

const std::string& copy_to_staging() {
  static const std::string sql =
      fmt::format("COPY samples_staging ({}) FROM STDIN", pg_sample_columns());
  return sql;
}

const PgStatement& insert_from_staging() {
  static const std::string sql = fmt::format(
      "INSERT INTO samples ({0}) SELECT {0} FROM samples_staging "
      "ON CONFLICT (device_id, ts) DO NOTHING{1}",
      pg_sample_columns(), returning_key());
  static const PgStatement s{"sungrow_insert_staging", sql.c_str()};
  return s;
}

const PgStatement& select_latest() {
  static const std::string sql = fmt::format(
      "SELECT {} FROM samples WHERE device_id = $1 AND ts <= $2 ORDER BY ts DESC "
      "LIMIT {}",
      pg_sample_select_list(), SampleStore::kLatestCandidates);
  static const PgStatement s{"sungrow_latest", sql.c_str()};
  return s;
}

const PgStatement& select_bucket_range() {
  // One statement, so the preceding bucket and the range come from one snapshot. No ORDER BY
  // over the union: sorting ~1 KB rows spills to disk for a month of buckets; each part comes out
  // of the primary key in order and the caller checks the order (and sorts if it ever differs).
  static const PgStatement s{
      "sungrow_bucket_range",
      "(SELECT data FROM base_buckets WHERE device_id = $1 AND bucket_start < $2"
      " ORDER BY bucket_start DESC LIMIT 1)"
      " UNION ALL"
      " (SELECT data FROM base_buckets WHERE device_id = $1"
      " AND bucket_start >= $2 AND bucket_start < $3 ORDER BY bucket_start)"};
  return s;
}

// Ingest's one read: every stored base bucket of the touched hours ($1, $2) and every stored hour
// span of the touched days ($3, $4).
const PgStatement& select_touched() {
  static const PgStatement s{
      "sungrow_select_touched",
      "SELECT 0, b.device_id, (extract(epoch FROM b.bucket_start) * 1000)::int8, b.data::text, "
      "NULL::bytea FROM unnest($1::text[], $2::timestamptz[]) AS k(d, s) JOIN base_buckets AS b "
      "ON b.device_id = k.d AND b.bucket_start >= k.s AND b.bucket_start < k.s + interval '1 hour'"
      " UNION ALL "
      "SELECT 1, h.device_id, (extract(epoch FROM h.span_start) * 1000)::int8, NULL::text, h.data "
      "FROM unnest($3::text[], $4::timestamptz[]) AS k(d, s) JOIN hour_spans AS h "
      "ON h.device_id = k.d AND h.span_start >= k.s AND h.span_start < k.s + interval '1 day'"};
  return s;
}

// Ingest's one write: the merged base buckets, the recomputed hour and day spans.
const PgStatement& upsert_touched() {
  static const PgStatement s{
      "sungrow_upsert_touched",
      "WITH b AS (INSERT INTO base_buckets (device_id, bucket_start, data) "
      "SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::json[]) "
      "ON CONFLICT (device_id, bucket_start) DO UPDATE SET data = excluded.data), "
      "h AS (INSERT INTO hour_spans (device_id, span_start, data) "
      "SELECT * FROM unnest($4::text[], $5::timestamptz[], $6::bytea[]) "
      "ON CONFLICT (device_id, span_start) DO UPDATE SET data = excluded.data) "
      "INSERT INTO day_spans (device_id, span_start, data) "
      "SELECT * FROM unnest($7::text[], $8::timestamptz[], $9::bytea[]) "
      "ON CONFLICT (device_id, span_start) DO UPDATE SET data = excluded.data"};
  return s;
}

const PgStatement& select_series_pieces() {
  // One statement, one snapshot: the preceding base bucket, then each level's intervals. Level 0
  // rows carry the bucket JSON, the others the span bytes; the caller sorts by start.
  static const PgStatement s{
      "sungrow_series_pieces",
      "(SELECT 0, (extract(epoch FROM bucket_start) * 1000)::int8, data::text, NULL::bytea "
      " FROM base_buckets WHERE device_id = $1 AND bucket_start < $2"
      " ORDER BY bucket_start DESC LIMIT 1)"
      " UNION ALL"
      " (SELECT 0, (extract(epoch FROM b.bucket_start) * 1000)::int8, b.data::text, NULL::bytea"
      " FROM unnest($3::timestamptz[], $4::timestamptz[]) AS k(f, t) JOIN base_buckets AS b"
      " ON b.device_id = $1 AND b.bucket_start >= k.f AND b.bucket_start < k.t)"
      " UNION ALL"
      " (SELECT 1, (extract(epoch FROM h.span_start) * 1000)::int8, NULL::text, h.data"
      " FROM unnest($5::timestamptz[], $6::timestamptz[]) AS k(f, t) JOIN hour_spans AS h"
      " ON h.device_id = $1 AND h.span_start >= k.f AND h.span_start < k.t)"
      " UNION ALL"
      " (SELECT 2, (extract(epoch FROM d.span_start) * 1000)::int8, NULL::text, d.data"
      " FROM unnest($7::timestamptz[], $8::timestamptz[]) AS k(f, t) JOIN day_spans AS d"
      " ON d.device_id = $1 AND d.span_start >= k.f AND d.span_start < k.t)"};
  return s;
}

// ---- helpers ----

// FNV-1a: a stable 32-bit lock key per device (a collision only serializes two devices).
std::int32_t device_lock_key(std::string_view device_id) {
  std::uint32_t h = 2166136261U;
  for (const char c : device_id) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619U;
  }
  return static_cast<std::int32_t>(h);
}

std::string_view cell(const PGresult* r, int row, int column) {
  return {PQgetvalue(r, row, column), static_cast<std::size_t>(PQgetlength(r, row, column))};
}

std::optional<std::int64_t> int_cell(const PGresult* r, int row, int column) {
  const auto text = cell(r, row, column);
  std::int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

// Rolls back unless committed; a failed rollback leaves the connection non-idle, so the pool
// drops it instead of reusing a connection in an unknown state.
class Transaction {
 public:
  static StoreResult<Transaction> begin(PgConnection& conn) {
    if (auto begun = conn.exec("begin", "BEGIN"); !begun) return begun.error();
    return Transaction(conn);
  }
  Transaction(Transaction&& other) noexcept : conn_(std::exchange(other.conn_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction() {
    if (conn_ != nullptr && PQstatus(conn_->raw()) == CONNECTION_OK) {
      (void)conn_->exec("rollback", "ROLLBACK");
    }
  }

  StoreResult<void> commit() {
    PgConnection* conn = std::exchange(conn_, nullptr);
    conn->note_commit_sent();
    if (auto done = conn->exec("commit", "COMMIT"); !done) return done.error();
    return {};
  }

 private:
  explicit Transaction(PgConnection& conn) : conn_(&conn) {}
  PgConnection* conn_;
};

using BucketKey = SpanKey;  // device_id, start in ms

// A text[] and a timestamptz[] literal of the keys, for unnest($1::text[], $2::timestamptz[]).
void add_key_arrays(PgParams& params, const std::set<BucketKey>& keys) {
  std::string devices = "{";
  std::string starts = "{";
  for (const auto& [device, ms] : keys) {
    if (devices.size() > 1) {
      devices += ',';
      starts += ',';
    }
    append_array_element(devices, device);
    starts += format_rfc3339(Timestamp{std::chrono::milliseconds{ms}});
  }
  params.add(devices + '}');
  params.add(starts + '}');
}

// Three array literals (text[], timestamptz[], and the encoded values) for an unnest upsert.
class UpsertArrays {
 public:
  void add(std::string_view device, Timestamp start, std::string_view value) {
    if (devices_.size() > 1) {
      devices_ += ',';
      starts_ += ',';
      values_ += ',';
    }
    append_array_element(devices_, device);
    starts_ += format_rfc3339(start);
    append_array_element(values_, value);
  }
  void add_to(PgParams& params) const {
    params.add(devices_ + '}');
    params.add(starts_ + '}');
    params.add(values_ + '}');
  }

 private:
  std::string devices_ = "{";
  std::string starts_ = "{";
  std::string values_ = "{";
};

StoreResult<rollup::Span> span_cell(const PGresult* r, int row, int column) {
  auto bytes = from_bytea_hex(cell(r, row, column));
  if (!bytes) {
    return StoreError{StoreErrorKind::internal, "postgres: stored span: " + bytes.error().message};
  }
  auto span = span_from_bytes(bytes.value());
  if (!span) {
    return StoreError{StoreErrorKind::internal, "postgres: stored span: " + span.error().message};
  }
  return std::move(span).value();
}

}  // namespace

struct PgStore::Impl {
  PgOptions options;
  PgPool pool;

  Impl(const std::string& conninfo, const PgOptions& opts)
      : options(opts),
        pool(PgConnectParams{.conninfo = conninfo,
                             .connect_timeout = opts.connect_timeout,
                             .statement_timeout = opts.statement_timeout},
             opts.pool_size, opts.pool_wait) {}

  // Runs `op` on a leased connection. When the connection turns out dead before anything was
  // committed (typically: the first call after a server restart), the server has rolled the
  // work back, so the call is repeated on another connection instead of failing; each such
  // attempt drops one dead connection, so pool_size + 1 attempts always reach a fresh one.
  template <class Op>
  auto run(Op&& op) -> decltype(op(std::declval<PgConnection&>())) {
    const auto attempts = static_cast<std::ptrdiff_t>(options.pool_size) + 1;
    for (std::ptrdiff_t attempt = 1;; ++attempt) {
      auto lease = pool.acquire();
      if (!lease) return lease.error();
      PgConnection& conn = **lease;
      conn.reset_commit_flag();
      auto result = op(conn);
      const bool lost_before_commit = PQstatus(conn.raw()) != CONNECTION_OK && !conn.commit_sent();
      if (result || attempt >= attempts || !lost_before_commit) return result;
    }
  }

  StoreResult<std::int64_t> max_version(PgConnection& conn) {
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

  // Ships the (deduplicated) rows and returns the keys the server really inserted.
  StoreResult<PgResult> insert_rows(PgConnection& conn, std::span<const Sample* const> rows) {
    const bool use_unnest =
        options.batch_path == PgBatchPath::unnest ||
        (options.batch_path == PgBatchPath::automatic && rows.size() < options.copy_threshold);
    if (use_unnest) {
      return conn.exec_prepared("insert samples", insert_unnest(), pg_sample_arrays(rows));
    }
    if (conn.mark_once("staging")) {
      // Per session; ON COMMIT DELETE ROWS empties it at every commit (and rollback drops rows).
      auto made = conn.exec("create staging table",
                            "CREATE TEMP TABLE IF NOT EXISTS samples_staging "
                            "(LIKE samples) ON COMMIT DELETE ROWS");
      if (!made) return made.error();
    }
    if (auto copied =
            conn.copy_in("copy samples", copy_to_staging().c_str(), pg_sample_copy_text(rows));
        !copied) {
      return copied.error();
    }
    return conn.exec_prepared("insert staged samples", insert_from_staging(), PgParams{});
  }

  // Reads every stored base bucket of the touched hours and every stored hour span of the touched
  // days, in one statement.
  StoreResult<void> read_touched(PgConnection& conn, const TouchedSpans& touched,
                                 std::map<BucketKey, rollup::BaseBucket>& base,
                                 std::map<BucketKey, rollup::Span>& hour_spans) {
    PgParams keys;
    add_key_arrays(keys, touched.hours);
    add_key_arrays(keys, touched.days);
    auto stored = conn.exec_prepared("read buckets and spans", select_touched(), keys);
    if (!stored) return stored.error();
    const PGresult* r = stored.value().get();
    for (int row = 0; row < PQntuples(r); ++row) {
      const auto start = int_cell(r, row, 2);
      if (!start) return StoreError{StoreErrorKind::internal, "postgres: bad stored start"};
      BucketKey key{std::string(cell(r, row, 1)), *start};
      if (cell(r, row, 0) == "0") {
        auto bucket = base_bucket_from_json(cell(r, row, 3));
        if (!bucket) {
          return StoreError{StoreErrorKind::internal,
                            "postgres: stored base bucket: " + bucket.error().message};
        }
        base.emplace(std::move(key), std::move(bucket).value());
      } else {
        auto span = span_cell(r, row, 4);
        if (!span) return span.error();
        hour_spans.emplace(std::move(key), std::move(span).value());
      }
    }
    return {};
  }

  // Writes `changed` base buckets and the spans recomputed over `base` and `hour_spans`
  // (span_upkeep), in one statement.
  StoreResult<void> write_touched(PgConnection& conn, const TouchedSpans& touched,
                                  const std::map<BucketKey, rollup::BaseBucket>& base,
                                  std::map<BucketKey, rollup::Span> hour_spans,
                                  const std::vector<BucketKey>& changed) {
    UpsertArrays base_rows;
    for (const auto& key : changed) {
      const auto& bucket = base.at(key);
      base_rows.add(key.first, bucket.start, base_bucket_to_json(bucket));
    }
    SpanPieces pieces;
    for (const auto& [key, bucket] : base) pieces.base.emplace(key, rollup::to_span(bucket));
    pieces.hours = std::move(hour_spans);
    const auto updates = recompute(touched, std::move(pieces));
    UpsertArrays hour_rows;
    UpsertArrays day_rows;
    for (const auto* level : {&updates.hours, &updates.days}) {
      for (const auto& [key, span] : *level) {
        // A key is touched only by stored base buckets, so it never ends up empty.
        if (!span) return StoreError{StoreErrorKind::internal, "postgres: a touched span is empty"};
        (level == &updates.hours ? hour_rows : day_rows)
            .add(key.first, span->start, to_bytea_hex(span_to_bytes(*span)));
      }
    }
    PgParams values;
    base_rows.add_to(values);
    hour_rows.add_to(values);
    day_rows.add_to(values);
    if (auto written = conn.exec_prepared("write buckets and spans", upsert_touched(), values);
        !written) {
      return written.error();
    }
    return {};
  }

  // Folds each delta into its stored bucket and recomputes the hour and day spans holding them,
  // in one read and one write. The caller holds the device locks, so no other writer touches
  // these rows until commit.
  StoreResult<void> merge_buckets_and_spans(PgConnection& conn,
                                            const std::map<BucketKey, rollup::BaseBucket>& deltas) {
    std::set<BucketKey> keys;
    for (const auto& [key, delta] : deltas) keys.insert(key);
    const auto touched = touched_by(keys);
    std::map<BucketKey, rollup::BaseBucket> base;  // every base bucket of the touched hours
    std::map<BucketKey, rollup::Span> hour_spans;  // every hour span of the touched days
    if (auto read = read_touched(conn, touched, base, hour_spans); !read) return read.error();
    std::vector<BucketKey> changed;
    for (const auto& [key, delta] : deltas) {
      auto [it, fresh] = base.try_emplace(key, delta);
      if (!fresh) rollup::merge(it->second, delta);
      changed.push_back(key);
    }
    return write_touched(conn, touched, base, std::move(hour_spans), changed);
  }

  StoreResult<WriteOutcome> insert(PgConnection& conn, std::span<const Sample* const> rows,
                                   std::int64_t received) {
    WriteOutcome outcome{.received = received, .inserted = 0};
    auto tx = Transaction::begin(conn);
    if (!tx) return tx.error();

    // Per-device transaction locks, taken first and in key order: concurrent batches of one
    // device run one after the other (so no bucket update is lost and they never deadlock on
    // each other's rows), different devices run in parallel.
    std::vector<std::int32_t> lock_keys;
    for (const Sample* s : rows) lock_keys.push_back(device_lock_key(s->device_id));
    std::sort(lock_keys.begin(), lock_keys.end());
    lock_keys.erase(std::unique(lock_keys.begin(), lock_keys.end()), lock_keys.end());
    PgParams lock;
    std::string keys = "{";
    for (const auto k : lock_keys) {
      if (keys.size() > 1) keys += ',';
      keys += std::to_string(k);
    }
    lock.add(keys + '}');
    lock.add(std::to_string(kDeviceLockClass));
    if (auto locked = conn.exec_prepared("lock devices", lock_devices(), lock); !locked) {
      return locked.error();
    }

    auto inserted = insert_rows(conn, rows);
    if (!inserted) return inserted.error();
    const PGresult* r = inserted.value().get();
    // The rows are sorted by key and unique, so each returned key finds its sample.
    std::map<BucketKey, rollup::BaseBucket> deltas;
    for (int row = 0; row < PQntuples(r); ++row) {
      const auto ts = int_cell(r, row, 1);
      if (!ts) return StoreError{StoreErrorKind::internal, "postgres: bad returned ts"};
      const std::string_view device = cell(r, row, 0);
      auto it = std::lower_bound(
          rows.begin(), rows.end(), std::pair{device, *ts}, [](const Sample* a, const auto& k) {
            return std::tuple(std::string_view(a->device_id), unix_millis(a->ts)) <
                   std::tuple(k.first, k.second);
          });
      if (it == rows.end() || (*it)->device_id != device || unix_millis((*it)->ts) != *ts) {
        return StoreError{StoreErrorKind::internal,
                          "postgres: the server returned a row that was not sent"};
      }
      ++outcome.inserted;
      auto bucket = rollup::from_sample(**it);
      auto [slot, fresh] =
          deltas.try_emplace({(*it)->device_id, unix_millis(bucket.start)}, bucket);
      if (!fresh) rollup::merge(slot->second, bucket);
    }
    if (!deltas.empty()) {
      if (auto merged = merge_buckets_and_spans(conn, deltas); !merged) return merged.error();
    }
    if (auto committed = tx.value().commit(); !committed) return committed.error();
    return outcome;
  }

  // The spans migration's data step: the spans over every stored base bucket, a chunk of hours at
  // a time.
  StoreResult<void> backfill_spans(PgConnection& conn) {
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
        if (auto written = write_touched(conn, touched, base, std::move(hour_spans), {});
            !written) {
          return written.error();
        }
        chunk.clear();
      }
    }
    return {};
  }
};

PgStore::PgStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgStore::~PgStore() = default;

StoreResult<std::unique_ptr<PgStore>> PgStore::open(const std::string& conninfo,
                                                    const PgOptions& options) {
  auto impl = std::make_unique<Impl>(conninfo, options);
  {
    auto lease = impl->pool.acquire();  // fails fast (connect_timeout) when the server is down
    if (!lease) return lease.error();
  }
  return std::unique_ptr<PgStore>(new PgStore(std::move(impl)));
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
      if (m.version == kSpansMigration) {
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

std::size_t PgStore::open_connections() const {
  return impl_->pool.open_connections();
}

StoreResult<WriteOutcome> PgStore::insert_batch(std::span<const Sample> samples) {
  const auto received = static_cast<std::int64_t>(samples.size());
  if (samples.empty()) return WriteOutcome{.received = 0, .inserted = 0};
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (auto field = first_non_finite_field(samples[i])) {
      return StoreError{StoreErrorKind::rejected,
                        fmt::format("sample {}: {} is not a finite number", i, *field)};
    }
  }
  // First occurrence of each (device_id, ts) only, sorted by key: the server then never sees a
  // duplicate within the batch (the first one wins, as documented), and the RETURNING keys map
  // back to exactly one sample each.
  std::vector<const Sample*> rows;
  rows.reserve(samples.size());
  for (const Sample& s : samples) rows.push_back(&s);
  std::stable_sort(rows.begin(), rows.end(), [](const Sample* a, const Sample* b) {
    return std::tie(a->device_id, a->ts) < std::tie(b->device_id, b->ts);
  });
  rows.erase(std::unique(rows.begin(), rows.end(),
                         [](const Sample* a, const Sample* b) {
                           return a->ts == b->ts && a->device_id == b->device_id;
                         }),
             rows.end());
  return impl_->run([&](PgConnection& conn) { return impl_->insert(conn, rows, received); });
}

StoreResult<std::optional<Sample>> PgStore::latest(std::string_view device_id,
                                                   Timestamp not_after) {
  return impl_->run([&](PgConnection& conn) -> StoreResult<std::optional<Sample>> {
    PgParams params;
    params.add(std::string(device_id));
    params.add(format_rfc3339(std::min(not_after, kLatestRfc3339Ts)));
    auto r = conn.exec_prepared("read latest sample", select_latest(), params);
    if (!r) return r.error();
    const PGresult* result = r.value().get();
    for (int row = 0; row < PQntuples(result); ++row) {
      auto decoded = pg_sample_from_row(result, row);
      if (!decoded) {
        skip_row(device_id, decoded.error().message);
        continue;
      }
      auto sample = servable(std::move(decoded).value());
      if (sample) return std::optional<Sample>{std::move(sample).value()};
      skip_row(device_id, sample.error().message);
    }
    return std::optional<Sample>{};
  });
}

StoreResult<std::vector<rollup::BaseBucket>> PgStore::base_buckets(std::string_view device_id,
                                                                   Timestamp from, Timestamp to) {
  return impl_->run([&](PgConnection& conn) -> StoreResult<std::vector<rollup::BaseBucket>> {
    PgParams params;
    params.add(std::string(device_id));
    params.add(format_rfc3339(from));
    params.add(format_rfc3339(to));
    auto r = conn.exec_prepared("read base buckets", select_bucket_range(), params);
    if (!r) return r.error();
    std::vector<rollup::BaseBucket> out;
    const PGresult* result = r.value().get();
    const int rows = PQntuples(result);
    out.reserve(static_cast<std::size_t>(rows));
    for (int row = 0; row < rows; ++row) {
      auto bucket = base_bucket_from_json(cell(result, row, 0));
      if (!bucket) return StoreError{StoreErrorKind::internal, bucket.error().message};
      out.push_back(bucket.value());
    }
    auto by_start = [](const rollup::BaseBucket& a, const rollup::BaseBucket& b) {
      return a.start < b.start;
    };
    if (!std::is_sorted(out.begin(), out.end(), by_start)) {
      std::sort(out.begin(), out.end(), by_start);
    }
    return out;
  });
}

StoreResult<std::vector<rollup::Span>> PgStore::series_spans(
    std::string_view device_id, std::span<const rollup::BucketRange> ranges) {
  std::vector<rollup::Span> out;
  if (ranges.empty()) return out;
  std::array<std::string, 3> froms{"{", "{", "{"};
  std::array<std::string, 3> tos{"{", "{", "{"};
  for (const auto& interval : rollup::plan_spans(ranges)) {
    const auto level = static_cast<std::size_t>(interval.level);
    if (froms[level].size() > 1) {
      froms[level] += ',';
      tos[level] += ',';
    }
    froms[level] += format_rfc3339(interval.from);
    tos[level] += format_rfc3339(interval.to);
  }
  PgParams params;
  params.add(std::string(device_id));
  params.add(format_rfc3339(ranges.front().start));
  for (std::size_t level = 0; level < 3; ++level) {
    params.add(froms[level] + '}');
    params.add(tos[level] + '}');
  }
  return impl_->run([&](PgConnection& conn) -> StoreResult<std::vector<rollup::Span>> {
    auto r = conn.exec_prepared("read series pieces", select_series_pieces(), params);
    if (!r) return r.error();
    const PGresult* result = r.value().get();
    const int rows = PQntuples(result);
    std::vector<rollup::Span> pieces;
    pieces.reserve(static_cast<std::size_t>(rows));
    for (int row = 0; row < rows; ++row) {
      if (cell(result, row, 0) == "0") {
        auto bucket = base_bucket_from_json(cell(result, row, 2));
        if (!bucket) return StoreError{StoreErrorKind::internal, bucket.error().message};
        pieces.push_back(rollup::to_span(bucket.value()));
      } else {
        auto span = span_cell(result, row, 3);
        if (!span) return span.error();
        pieces.push_back(std::move(span).value());
      }
    }
    auto by_start = [](const rollup::Span& a, const rollup::Span& b) { return a.start < b.start; };
    if (!std::is_sorted(pieces.begin(), pieces.end(), by_start)) {
      std::sort(pieces.begin(), pieces.end(), by_start);
    }
    return pieces;
  });
}

StoreResult<void> PgStore::ping() {
  return impl_->run([&](PgConnection& conn) -> StoreResult<void> {
    // A catalog read: answered from the server's storage, not just the connection.
    if (auto r = conn.exec("ping", "SELECT count(*) FROM pg_catalog.pg_namespace"); !r) {
      return r.error();
    }
    return {};
  });
}

}  // namespace sungrow::storage
