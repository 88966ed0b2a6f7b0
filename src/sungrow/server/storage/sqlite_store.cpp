// SqliteStore: versioned migrations, batch insert with incremental base buckets, range reads.
#include "sungrow/server/storage/sqlite_store.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "sungrow/core/sample_json.hpp"
#include "sungrow/server/storage/base_bucket_json.hpp"
#include "sungrow/server/storage/precise_json.hpp"
#include "sungrow/server/storage/span_codec.hpp"
#include "sungrow/server/storage/span_upkeep.hpp"
#include "sungrow/sqlite/database.hpp"

namespace sungrow::storage {

namespace {

// ---- schema ----

struct Migration {
  std::int64_t version;
  std::string_view sql;
  // Then (re)compute every hour and day span from the stored base buckets.
  bool rebuilds_spans = false;
};

// Append only: a released migration is never edited, a change is a new version. Row tables with
// the key as a unique index (not WITHOUT ROWID): sample bodies are ~1 KB, too wide for clustering.
// The CHECKs are the last line of defence behind ingest validation.
constexpr std::array kMigrations{
    Migration{1, R"sql(
CREATE TABLE samples (
  device_id TEXT NOT NULL CHECK (length(device_id) BETWEEN 1 AND 64),
  ts_ms INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  body TEXT NOT NULL,
  PRIMARY KEY (device_id, ts_ms)
);
CREATE TABLE base_buckets (
  device_id TEXT NOT NULL,
  start_ms INTEGER NOT NULL CHECK (start_ms % 300000 = 0),
  data TEXT NOT NULL,
  PRIMARY KEY (device_id, start_ms)
);
)sql"},
    // Precomputed spans (rollup/span.hpp), fixed-layout binary (span_codec). migrate() fills them
    // from the existing base buckets right after this version is applied.
    Migration{2, R"sql(
CREATE TABLE hour_spans (
  device_id TEXT NOT NULL,
  start_ms INTEGER NOT NULL CHECK (start_ms % 3600000 = 0),
  data BLOB NOT NULL,
  PRIMARY KEY (device_id, start_ms)
);
CREATE TABLE day_spans (
  device_id TEXT NOT NULL,
  start_ms INTEGER NOT NULL CHECK (start_ms % 86400000 = 0),
  data BLOB NOT NULL,
  PRIMARY KEY (device_id, start_ms)
);
)sql",
              true},
    // Spans in the format that carries glitch-tolerant counter chains (span_codec version 2).
    Migration{3, "DELETE FROM hour_spans; DELETE FROM day_spans;", true},
    // Dashboard sessions (session_store.hpp): digests only.
    Migration{4, R"sql(
CREATE TABLE sessions (
  id_digest TEXT PRIMARY KEY CHECK (length(id_digest) = 64),
  viewer_digest TEXT NOT NULL,
  created_ms INTEGER NOT NULL,
  expires_ms INTEGER NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_ms);
)sql"},
};

// ---- SQLite failures as store errors ----

StoreErrorKind kind_of(const sqlite::Failure& failure) {
  switch (failure.primary_code()) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
    case SQLITE_NOMEM:
      return StoreErrorKind::unavailable;
    case SQLITE_CONSTRAINT:
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
      return StoreErrorKind::rejected;
    default:
      return StoreErrorKind::internal;
  }
}

StoreError store_error(const sqlite::Failure& failure, std::string_view what) {
  return StoreError{kind_of(failure), fmt::format("sqlite: {}: {}", what, failure.message)};
}

// True when a row is available, false when done.
StoreResult<bool> step(sqlite::Statement& stmt, std::string_view what) {
  auto row = stmt.next_row();
  if (!row) return store_error(row.error(), what);
  return row.value();
}

StoreResult<void> exec(sqlite::Connection& db, std::string_view sql, std::string_view what) {
  if (auto done = db.exec(sql); !done) return store_error(done.error(), what);
  return {};
}

StoreResult<sqlite::Transaction> begin(sqlite::Connection& db, sqlite::Transaction::Mode mode) {
  auto tx = sqlite::Transaction::begin(db, mode);
  if (!tx) return store_error(tx.error(), "begin");
  return std::move(tx).value();
}

StoreResult<void> commit(sqlite::Transaction& tx) {
  if (auto done = tx.commit(); !done) return store_error(done.error(), "commit");
  return {};
}

// A stored body back to a Sample the API can serve, or why it cannot be.
Result<Sample> decode_stored_sample(std::string_view body, std::string_view device_id) {
  auto parsed = parse_json_precise(body);
  if (!parsed || !parsed.value().is_object()) return fail("the stored body is not a JSON object");
  // The key column is authoritative for the id; the codec checks the wire pattern, which the store
  // does not enforce (ingest does), so decode with a valid stand-in and restore the stored id.
  parsed.value().as_object()["device_id"] = "stored";
  auto decoded = sample_from_json(parsed.value());
  if (!decoded.sample) {
    const auto& first = decoded.problems.front();
    return fail(fmt::format("{}: {}", first.field, first.reason));
  }
  decoded.sample->device_id = std::string(device_id);
  return servable(std::move(*decoded.sample));
}

}  // namespace

struct SqliteStore::Impl {
  explicit Impl(sqlite::Connection connection) : db(std::move(connection)) {}

  std::mutex mutex;
  sqlite::Connection db;
  // Prepared on first use: before migrate() the tables they name do not exist.
  std::optional<sqlite::Statement> insert_sample;
  std::optional<sqlite::Statement> select_bucket;
  std::optional<sqlite::Statement> upsert_bucket;
  std::optional<sqlite::Statement> select_latest;
  std::optional<sqlite::Statement> select_previous_bucket;
  std::optional<sqlite::Statement> select_bucket_range;
  std::optional<sqlite::Statement> select_hour_range;
  std::optional<sqlite::Statement> select_day_range;
  std::optional<sqlite::Statement> upsert_hour;
  std::optional<sqlite::Statement> upsert_day;
  std::optional<sqlite::Statement> delete_hour;
  std::optional<sqlite::Statement> delete_day;
  std::optional<sqlite::Statement> select_all_bucket_keys;
  std::optional<sqlite::Statement> insert_session;
  std::optional<sqlite::Statement> delete_expired_sessions;
  std::optional<sqlite::Statement> select_session;
  std::optional<sqlite::Statement> remove_session;

  // Prepares `slot` unless it already is; the caller then uses *slot.
  StoreResult<void> prepare(std::optional<sqlite::Statement>& slot, std::string_view sql) {
    if (!slot) {
      auto stmt = db.prepare(sql);
      if (!stmt) return store_error(stmt.error(), "prepare");
      slot.emplace(std::move(stmt).value());
    }
    return {};
  }

  StoreResult<bool> has_migration_table() {
    std::optional<sqlite::Statement> once;
    if (auto ok = prepare(once,
                          "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = "
                          "'schema_migrations'");
        !ok)
      return ok.error();
    sqlite::Statement& stmt = *once;
    auto row = step(stmt, "read schema");
    if (!row) return row.error();
    return *row && stmt.column_int64(0) > 0;
  }

  StoreResult<std::int64_t> max_version() {
    auto exists = has_migration_table();
    if (!exists) return exists.error();
    if (!*exists) return std::int64_t{0};
    std::optional<sqlite::Statement> once;
    if (auto ok = prepare(once, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"); !ok)
      return ok.error();
    sqlite::Statement& p = *once;
    auto row = step(p, "read schema version");
    if (!row) return row.error();
    return *row ? p.column_int64(0) : 0;
  }

  // Folds `delta` into the stored bucket (or stores it): read, rollup::merge, write back.
  StoreResult<void> merge_bucket(const std::string& device_id, std::int64_t start_ms,
                                 const rollup::BaseBucket& delta) {
    if (auto ok = prepare(select_bucket,
                          "SELECT data FROM base_buckets WHERE device_id = ?1 AND start_ms = ?2");
        !ok)
      return ok.error();
    sqlite::Statement& select = *select_bucket;
    rollup::BaseBucket merged = delta;
    {
      sqlite::ResetOnExit rewind(select);
      select.bind(1, device_id);
      select.bind(2, start_ms);
      auto row = step(select, "read base bucket");
      if (!row) return row.error();
      if (*row) {
        auto stored = base_bucket_from_json(select.column_text(0));
        if (!stored) return StoreError{StoreErrorKind::internal, stored.error().message};
        merged = *stored;
        rollup::merge(merged, delta);
      }
    }
    if (auto ok =
            prepare(upsert_bucket,
                    "INSERT INTO base_buckets (device_id, start_ms, data) VALUES (?1, ?2, ?3) "
                    "ON CONFLICT (device_id, start_ms) DO UPDATE SET data = excluded.data");
        !ok)
      return ok.error();
    sqlite::Statement& upsert = *upsert_bucket;
    sqlite::ResetOnExit rewind(upsert);
    upsert.bind(1, device_id);
    upsert.bind(2, start_ms);
    upsert.bind(3, base_bucket_to_json(merged));
    auto done = step(upsert, "write base bucket");
    if (!done) return done.error();
    return {};
  }

  StoreResult<std::optional<sqlite::Statement>*> range_statement(rollup::SpanLevel level) {
    struct Query {
      std::optional<sqlite::Statement> Impl::*slot;
      const char* sql;
    };
    const auto query = [&]() -> std::optional<Query> {
      switch (level) {
        case rollup::SpanLevel::base:
          return Query{&Impl::select_bucket_range,
                       "SELECT data FROM base_buckets WHERE device_id = ?1 AND "
                       "start_ms >= ?2 AND start_ms < ?3 ORDER BY start_ms"};
        case rollup::SpanLevel::hour:
          return Query{&Impl::select_hour_range,
                       "SELECT data FROM hour_spans WHERE device_id = ?1 AND "
                       "start_ms >= ?2 AND start_ms < ?3 ORDER BY start_ms"};
        case rollup::SpanLevel::day:
          return Query{&Impl::select_day_range,
                       "SELECT data FROM day_spans WHERE device_id = ?1 AND "
                       "start_ms >= ?2 AND start_ms < ?3 ORDER BY start_ms"};
      }
      return std::nullopt;
    }();
    if (!query) return StoreError{StoreErrorKind::internal, "sqlite: unknown span level"};
    std::optional<sqlite::Statement>& slot = this->*(query->slot);
    if (auto ok = prepare(slot, query->sql); !ok) return ok.error();
    return &slot;
  }

  // The last base bucket starting before `before_ms`: it seeds each counter's carry.
  // The newest base bucket before `before_ms`; one that does not decode counts as none, its
  // reason added to `skipped`.
  StoreResult<std::optional<rollup::BaseBucket>> previous_bucket(
      std::string_view device_id, std::int64_t before_ms, std::vector<std::string>& skipped) {
    if (auto ok = prepare(select_previous_bucket,
                          "SELECT data FROM base_buckets WHERE device_id = ?1 AND "
                          "start_ms < ?2 ORDER BY start_ms DESC LIMIT 1");
        !ok)
      return ok.error();
    sqlite::Statement& previous = *select_previous_bucket;
    sqlite::ResetOnExit rewind(previous);
    previous.bind(1, device_id);
    previous.bind(2, before_ms);
    auto row = step(previous, "read preceding bucket");
    if (!row) return row.error();
    if (!*row) return std::optional<rollup::BaseBucket>{};
    auto bucket = base_bucket_from_json(previous.column_text(0));
    if (!bucket) {
      skipped.push_back("base bucket: " + bucket.error().message);
      return std::optional<rollup::BaseBucket>{};
    }
    return std::optional<rollup::BaseBucket>{*bucket};
  }

  // Appends the stored pieces of `level` with start in [from_ms, to_ms) to `out`, in order. A
  // piece that does not decode is left out and its reason added to `skipped` (when given; else it
  // is an error): a series answers without it rather than not at all.
  StoreResult<void> read_pieces(rollup::SpanLevel level, std::string_view device_id,
                                std::int64_t from_ms, std::int64_t to_ms,
                                std::vector<rollup::Span>& out,
                                std::vector<std::string>* skipped = nullptr) {
    auto slot = range_statement(level);
    if (!slot) return slot.error();
    sqlite::Statement& stmt = **slot.value();
    sqlite::ResetOnExit rewind(stmt);
    stmt.bind(1, device_id);
    stmt.bind(2, from_ms);
    stmt.bind(3, to_ms);
    for (;;) {
      auto row = step(stmt, "read series pieces");
      if (!row) return row.error();
      if (!*row) return {};
      if (level == rollup::SpanLevel::base) {
        auto bucket = base_bucket_from_json(stmt.column_text(0));
        if (bucket) {
          out.push_back(rollup::to_span(*bucket));
        } else if (skipped != nullptr) {
          skipped->push_back("base bucket: " + bucket.error().message);
        } else {
          return StoreError{StoreErrorKind::internal, bucket.error().message};
        }
      } else {
        auto span = span_from_bytes(stmt.column_blob(0));
        if (span) {
          out.push_back(*span);
        } else if (skipped != nullptr) {
          skipped->push_back("span: " + span.error().message);
        } else {
          return StoreError{StoreErrorKind::internal, span.error().message};
        }
      }
    }
  }

  // Reads `level` pieces in [from, to) of `key`'s device into `out`, keyed by start.
  StoreResult<void> read_pieces_into(rollup::SpanLevel level, const SpanKey& key,
                                     std::map<SpanKey, rollup::Span>& out) {
    std::vector<rollup::Span> pieces;
    const auto width_ms = rollup::width(level == rollup::SpanLevel::base ? rollup::SpanLevel::hour
                                                                         : rollup::SpanLevel::day)
                              .count();
    if (auto read = read_pieces(level, key.first, key.second, key.second + width_ms, pieces);
        !read) {
      return read.error();
    }
    for (auto& piece : pieces) out.emplace(SpanKey{key.first, unix_millis(piece.start)}, piece);
    return {};
  }

  // Recomputes the hour and day spans holding `base_keys` (base bucket starts) from what is
  // stored now (span_upkeep), and writes them.
  StoreResult<void> refresh_spans(const std::set<SpanKey>& base_keys) {
    const auto touched = touched_by(base_keys);
    SpanPieces pieces;
    for (const auto& hour : touched.hours) {
      if (auto read = read_pieces_into(rollup::SpanLevel::base, hour, pieces.base); !read) {
        return read.error();
      }
    }
    for (const auto& day : touched.days) {
      if (auto read = read_pieces_into(rollup::SpanLevel::hour, day, pieces.hours); !read) {
        return read.error();
      }
    }
    const auto updates = recompute(touched, std::move(pieces));
    if (auto written = write_spans("hour_spans", upsert_hour, delete_hour, updates.hours);
        !written) {
      return written.error();
    }
    return write_spans("day_spans", upsert_day, delete_day, updates.days);
  }

  StoreResult<void> write_spans(const std::string& table,
                                std::optional<sqlite::Statement>& upsert_slot,
                                std::optional<sqlite::Statement>& delete_slot,
                                const std::vector<SpanUpdate>& updates) {
    if (auto ok = prepare(upsert_slot, "INSERT INTO " + table +
                                           " (device_id, start_ms, data) VALUES (?1, ?2, ?3) "
                                           "ON CONFLICT (device_id, start_ms) DO UPDATE SET "
                                           "data = excluded.data");
        !ok)
      return ok.error();
    if (auto ok = prepare(delete_slot,
                          "DELETE FROM " + table + " WHERE device_id = ?1 AND start_ms = ?2");
        !ok)
      return ok.error();
    for (const auto& [key, span] : updates) {
      sqlite::Statement& stmt = span ? *upsert_slot : *delete_slot;
      sqlite::ResetOnExit rewind(stmt);
      stmt.bind(1, key.first);
      stmt.bind(2, key.second);
      if (span) stmt.bind_blob(3, span_to_bytes(*span));
      if (auto done = step(stmt, "write span"); !done) return done.error();
    }
    return {};
  }

  // The spans migration's data step: every stored base bucket's hour and day.
  StoreResult<void> backfill_spans() {
    if (auto ok = prepare(select_all_bucket_keys, "SELECT device_id, start_ms FROM base_buckets");
        !ok)
      return ok.error();
    sqlite::Statement& stmt = *select_all_bucket_keys;
    std::set<SpanKey> keys;
    {
      sqlite::ResetOnExit rewind(stmt);
      for (;;) {
        auto row = step(stmt, "read base bucket keys");
        if (!row) return row.error();
        if (!*row) break;
        keys.emplace(std::string(stmt.column_text(0)), stmt.column_int64(1));
      }
    }
    return refresh_spans(keys);
  }
};

SqliteStore::SqliteStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteStore::~SqliteStore() = default;

StoreResult<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::filesystem::path& path,
                                                            const SqliteOptions& options) {
  auto opened = sqlite::Connection::open(path);
  if (!opened) return store_error(opened.error(), fmt::format("open {}", path.string()));
  auto impl = std::make_unique<Impl>(std::move(opened).value());
  impl->db.set_busy_timeout(static_cast<int>(options.busy_timeout.count()));

  {
    // journal_mode answers with the mode in effect; anything but "wal" (e.g. a read-only
    // directory) must not pass silently.
    std::optional<sqlite::Statement> pragma;
    if (auto ok = impl->prepare(pragma, "PRAGMA journal_mode = WAL"); !ok) return ok.error();
    sqlite::Statement& stmt = *pragma;
    auto row = step(stmt, "set WAL");
    if (!row) return row.error();
    if (!*row || stmt.column_text(0) != "wal") {
      return StoreError{StoreErrorKind::unavailable,
                        fmt::format("sqlite: {} cannot use WAL journaling", path.string())};
    }
  }
  // FULL: a commit acknowledged to the edge must survive power loss (the edge then deletes it).
  if (auto set = exec(impl->db, "PRAGMA synchronous = FULL", "set synchronous"); !set) {
    return set.error();
  }
  if (options.max_page_count > 0) {
    const auto sql = fmt::format("PRAGMA max_page_count = {}", options.max_page_count);
    std::optional<sqlite::Statement> pragma;
    if (auto ok = impl->prepare(pragma, sql); !ok) return ok.error();
    sqlite::Statement& stmt = *pragma;
    if (auto row = step(stmt, "set max_page_count"); !row) return row.error();
  }
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(impl)));
}

StoreResult<void> SqliteStore::migrate() {
  std::lock_guard lock(impl_->mutex);
  sqlite::Connection& db = impl_->db;
  // IMMEDIATE takes the write lock first, so two servers starting at once run the migrations one
  // after the other (the second finds them recorded): SQLite's stand-in for an advisory lock.
  auto tx = begin(db, sqlite::Transaction::Mode::immediate);
  if (!tx) return tx.error();
  if (auto made = exec(db,
                       "CREATE TABLE IF NOT EXISTS schema_migrations ("
                       "version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)",
                       "create schema_migrations");
      !made) {
    return made.error();
  }
  auto max_applied = impl_->max_version();
  if (!max_applied) return max_applied.error();
  const std::int64_t applied = max_applied.value();
  std::optional<sqlite::Statement> record;
  if (auto ok = impl_->prepare(
          record, "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)");
      !ok)
    return ok.error();
  sqlite::Statement& insert = *record;
  for (const auto& m : kMigrations) {
    if (m.version <= applied) continue;
    if (auto ran = db.exec_script(std::string(m.sql)); !ran) {
      return store_error(ran.error(), fmt::format("migration {}", m.version));
    }
    sqlite::ResetOnExit rewind(insert);
    insert.bind(1, m.version);
    insert.bind(2, format_rfc3339(now_utc()));
    if (auto row = step(insert, "record migration"); !row) return row.error();
    if (m.rebuilds_spans) {
      if (auto filled = impl_->backfill_spans(); !filled) return filled.error();
    }
  }
  return commit(*tx);
}

StoreResult<std::int64_t> SqliteStore::schema_version() {
  std::lock_guard lock(impl_->mutex);
  return impl_->max_version();
}

StoreResult<WriteOutcome> SqliteStore::insert_batch(std::span<const Sample> samples) {
  WriteOutcome outcome;
  outcome.received = static_cast<std::int64_t>(samples.size());
  if (samples.empty()) return outcome;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (auto field = first_non_finite_field(samples[i])) {
      return StoreError{StoreErrorKind::rejected,
                        fmt::format("sample {}: {} is not a finite number", i, *field)};
    }
  }

  std::lock_guard lock(impl_->mutex);
  sqlite::Connection& db = impl_->db;
  if (auto ok = impl_->prepare(impl_->insert_sample,
                               "INSERT INTO samples (device_id, ts_ms, seq, body) "
                               "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (device_id, ts_ms) DO NOTHING");
      !ok)
    return ok.error();
  sqlite::Statement& insert = *impl_->insert_sample;

  auto tx = begin(db, sqlite::Transaction::Mode::immediate);
  if (!tx) return tx.error();
  // Deltas of the inserted rows per (device, bucket); the map's order makes the bucket writes
  // deterministic. merge is order-independent, so folding here then into the stored bucket gives
  // the same bucket as any other order of the same samples.
  std::map<std::pair<std::string, std::int64_t>, rollup::BaseBucket> deltas;
  for (const Sample& s : samples) {
    sqlite::ResetOnExit rewind(insert);
    insert.bind(1, s.device_id);
    insert.bind(2, unix_millis(s.ts));
    insert.bind(3, s.seq);
    insert.bind(4, to_json_text(s));
    if (auto row = step(insert, "insert sample"); !row) return row.error();
    if (db.changes() == 0) continue;  // a duplicate: DO NOTHING changed no row
    ++outcome.inserted;
    auto bucket = rollup::from_sample(s);
    auto [it, fresh] = deltas.try_emplace({s.device_id, unix_millis(bucket.start)}, bucket);
    if (!fresh) rollup::merge(it->second, bucket);
  }
  std::set<SpanKey> touched;
  for (const auto& [key, delta] : deltas) {
    if (auto merged = impl_->merge_bucket(key.first, key.second, delta); !merged) {
      return merged.error();
    }
    touched.insert(key);
  }
  if (auto refreshed = impl_->refresh_spans(touched); !refreshed) return refreshed.error();
  if (auto committed = commit(*tx); !committed) return committed.error();
  return outcome;
}

StoreResult<std::optional<Sample>> SqliteStore::latest(std::string_view device_id,
                                                       Timestamp not_after) {
  std::lock_guard lock(impl_->mutex);
  if (auto ok = impl_->prepare(impl_->select_latest,
                               fmt::format("SELECT body FROM samples WHERE device_id = ?1 AND "
                                           "ts_ms <= ?2 ORDER BY ts_ms DESC LIMIT {}",
                                           kLatestCandidates));
      !ok)
    return ok.error();
  sqlite::Statement& select = *impl_->select_latest;
  sqlite::ResetOnExit rewind(select);
  select.bind(1, device_id);
  select.bind(2, unix_millis(not_after));
  for (;;) {
    auto row = step(select, "read latest sample");
    if (!row) return row.error();
    if (!*row) return std::optional<Sample>{};
    auto decoded = decode_stored_sample(select.column_text(0), device_id);
    if (decoded) return std::optional<Sample>{std::move(decoded).value()};
    skip_row(device_id, decoded.error().message);
  }
}

StoreResult<std::vector<rollup::BaseBucket>> SqliteStore::base_buckets(std::string_view device_id,
                                                                       Timestamp from,
                                                                       Timestamp to) {
  std::lock_guard lock(impl_->mutex);
  // One read transaction: both queries see the same snapshot, even with a writer in between.
  auto tx = begin(impl_->db, sqlite::Transaction::Mode::deferred);
  if (!tx) return tx.error();
  std::vector<rollup::BaseBucket> out;
  std::vector<std::string> skipped;
  auto previous = impl_->previous_bucket(device_id, unix_millis(from), skipped);
  if (!previous) return previous.error();
  if (previous->has_value()) out.push_back(**previous);
  if (from < to) {
    auto slot = impl_->range_statement(rollup::SpanLevel::base);
    if (!slot) return slot.error();
    sqlite::Statement& range = **slot.value();
    sqlite::ResetOnExit rewind(range);
    range.bind(1, device_id);
    range.bind(2, unix_millis(from));
    range.bind(3, unix_millis(to));
    for (;;) {
      auto row = step(range, "read base buckets");
      if (!row) return row.error();
      if (!*row) break;
      auto bucket = base_bucket_from_json(range.column_text(0));
      if (bucket) {
        out.push_back(*bucket);
      } else {
        skipped.push_back("base bucket: " + bucket.error().message);
      }
    }
  }
  if (auto committed = commit(*tx); !committed) return committed.error();
  for (const auto& why : skipped) skip_row(device_id, why);
  return out;
}

StoreResult<std::vector<rollup::Span>> SqliteStore::series_spans(
    std::string_view device_id, std::span<const rollup::BucketRange> ranges) {
  std::lock_guard lock(impl_->mutex);
  std::vector<rollup::Span> out;
  if (ranges.empty()) return out;
  // One read transaction: every level comes from the same snapshot.
  auto tx = begin(impl_->db, sqlite::Transaction::Mode::deferred);
  if (!tx) return tx.error();
  std::vector<std::string> skipped;
  auto previous = impl_->previous_bucket(device_id, unix_millis(ranges.front().start), skipped);
  if (!previous) return previous.error();
  if (previous->has_value()) out.push_back(rollup::to_span(**previous));
  for (const auto& interval : rollup::plan_spans(ranges)) {
    if (auto read = impl_->read_pieces(interval.level, device_id, unix_millis(interval.from),
                                       unix_millis(interval.to), out, &skipped);
        !read) {
      return read.error();
    }
  }
  if (auto committed = commit(*tx); !committed) return committed.error();
  for (const auto& why : skipped) skip_row(device_id, why);
  return out;
}

StoreResult<void> SqliteStore::save_session(std::string_view id_digest,
                                            std::string_view viewer_digest, Timestamp now,
                                            Timestamp expires) {
  std::lock_guard lock(impl_->mutex);
  if (auto ok = impl_->prepare(impl_->delete_expired_sessions,
                               "DELETE FROM sessions WHERE expires_ms < ?1");
      !ok)
    return ok.error();
  if (auto ok = impl_->prepare(impl_->insert_session,
                               "INSERT INTO sessions (id_digest, viewer_digest, created_ms, "
                               "expires_ms) VALUES (?1, ?2, ?3, ?4)");
      !ok)
    return ok.error();
  auto tx = begin(impl_->db, sqlite::Transaction::Mode::immediate);
  if (!tx) return tx.error();
  {
    sqlite::Statement& expired = *impl_->delete_expired_sessions;
    sqlite::ResetOnExit rewind(expired);
    expired.bind(1, unix_millis(now));
    if (auto done = step(expired, "delete expired sessions"); !done) return done.error();
  }
  {
    sqlite::Statement& insert = *impl_->insert_session;
    sqlite::ResetOnExit rewind(insert);
    insert.bind(1, id_digest);
    insert.bind(2, viewer_digest);
    insert.bind(3, unix_millis(now));
    insert.bind(4, unix_millis(expires));
    if (auto done = step(insert, "save session"); !done) return done.error();
  }
  return commit(*tx);
}

StoreResult<std::optional<SessionRecord>> SqliteStore::find_session(std::string_view id_digest,
                                                                    Timestamp now) {
  std::lock_guard lock(impl_->mutex);
  if (auto ok = impl_->prepare(impl_->select_session,
                               "SELECT viewer_digest, expires_ms FROM sessions WHERE id_digest = "
                               "?1 AND expires_ms >= ?2");
      !ok)
    return ok.error();
  sqlite::Statement& select = *impl_->select_session;
  sqlite::ResetOnExit rewind(select);
  select.bind(1, id_digest);
  select.bind(2, unix_millis(now));
  auto row = step(select, "find session");
  if (!row) return row.error();
  if (!*row) return std::optional<SessionRecord>{};
  return std::optional<SessionRecord>{
      SessionRecord{.viewer_digest = std::string(select.column_text(0)),
                    .expires = Timestamp{std::chrono::milliseconds{select.column_int64(1)}}}};
}

StoreResult<void> SqliteStore::delete_session(std::string_view id_digest) {
  std::lock_guard lock(impl_->mutex);
  if (auto ok = impl_->prepare(impl_->remove_session, "DELETE FROM sessions WHERE id_digest = ?1");
      !ok)
    return ok.error();
  sqlite::Statement& remove = *impl_->remove_session;
  sqlite::ResetOnExit rewind(remove);
  remove.bind(1, id_digest);
  auto done = step(remove, "delete session");
  if (!done) return done.error();
  return {};
}

StoreResult<void> SqliteStore::ping() {
  std::lock_guard lock(impl_->mutex);
  // schema_version is read from the database header, so this reaches the file, not just memory.
  return exec(impl_->db, "PRAGMA schema_version", "ping");
}

}  // namespace sungrow::storage
