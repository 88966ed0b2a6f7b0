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

namespace sungrow::storage {

namespace {

// ---- schema ----

struct Migration {
  std::int64_t version;
  std::string_view sql;
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
)sql"},
};

constexpr std::int64_t kSpansMigration = 2;

using SpanKey = std::pair<std::string, std::int64_t>;  // device_id, span start in ms

std::int64_t floor_ms(rollup::SpanLevel level, std::int64_t ms) {
  return unix_millis(rollup::level_floor(level, Timestamp{std::chrono::milliseconds{ms}}));
}

// ---- the SQLite C API, owned ----

struct DbCloser {
  // close_v2 defers the close until every statement is finalized, so member order is free.
  void operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const noexcept { sqlite3_finalize(stmt); }
};
using DbHandle = std::unique_ptr<sqlite3, DbCloser>;
using StmtHandle = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

StoreErrorKind kind_of(int code) {
  switch (code & 0xff) {  // the primary code of an extended one
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

StoreError sql_error(sqlite3* db, int code, std::string_view what) {
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code);
  return StoreError{kind_of(code), fmt::format("sqlite: {}: {} (code {}: {})", what, detail, code,
                                               sqlite3_errstr(code))};
}

// A prepared statement reused across calls; bind errors are kept and reported by step().
class Stmt {
 public:
  Stmt(sqlite3* db, StmtHandle stmt) : db_(db), stmt_(std::move(stmt)) {}

  void bind(int index, std::int64_t value) { keep(sqlite3_bind_int64(stmt_.get(), index, value)); }
  void bind(int index, std::string_view text) {
    // SQLITE_TRANSIENT copies; _64 takes the length as is (no int narrowing, no NUL needed).
    keep(sqlite3_bind_text64(stmt_.get(), index, text.data(), text.size(), SQLITE_TRANSIENT,
                             SQLITE_UTF8));
  }

  // True when a row is available, false when done.
  StoreResult<bool> step(std::string_view what) {
    if (bind_rc_ != SQLITE_OK) return sql_error(db_, bind_rc_, what);
    const int rc = sqlite3_step(stmt_.get());
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return sql_error(db_, rc, what);
  }

  std::int64_t column_int64(int index) const { return sqlite3_column_int64(stmt_.get(), index); }
  void bind_blob(int index, std::string_view bytes) {
    keep(sqlite3_bind_blob64(stmt_.get(), index, bytes.data(), bytes.size(), SQLITE_TRANSIENT));
  }
  std::string_view column_blob(int index) const {
    const auto* data = sqlite3_column_blob(stmt_.get(), index);
    if (data == nullptr) return {};
    const int size = sqlite3_column_bytes(stmt_.get(), index);
    return {static_cast<const char*>(data), static_cast<std::size_t>(size)};
  }
  std::string_view column_text(int index) const {
    const auto* text = sqlite3_column_text(stmt_.get(), index);
    if (text == nullptr) return {};
    const int size = sqlite3_column_bytes(stmt_.get(), index);
    return {reinterpret_cast<const char*>(text), static_cast<std::size_t>(size)};
  }

  // Rewinds and unbinds; releases the statement's read lock too.
  void reset() noexcept {
    sqlite3_reset(stmt_.get());
    sqlite3_clear_bindings(stmt_.get());
    bind_rc_ = SQLITE_OK;
  }

 private:
  void keep(int rc) {
    if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
  }

  sqlite3* db_;
  StmtHandle stmt_;
  int bind_rc_ = SQLITE_OK;
};

// Resets a statement when the scope ends, so no early return leaves it mid-step.
class Rewind {
 public:
  explicit Rewind(Stmt& stmt) : stmt_(stmt) {}
  Rewind(const Rewind&) = delete;
  Rewind& operator=(const Rewind&) = delete;
  ~Rewind() { stmt_.reset(); }

 private:
  Stmt& stmt_;
};

StoreResult<void> exec(sqlite3* db, const char* sql, std::string_view what) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql, nullptr, nullptr, &message);
  // sqlite3_exec reports through its own buffer; errmsg(db) holds the same text.
  sqlite3_free(message);
  if (rc != SQLITE_OK) return sql_error(db, rc, what);
  return {};
}

// Rolls back unless committed. SQLite already rolled back some failures itself (SQLITE_FULL,
// I/O errors), so only what is still open is undone.
class Transaction {
 public:
  static StoreResult<Transaction> begin(sqlite3* db, const char* begin_sql) {
    if (auto begun = exec(db, begin_sql, "begin"); !begun) return begun.error();
    return Transaction(db);
  }
  Transaction(Transaction&& other) noexcept : db_(std::exchange(other.db_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction() {
    if (db_ != nullptr && sqlite3_get_autocommit(db_) == 0) (void)exec(db_, "ROLLBACK", "rollback");
  }

  StoreResult<void> commit() {
    auto committed = exec(db_, "COMMIT", "commit");
    if (committed) db_ = nullptr;
    return committed;
  }

 private:
  explicit Transaction(sqlite3* db) : db_(db) {}
  sqlite3* db_;
};

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
  std::mutex mutex;
  DbHandle db;
  // Prepared on first use: before migrate() the tables they name do not exist.
  std::optional<Stmt> insert_sample;
  std::optional<Stmt> select_bucket;
  std::optional<Stmt> upsert_bucket;
  std::optional<Stmt> select_latest;
  std::optional<Stmt> select_previous_bucket;
  std::optional<Stmt> select_bucket_range;
  std::optional<Stmt> select_hour_range;
  std::optional<Stmt> select_day_range;
  std::optional<Stmt> upsert_hour;
  std::optional<Stmt> upsert_day;
  std::optional<Stmt> delete_hour;
  std::optional<Stmt> delete_day;
  std::optional<Stmt> select_all_bucket_keys;

  // Prepares `slot` unless it already is; the caller then uses *slot.
  StoreResult<void> prepare(std::optional<Stmt>& slot, std::string_view sql) {
    if (!slot) {
      sqlite3_stmt* raw = nullptr;
      const int rc = sqlite3_prepare_v3(db.get(), sql.data(), static_cast<int>(sql.size()),
                                        SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
      StmtHandle stmt(raw);
      if (rc != SQLITE_OK) return sql_error(db.get(), rc, "prepare");
      slot.emplace(db.get(), std::move(stmt));
    }
    return {};
  }

  StoreResult<bool> has_migration_table() {
    std::optional<Stmt> once;
    if (auto ok = prepare(once,
                          "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = "
                          "'schema_migrations'");
        !ok)
      return ok.error();
    Stmt& stmt = *once;
    auto row = stmt.step("read schema");
    if (!row) return row.error();
    return *row && stmt.column_int64(0) > 0;
  }

  StoreResult<std::int64_t> max_version() {
    auto exists = has_migration_table();
    if (!exists) return exists.error();
    if (!*exists) return std::int64_t{0};
    std::optional<Stmt> once;
    if (auto ok = prepare(once, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"); !ok)
      return ok.error();
    Stmt& p = *once;
    auto row = p.step("read schema version");
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
    Stmt& select = *select_bucket;
    rollup::BaseBucket merged = delta;
    {
      Rewind rewind(select);
      select.bind(1, device_id);
      select.bind(2, start_ms);
      auto row = select.step("read base bucket");
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
    Stmt& upsert = *upsert_bucket;
    Rewind rewind(upsert);
    upsert.bind(1, device_id);
    upsert.bind(2, start_ms);
    upsert.bind(3, base_bucket_to_json(merged));
    auto done = upsert.step("write base bucket");
    if (!done) return done.error();
    return {};
  }

  StoreResult<std::optional<Stmt>*> range_statement(rollup::SpanLevel level) {
    struct Query {
      std::optional<Stmt> Impl::*slot;
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
    std::optional<Stmt>& slot = this->*(query->slot);
    if (auto ok = prepare(slot, query->sql); !ok) return ok.error();
    return &slot;
  }

  // The last base bucket starting before `before_ms`: it seeds each counter's carry.
  StoreResult<std::optional<rollup::BaseBucket>> previous_bucket(std::string_view device_id,
                                                                 std::int64_t before_ms) {
    if (auto ok = prepare(select_previous_bucket,
                          "SELECT data FROM base_buckets WHERE device_id = ?1 AND "
                          "start_ms < ?2 ORDER BY start_ms DESC LIMIT 1");
        !ok)
      return ok.error();
    Stmt& previous = *select_previous_bucket;
    Rewind rewind(previous);
    previous.bind(1, device_id);
    previous.bind(2, before_ms);
    auto row = previous.step("read preceding bucket");
    if (!row) return row.error();
    if (!*row) return std::optional<rollup::BaseBucket>{};
    auto bucket = base_bucket_from_json(previous.column_text(0));
    if (!bucket) return StoreError{StoreErrorKind::internal, bucket.error().message};
    return std::optional<rollup::BaseBucket>{*bucket};
  }

  // Appends the stored pieces of `level` with start in [from_ms, to_ms) to `out`, in order.
  StoreResult<void> read_pieces(rollup::SpanLevel level, std::string_view device_id,
                                std::int64_t from_ms, std::int64_t to_ms,
                                std::vector<rollup::Span>& out) {
    auto slot = range_statement(level);
    if (!slot) return slot.error();
    Stmt& stmt = **slot.value();
    Rewind rewind(stmt);
    stmt.bind(1, device_id);
    stmt.bind(2, from_ms);
    stmt.bind(3, to_ms);
    for (;;) {
      auto row = stmt.step("read series pieces");
      if (!row) return row.error();
      if (!*row) return {};
      if (level == rollup::SpanLevel::base) {
        auto bucket = base_bucket_from_json(stmt.column_text(0));
        if (!bucket) return StoreError{StoreErrorKind::internal, bucket.error().message};
        out.push_back(rollup::to_span(*bucket));
      } else {
        auto span = span_from_bytes(stmt.column_blob(0));
        if (!span) return StoreError{StoreErrorKind::internal, span.error().message};
        out.push_back(*span);
      }
    }
  }

  // Recomputes the `level` span at each key from the finer pieces now stored, so late data,
  // replays and any batch order leave the spans exactly as an in-order load would.
  StoreResult<void> refresh_level(rollup::SpanLevel level, const std::set<SpanKey>& keys) {
    const bool hour = level == rollup::SpanLevel::hour;
    const auto finer = hour ? rollup::SpanLevel::base : rollup::SpanLevel::hour;
    const auto width_ms = rollup::width(level).count();
    auto& upsert_slot = hour ? upsert_hour : upsert_day;
    auto& delete_slot = hour ? delete_hour : delete_day;
    const std::string table = hour ? "hour_spans" : "day_spans";
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
    std::vector<rollup::Span> pieces;
    for (const auto& [device, start_ms] : keys) {
      pieces.clear();
      if (auto read = read_pieces(finer, device, start_ms, start_ms + width_ms, pieces); !read) {
        return read.error();
      }
      const auto start = Timestamp{std::chrono::milliseconds{start_ms}};
      const auto span = rollup::summarize(pieces, start, start + rollup::width(level));
      Stmt& stmt = span ? *upsert_slot : *delete_slot;
      Rewind rewind(stmt);
      stmt.bind(1, device);
      stmt.bind(2, start_ms);
      if (span) stmt.bind_blob(3, span_to_bytes(*span));
      if (auto done = stmt.step("write span"); !done) return done.error();
    }
    return {};
  }

  // The hour spans holding `base_keys` (base bucket starts), then the day spans holding those.
  StoreResult<void> refresh_spans(const std::set<SpanKey>& base_keys) {
    std::set<SpanKey> hours;
    for (const auto& [device, ms] : base_keys) {
      hours.emplace(device, floor_ms(rollup::SpanLevel::hour, ms));
    }
    if (auto ok = refresh_level(rollup::SpanLevel::hour, hours); !ok) return ok.error();
    std::set<SpanKey> days;
    for (const auto& [device, ms] : hours)
      days.emplace(device, floor_ms(rollup::SpanLevel::day, ms));
    return refresh_level(rollup::SpanLevel::day, days);
  }

  // The spans migration's data step: every stored base bucket's hour and day.
  StoreResult<void> backfill_spans() {
    if (auto ok = prepare(select_all_bucket_keys, "SELECT device_id, start_ms FROM base_buckets");
        !ok)
      return ok.error();
    Stmt& stmt = *select_all_bucket_keys;
    std::set<SpanKey> keys;
    {
      Rewind rewind(stmt);
      for (;;) {
        auto row = stmt.step("read base bucket keys");
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
  auto impl = std::make_unique<Impl>();
  sqlite3* raw = nullptr;
  // NOMUTEX: Impl::mutex serializes every use of the connection.
  const int flags =
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  impl->db.reset(raw);  // owned even on failure: open may allocate a handle anyway
  if (rc != SQLITE_OK) {
    return sql_error(impl->db.get(), rc, fmt::format("open {}", path.string()));
  }
  sqlite3* db = impl->db.get();
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, static_cast<int>(options.busy_timeout.count()));

  {
    // journal_mode answers with the mode in effect; anything but "wal" (e.g. a read-only
    // directory) must not pass silently.
    std::optional<Stmt> pragma;
    if (auto ok = impl->prepare(pragma, "PRAGMA journal_mode = WAL"); !ok) return ok.error();
    Stmt& stmt = *pragma;
    auto row = stmt.step("set WAL");
    if (!row) return row.error();
    if (!*row || stmt.column_text(0) != "wal") {
      return StoreError{StoreErrorKind::unavailable,
                        fmt::format("sqlite: {} cannot use WAL journaling", path.string())};
    }
  }
  // FULL: a commit acknowledged to the edge must survive power loss (the edge then deletes it).
  if (auto set = exec(db, "PRAGMA synchronous = FULL", "set synchronous"); !set) {
    return set.error();
  }
  if (options.max_page_count > 0) {
    const auto sql = fmt::format("PRAGMA max_page_count = {}", options.max_page_count);
    std::optional<Stmt> pragma;
    if (auto ok = impl->prepare(pragma, sql); !ok) return ok.error();
    Stmt& stmt = *pragma;
    if (auto row = stmt.step("set max_page_count"); !row) return row.error();
  }
  return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(impl)));
}

StoreResult<void> SqliteStore::migrate() {
  std::lock_guard lock(impl_->mutex);
  sqlite3* db = impl_->db.get();
  // IMMEDIATE takes the write lock first, so two servers starting at once run the migrations one
  // after the other (the second finds them recorded): SQLite's stand-in for an advisory lock.
  auto tx = Transaction::begin(db, "BEGIN IMMEDIATE");
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
  std::optional<Stmt> record;
  if (auto ok = impl_->prepare(
          record, "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)");
      !ok)
    return ok.error();
  Stmt& insert = *record;
  for (const auto& m : kMigrations) {
    if (m.version <= applied) continue;
    const std::string sql(m.sql);  // sqlite3_exec needs NUL termination
    if (auto ran = exec(db, sql.c_str(), fmt::format("migration {}", m.version)); !ran) {
      return ran.error();
    }
    Rewind rewind(insert);
    insert.bind(1, m.version);
    insert.bind(2, format_rfc3339(now_utc()));
    if (auto row = insert.step("record migration"); !row) return row.error();
    if (m.version == kSpansMigration) {
      if (auto filled = impl_->backfill_spans(); !filled) return filled.error();
    }
  }
  return tx->commit();
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
  sqlite3* db = impl_->db.get();
  if (auto ok = impl_->prepare(impl_->insert_sample,
                               "INSERT INTO samples (device_id, ts_ms, seq, body) "
                               "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (device_id, ts_ms) DO NOTHING");
      !ok)
    return ok.error();
  Stmt& insert = *impl_->insert_sample;

  auto tx = Transaction::begin(db, "BEGIN IMMEDIATE");
  if (!tx) return tx.error();
  // Deltas of the inserted rows per (device, bucket); the map's order makes the bucket writes
  // deterministic. merge is order-independent, so folding here then into the stored bucket gives
  // the same bucket as any other order of the same samples.
  std::map<std::pair<std::string, std::int64_t>, rollup::BaseBucket> deltas;
  for (const Sample& s : samples) {
    Rewind rewind(insert);
    insert.bind(1, s.device_id);
    insert.bind(2, unix_millis(s.ts));
    insert.bind(3, s.seq);
    insert.bind(4, to_json_text(s));
    if (auto row = insert.step("insert sample"); !row) return row.error();
    if (sqlite3_changes64(db) == 0) continue;  // a duplicate: DO NOTHING changed no row
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
  if (auto committed = tx->commit(); !committed) return committed.error();
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
  Stmt& select = *impl_->select_latest;
  Rewind rewind(select);
  select.bind(1, device_id);
  select.bind(2, unix_millis(not_after));
  for (;;) {
    auto row = select.step("read latest sample");
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
  auto tx = Transaction::begin(impl_->db.get(), "BEGIN");
  if (!tx) return tx.error();
  std::vector<rollup::BaseBucket> out;
  auto previous = impl_->previous_bucket(device_id, unix_millis(from));
  if (!previous) return previous.error();
  if (previous->has_value()) out.push_back(**previous);
  if (from < to) {
    auto slot = impl_->range_statement(rollup::SpanLevel::base);
    if (!slot) return slot.error();
    Stmt& range = **slot.value();
    Rewind rewind(range);
    range.bind(1, device_id);
    range.bind(2, unix_millis(from));
    range.bind(3, unix_millis(to));
    for (;;) {
      auto row = range.step("read base buckets");
      if (!row) return row.error();
      if (!*row) break;
      auto bucket = base_bucket_from_json(range.column_text(0));
      if (!bucket) return StoreError{StoreErrorKind::internal, bucket.error().message};
      out.push_back(*bucket);
    }
  }
  if (auto committed = tx->commit(); !committed) return committed.error();
  return out;
}

StoreResult<std::vector<rollup::Span>> SqliteStore::series_spans(
    std::string_view device_id, std::span<const rollup::BucketRange> ranges) {
  std::lock_guard lock(impl_->mutex);
  std::vector<rollup::Span> out;
  if (ranges.empty()) return out;
  // One read transaction: every level comes from the same snapshot.
  auto tx = Transaction::begin(impl_->db.get(), "BEGIN");
  if (!tx) return tx.error();
  auto previous = impl_->previous_bucket(device_id, unix_millis(ranges.front().start));
  if (!previous) return previous.error();
  if (previous->has_value()) out.push_back(rollup::to_span(**previous));
  for (const auto& interval : rollup::plan_spans(ranges)) {
    if (auto read = impl_->read_pieces(interval.level, device_id, unix_millis(interval.from),
                                       unix_millis(interval.to), out);
        !read) {
      return read.error();
    }
  }
  if (auto committed = tx->commit(); !committed) return committed.error();
  return out;
}

StoreResult<void> SqliteStore::ping() {
  std::lock_guard lock(impl_->mutex);
  // schema_version is read from the database header, so this reaches the file, not just memory.
  return exec(impl_->db.get(), "PRAGMA schema_version", "ping");
}

}  // namespace sungrow::storage
