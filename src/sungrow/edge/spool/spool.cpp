// The spool: samples committed to SQLite (WAL) before a poll counts as done, deleted only on ack.
#include "sungrow/edge/spool/spool.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <limits>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "sungrow/core/logger.hpp"
#include "sungrow/core/sample_json.hpp"
#include "sungrow/sqlite/database.hpp"

namespace sungrow::edge {

namespace {
spdlog::logger& log() {
  return component_logger("spool");
}
}  // namespace

namespace {

constexpr std::int64_t kSchemaVersion = 2;

// Samples written per transaction when a backlog held in memory is flushed: one fsync per chunk
// instead of per sample, yet a chunk that no longer fits is retried one sample at a time.
constexpr std::size_t kFlushChunk = 64;

// SQLite's compile-time default SQLITE_MAX_PAGE_COUNT (3.40): "no cap" for set_max_pages(0).
constexpr std::uint64_t kSqliteMaxPageCount = 1'073'741'823;

// The WAL is outside max_page_count; keep it from staying large after a burst of writes.
constexpr std::int64_t kJournalSizeLimitBytes = 4 * 1024 * 1024;

// seq is per device (DESIGN §3: 1..N per device) and assigned here, not by SQLite, because it goes
// into the JSON body and must be known before the write (a sample held in memory keeps its place).
// device_clock keeps each device's last seq and ts across acks, so neither ever goes back even
// when every row was deleted. `id` is the row's place in the queue, across devices.
constexpr std::string_view kCreateSchema[] = {
    "CREATE TABLE samples(id INTEGER PRIMARY KEY, device_id TEXT NOT NULL, seq INTEGER NOT NULL,"
    " ts_ms INTEGER NOT NULL, body TEXT NOT NULL) STRICT",
    "CREATE UNIQUE INDEX samples_by_device ON samples(device_id, seq)",
    "CREATE TABLE dead_letter(id INTEGER PRIMARY KEY, device_id TEXT NOT NULL,"
    " seq INTEGER NOT NULL, ts_ms INTEGER NOT NULL, body TEXT NOT NULL, reason TEXT NOT NULL,"
    " at_ms INTEGER NOT NULL) STRICT",
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT",
    "CREATE TABLE device_clock(device_id TEXT PRIMARY KEY, last_ts_ms INTEGER NOT NULL,"
    " last_seq INTEGER NOT NULL DEFAULT 0) STRICT",
    "PRAGMA user_version = 2",
};

// Version 1 had one seq across devices (meta.last_seq, the row key). Every device continues from
// that global last seq, which is above each of its own: its seq stays strictly increasing, and a
// single-device spool goes on exactly where it was. Rows keep their seq and their queue order.
constexpr std::string_view kMigrateV1ToV2[] = {
    "ALTER TABLE device_clock ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0",
    "INSERT OR IGNORE INTO device_clock(device_id, last_ts_ms)"
    " SELECT device_id, max(ts_ms) FROM samples GROUP BY device_id",
    "UPDATE device_clock SET last_seq = (SELECT value FROM meta WHERE key = 'last_seq')",
    "CREATE TABLE samples_v2(id INTEGER PRIMARY KEY, device_id TEXT NOT NULL,"
    " seq INTEGER NOT NULL, ts_ms INTEGER NOT NULL, body TEXT NOT NULL) STRICT",
    "INSERT INTO samples_v2(id, device_id, seq, ts_ms, body)"
    " SELECT seq, device_id, seq, ts_ms, body FROM samples",
    "DROP TABLE samples",
    "ALTER TABLE samples_v2 RENAME TO samples",
    "CREATE UNIQUE INDEX samples_by_device ON samples(device_id, seq)",
    "CREATE TABLE dead_letter_v2(id INTEGER PRIMARY KEY, device_id TEXT NOT NULL,"
    " seq INTEGER NOT NULL, ts_ms INTEGER NOT NULL, body TEXT NOT NULL, reason TEXT NOT NULL,"
    " at_ms INTEGER NOT NULL) STRICT",
    "INSERT INTO dead_letter_v2(id, device_id, seq, ts_ms, body, reason, at_ms)"
    " SELECT seq, device_id, seq, ts_ms, body, reason, at_ms FROM dead_letter",
    "DROP TABLE dead_letter",
    "ALTER TABLE dead_letter_v2 RENAME TO dead_letter",
    "DELETE FROM meta WHERE key = 'last_seq'",
    "PRAGMA user_version = 2",
};

std::int64_t to_ms(Timestamp ts) {
  return ts.time_since_epoch().count();
}
Timestamp from_ms(std::int64_t ms) {
  return Timestamp{std::chrono::milliseconds{ms}};
}

std::int64_t clamp_to_int64(std::uint64_t n) {
  return static_cast<std::int64_t>(std::min<std::uint64_t>(
      n, static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())));
}

std::string_view synchronous_pragma(SpoolSync mode) {
  // FULL in production. In WAL mode NORMAL syncs only at checkpoints, so a power cut can roll back
  // the last commits, and the polls that produced them cannot be repeated.
  // FULL adds one fsync of the WAL per commit: at one sample per 5 s that cost is negligible (see
  // bench/spool for the figures). A kill -9 loses nothing in either mode; power loss is the
  // difference.
  switch (mode) {
    case SpoolSync::off:
      return "PRAGMA synchronous = OFF";
    case SpoolSync::normal:
      return "PRAGMA synchronous = NORMAL";
    case SpoolSync::full:
      break;
  }
  return "PRAGMA synchronous = FULL";
}

Error open_error(const std::filesystem::path& path, const sqlite::Failure& failure) {
  switch (failure.code & 0xff) {
    case SQLITE_NOTADB:
      return fail(fmt::format("spool {}: not a SQLite database, or its header is corrupted: {}",
                              path.string(), failure.message));
    case SQLITE_CORRUPT:
      return fail(
          fmt::format("spool {}: the database is corrupted: {}", path.string(), failure.message));
    default:
      return fail(fmt::format("spool {}: cannot open: {}", path.string(), failure.message));
  }
}

Error spool_error(std::string_view what, const sqlite::Failure& failure) {
  return fail(fmt::format("{}: {}", what, failure.message));
}

// The statements of the hot paths, prepared once per connection.
struct Statements {
  sqlite::Statement claim_seq;
  sqlite::Statement insert_sample;
  sqlite::Statement select_oldest;
  sqlite::Statement select_oldest_of_device;
  sqlite::Statement delete_sample;
  sqlite::Statement copy_to_dead_letter;
  sqlite::Statement select_dead_letters;
  sqlite::Statement count_samples;
  sqlite::Statement count_dead_letters;
  sqlite::Statement oldest_ts;
  sqlite::Statement newest_ts;

  static sqlite::SqlResult<Statements> prepare(sqlite::Connection& db) {
    Statements s;
    const std::pair<sqlite::Statement*, std::string_view> all[] = {
        // Conditional, so a sample whose commit was reported failed but did reach the disk is
        // never written twice: a seq at or below the device's last_seq is already stored (or
        // acked), and then nothing changes.
        {&s.claim_seq,
         "INSERT INTO device_clock(device_id, last_ts_ms, last_seq) VALUES(?1, ?2, ?3)"
         " ON CONFLICT(device_id) DO UPDATE SET last_seq = excluded.last_seq,"
         " last_ts_ms = max(last_ts_ms, excluded.last_ts_ms) WHERE last_seq < excluded.last_seq"},
        {&s.insert_sample, "INSERT INTO samples(device_id, seq, ts_ms, body) VALUES(?, ?, ?, ?)"},
        {&s.select_oldest, "SELECT seq, ts_ms, body, device_id FROM samples ORDER BY id LIMIT ?"},
        {&s.select_oldest_of_device,
         "SELECT seq, ts_ms, body, device_id FROM samples WHERE device_id = ?1"
         " ORDER BY seq LIMIT ?2"},
        {&s.delete_sample, "DELETE FROM samples WHERE device_id = ?1 AND seq = ?2"},
        {&s.copy_to_dead_letter,
         "INSERT INTO dead_letter(device_id, seq, ts_ms, body, reason, at_ms)"
         " SELECT device_id, seq, ts_ms, body, ?3, ?4 FROM samples"
         " WHERE device_id = ?1 AND seq = ?2"},
        {&s.select_dead_letters,
         "SELECT seq, ts_ms, body, reason, at_ms, device_id FROM dead_letter ORDER BY id LIMIT ?"},
        {&s.count_samples, "SELECT device_id, count(*) FROM samples GROUP BY device_id"},
        {&s.count_dead_letters, "SELECT device_id, count(*) FROM dead_letter GROUP BY device_id"},
        {&s.oldest_ts, "SELECT ts_ms FROM samples WHERE device_id = ? ORDER BY seq LIMIT 1"},
        {&s.newest_ts, "SELECT ts_ms FROM samples WHERE device_id = ? ORDER BY seq DESC LIMIT 1"},
    };
    for (const auto& [stmt, sql] : all) {
      auto prepared = db.prepare(sql);
      if (!prepared) return prepared.error();
      *stmt = std::move(*prepared);
    }
    return s;
  }
};

// Per device: the last seq and ts handed out (durable or still in memory), and how many samples in
// a row needed a bump, so a clock step gives one warning and not one per poll.
struct DeviceClock {
  std::int64_t last_ts_ms = 0;
  std::uint64_t bumped_in_a_row = 0;
  std::int64_t last_seq = 0;
};

// Rows per device, kept in step with every commit.
struct DeviceCounts {
  std::uint64_t depth = 0;
  std::uint64_t dead_letters = 0;
};

struct PendingSample {
  Sample sample;
  std::string body;
};

sqlite::SqlResult<std::optional<std::int64_t>> query_optional_int64(sqlite::Statement& stmt) {
  sqlite::ResetOnExit rewind(stmt);
  auto row = stmt.next_row();
  if (!row) return row.error();
  if (!*row) return std::optional<std::int64_t>{};
  return std::optional<std::int64_t>{stmt.column_int64(0)};
}

}  // namespace

struct Spool::Impl {
  Impl(std::filesystem::path spool_path, SpoolOptions spool_options, sqlite::Connection connection,
       Statements statements)
      : path(std::move(spool_path)),
        options(spool_options),
        db(std::move(connection)),
        sql(std::move(statements)) {}

  // Guards everything below: the poll thread enqueues while the upload thread peeks and acks.
  mutable std::mutex mutex;
  std::filesystem::path path;
  SpoolOptions options;
  sqlite::Connection db;
  Statements sql;

  std::map<std::string, DeviceClock, std::less<>> clocks;  // every device ever spooled
  // Samples with seq and ts assigned that the disk refused, oldest first; written before any newer.
  std::deque<PendingSample> pending;
  std::uint64_t lost_in_memory = 0;
  std::optional<std::string> last_write_error;
  std::uint64_t failed_attempts_in_a_row = 0;  // for logging: the first, then every Nth
  // Row counts kept in step with every commit: count(*) scans the table, which takes tens of
  // milliseconds on a week of backlog (far more on an SD card) and stats() runs every cycle.
  // Empty until first needed, then maintained; this process is the spool's only writer.
  std::optional<std::map<std::string, DeviceCounts, std::less<>>> counts;
  std::map<std::string, std::uint64_t, std::less<>> inserted_in_tx;

  sqlite::SqlResult<void> load_state() {
    auto stmt = db.prepare("SELECT device_id, last_ts_ms, last_seq FROM device_clock");
    if (!stmt) return stmt.error();
    sqlite::ResetOnExit rewind(*stmt);
    for (;;) {
      auto row = stmt->next_row();
      if (!row) return row.error();
      if (!*row) return {};
      auto& clock = clocks[std::string(stmt->column_text(0))];
      clock.last_ts_ms = stmt->column_int64(1);
      clock.last_seq = stmt->column_int64(2);
    }
  }

  // Counts rows per device once (a table scan), to be maintained from then on.
  sqlite::SqlResult<void> ensure_counts() {
    if (counts) return {};
    std::map<std::string, DeviceCounts, std::less<>> fresh;
    for (auto* stmt : {&sql.count_samples, &sql.count_dead_letters}) {
      sqlite::ResetOnExit rewind(*stmt);
      for (;;) {
        auto row = stmt->next_row();
        if (!row) return row.error();
        if (!*row) break;
        auto& c = fresh[std::string(stmt->column_text(0))];
        const auto n = static_cast<std::uint64_t>(stmt->column_int64(1));
        (stmt == &sql.count_samples ? c.depth : c.dead_letters) = n;
      }
    }
    counts = std::move(fresh);
    return {};
  }

  // The only device ever spooled, for the calls that name none; an error when there are several.
  Result<std::string> sole_device(std::string_view what) const {
    if (clocks.size() > 1)
      return fail(
          fmt::format("{}: the spool holds {} devices; name the device", what, clocks.size()));
    std::string sole = clocks.empty() ? std::string{} : clocks.begin()->first;
    return Result<std::string>{boost::system::in_place_value, std::move(sole)};
  }

  void assign_seq_and_ts(Sample& sample) {
    const std::int64_t wanted_ms = to_ms(sample.ts);
    auto [it, first_of_device] = clocks.try_emplace(sample.device_id, DeviceClock{wanted_ms, 0, 0});
    DeviceClock& clock = it->second;
    sample.seq = ++clock.last_seq;
    if (first_of_device) return;
    if (wanted_ms > clock.last_ts_ms) {
      if (clock.bumped_in_a_row > 0) {
        log().info("clock of device {} caught up after {} bumped samples", sample.device_id,
                   clock.bumped_in_a_row);
      }
      clock.last_ts_ms = wanted_ms;
      clock.bumped_in_a_row = 0;
      return;
    }
    // The wall clock stepped back (NTP, RTC reset). The server deduplicates on (device_id, ts), so
    // reusing a ts would make it drop a different sample as a duplicate: keep ts strictly rising.
    if (clock.bumped_in_a_row == 0) {
      log().warn(
          "spool: clock went back for device {}: sample at {} is not after the last one at {}; "
          "storing it (and the next ones until the clock catches up) at last + 1 ms",
          sample.device_id, format_rfc3339(sample.ts), format_rfc3339(from_ms(clock.last_ts_ms)));
    }
    ++clock.bumped_in_a_row;
    ++clock.last_ts_ms;
    sample.ts_adjust_ms = sample.ts_adjust_ms.value_or(0) + (clock.last_ts_ms - wanted_ms);
    sample.ts_source = TsSource::bumped;
    sample.ts = from_ms(clock.last_ts_ms);
  }

  sqlite::SqlResult<void> write_one(const PendingSample& p) {
    const Sample& s = p.sample;
    if (auto claimed = sql.claim_seq.bind(1, s.device_id).bind(2, to_ms(s.ts)).bind(3, s.seq).run();
        !claimed)
      return claimed;
    if (db.changes() == 0) return {};  // already durable (see claim_seq)
    if (auto inserted = sql.insert_sample.bind(1, s.device_id)
                            .bind(2, s.seq)
                            .bind(3, to_ms(s.ts))
                            .bind(4, p.body)
                            .run();
        !inserted) {
      return inserted;
    }
    ++inserted_in_tx[s.device_id];
    return {};
  }

  sqlite::SqlResult<void> write_front(std::size_t count) {
    auto tx = sqlite::Transaction::begin(db);
    if (!tx) return tx.error();
    inserted_in_tx.clear();
    for (std::size_t i = 0; i < count; ++i) {
      if (auto written = write_one(pending[i]); !written) return written;
    }
    auto committed = tx->commit();
    if (committed && counts) {
      for (const auto& [device, n] : inserted_in_tx) (*counts)[device].depth += n;
    } else if (!committed) {
      counts.reset();  // a commit reported failed may still have reached the disk: recount
    }
    return committed;
  }

  // Writes the samples held in memory, oldest first, until none is left or the disk refuses.
  sqlite::SqlResult<void> flush_locked() {
    std::size_t chunk = kFlushChunk;
    std::size_t flushed = 0;
    while (!pending.empty()) {
      const std::size_t count = std::min(chunk, pending.size());
      auto written = write_front(count);
      if (written) {
        pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(count));
        flushed += count;
        continue;
      }
      if (count > 1) {  // maybe only part of the chunk fits: write what fits, one by one
        chunk = 1;
        continue;
      }
      record_failure(written.error());
      return written;
    }
    if (failed_attempts_in_a_row > 0) {
      log().info(
          "spool: writes succeed again after {} failed attempt(s); {} sample(s) held in "
          "memory are now durable",
          failed_attempts_in_a_row, flushed);
      failed_attempts_in_a_row = 0;
    }
    return {};
  }

  void record_failure(const sqlite::Failure& failure) {
    // A dead disk fails every poll for days: log the first failure and then about hourly (at 5 s).
    constexpr std::uint64_t kLogEvery = 720;
    if (failed_attempts_in_a_row % kLogEvery == 0) {
      log().error("write failed, {} sample(s) kept in memory and retried: {}", pending.size(),
                  failure.message);
    }
    ++failed_attempts_in_a_row;
    last_write_error = failure.message;
  }

  // The one way the spool loses data: the disk has refused writes for so long that memory is
  // full too (a day of samples at the default). Each loss is logged and counted, oldest first,
  // because the newest samples matter most for a live view and are the ones still to come.
  void enforce_memory_cap() {
    while (pending.size() > options.max_pending_in_memory) {
      const Sample& dropped = pending.front().sample;
      log().error(
          "spool: LOST sample seq {} of device {} at {}: the disk has refused writes for {} "
          "samples and memory holds at most {}",
          dropped.seq, dropped.device_id, format_rfc3339(dropped.ts), pending.size(),
          options.max_pending_in_memory);
      pending.pop_front();
      ++lost_in_memory;
    }
  }

  sqlite::SqlResult<void> apply_max_pages(std::uint64_t max_pages) {
    const std::uint64_t pages = max_pages == 0 ? kSqliteMaxPageCount : max_pages;
    // Not stored in the file: set on every open. Below the current size SQLite keeps the size.
    return db.exec(fmt::format("PRAGMA max_page_count = {}", pages));
  }

  void flush_before_close() {
    std::lock_guard lock(mutex);
    if (pending.empty()) return;
    (void)flush_locked();
    if (!pending.empty()) {
      log().error("closing with {} sample(s) that could not be written; they are LOST",
                  pending.size());
    }
  }
};

namespace {

sqlite::SqlResult<void> create_or_check_schema(sqlite::Connection& db, std::string& problem) {
  auto version = db.query_int64("PRAGMA user_version");
  if (!version) return version.error();
  if (*version == kSchemaVersion) return {};
  if (*version > kSchemaVersion) {
    problem = fmt::format("schema version {} is newer than this build understands ({})", *version,
                          kSchemaVersion);
    return {};
  }
  if (*version == 1) {
    auto tx = sqlite::Transaction::begin(db);
    if (!tx) return tx.error();
    for (const auto sql : kMigrateV1ToV2) {
      if (auto done = db.exec(sql); !done) return done;
    }
    if (auto committed = tx->commit(); !committed) return committed;
    log().info("spool migrated from schema 1 to 2 (seq per device)");
    return {};
  }
  auto tables = db.query_int64("SELECT count(*) FROM sqlite_schema");
  if (!tables) return tables.error();
  if (*tables > 0) {
    problem = "the file is a SQLite database but not a spool (tables without a spool schema)";
    return {};
  }
  auto tx = sqlite::Transaction::begin(db);
  if (!tx) return tx.error();
  for (const auto sql : kCreateSchema) {
    if (auto done = db.exec(sql); !done) return done;
  }
  return tx->commit();
}

}  // namespace

Result<Spool> Spool::open(const std::filesystem::path& path, SpoolOptions options) {
  std::error_code ec;
  const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  if (!std::filesystem::is_directory(dir, ec)) {
    return fail(fmt::format("spool {}: directory {} does not exist", path.string(), dir.string()));
  }
  if (std::filesystem::is_directory(path, ec)) {
    return fail(fmt::format("spool {}: is a directory, expected a file", path.string()));
  }

  auto db = sqlite::Connection::open(path);
  if (!db) return open_error(path, db.error());
  db->set_busy_timeout(options.busy_timeout_ms);

  // The first statement reads the header: a foreign or damaged file fails here, not later.
  auto mode = db->query_text("PRAGMA journal_mode = WAL");
  if (!mode) return open_error(path, mode.error());
  if (*mode != "wal") {
    return fail(fmt::format("spool {}: cannot switch to WAL mode (journal mode is {})",
                            path.string(), *mode));
  }
  const std::string pragmas[] = {
      std::string(synchronous_pragma(options.synchronous)),
      fmt::format("PRAGMA journal_size_limit = {}", kJournalSizeLimitBytes),
  };
  for (const auto& pragma : pragmas) {
    if (auto set = db->exec(pragma); !set) return open_error(path, set.error());
  }
  if (options.check_integrity_on_open) {
    auto check = db->query_text("PRAGMA quick_check");
    if (!check) return open_error(path, check.error());
    if (*check != "ok") {
      return fail(fmt::format("spool {}: the database is corrupted: {}", path.string(), *check));
    }
  }

  std::string problem;
  if (auto schema = create_or_check_schema(*db, problem); !schema) {
    return open_error(path, schema.error());
  }
  if (!problem.empty()) return fail(fmt::format("spool {}: {}", path.string(), problem));

  auto statements = Statements::prepare(*db);
  if (!statements) return open_error(path, statements.error());

  auto impl = std::make_unique<Impl>(path, options, std::move(*db), std::move(*statements));
  if (auto capped = impl->apply_max_pages(options.max_pages); !capped) {
    return open_error(path, capped.error());
  }
  if (auto loaded = impl->load_state(); !loaded) return open_error(path, loaded.error());
  return Spool(std::move(impl));
}

Spool::Spool(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Spool::Spool(Spool&&) noexcept = default;
Spool& Spool::operator=(Spool&& other) noexcept {
  if (this != &other) {
    if (impl_) impl_->flush_before_close();  // as the destructor does: a last try for held samples
    impl_ = std::move(other.impl_);
  }
  return *this;
}

Spool::~Spool() {
  if (impl_) impl_->flush_before_close();
}

EnqueueOutcome Spool::enqueue(Sample sample) {
  std::lock_guard lock(impl_->mutex);
  impl_->assign_seq_and_ts(sample);
  std::string body = to_json_text(sample);
  impl_->pending.push_back(PendingSample{sample, std::move(body)});
  // Older samples held in memory go first, so the spool stays in seq order. When this fails the
  // new sample is the last one pending: it is durable exactly when nothing is pending any more.
  const bool durable = impl_->flush_locked().has_value();
  if (!durable) impl_->enforce_memory_cap();
  return EnqueueOutcome{std::move(sample), durable};
}

Result<void> Spool::flush_pending() {
  std::lock_guard lock(impl_->mutex);
  if (auto flushed = impl_->flush_locked(); !flushed) {
    return spool_error(fmt::format("{} sample(s) still in memory", impl_->pending.size()),
                       flushed.error());
  }
  return {};
}

namespace {

Result<std::vector<SpooledSample>> read_samples(sqlite::Statement& stmt) {
  std::vector<SpooledSample> out;
  for (;;) {
    auto row = stmt.next_row();
    if (!row) return spool_error("peek", row.error());
    if (!*row) return out;
    out.push_back(SpooledSample{stmt.column_int64(0), from_ms(stmt.column_int64(1)),
                                std::string(stmt.column_text(2)),
                                std::string(stmt.column_text(3))});
  }
}

}  // namespace

Result<std::vector<SpooledSample>> Spool::peek(std::size_t max) {
  std::lock_guard lock(impl_->mutex);
  auto& stmt = impl_->sql.select_oldest;
  sqlite::ResetOnExit rewind(stmt);
  stmt.bind(1, clamp_to_int64(max));
  return read_samples(stmt);
}

Result<std::vector<SpooledSample>> Spool::peek(std::string_view device_id, std::size_t max) {
  std::lock_guard lock(impl_->mutex);
  auto& stmt = impl_->sql.select_oldest_of_device;
  sqlite::ResetOnExit rewind(stmt);
  stmt.bind(1, device_id).bind(2, clamp_to_int64(max));
  return read_samples(stmt);
}

Result<void> Spool::ack(std::span<const std::int64_t> seqs) {
  if (seqs.empty()) return {};
  std::string device;
  {
    std::lock_guard lock(impl_->mutex);
    auto sole = impl_->sole_device("ack");
    if (!sole) return sole.error();
    device = std::move(*sole);
  }
  return ack(device, seqs);
}

Result<void> Spool::ack(std::string_view device_id, std::span<const std::int64_t> seqs) {
  if (seqs.empty()) return {};
  std::lock_guard lock(impl_->mutex);
  auto tx = sqlite::Transaction::begin(impl_->db);
  if (!tx) return spool_error("ack", tx.error());
  std::uint64_t deleted_rows = 0;
  for (const std::int64_t seq : seqs) {
    if (auto deleted = impl_->sql.delete_sample.bind(1, device_id).bind(2, seq).run(); !deleted) {
      return spool_error("ack", deleted.error());
    }
    deleted_rows += static_cast<std::uint64_t>(impl_->db.changes());
  }
  if (auto committed = tx->commit(); !committed) return spool_error("ack", committed.error());
  if (impl_->counts) {
    auto& depth = (*impl_->counts)[std::string(device_id)].depth;
    depth -= std::min(depth, deleted_rows);
  }
  return {};
}

Result<void> Spool::dead_letter(std::int64_t seq, std::string_view reason) {
  std::string device;
  {
    std::lock_guard lock(impl_->mutex);
    auto sole = impl_->sole_device("dead-letter");
    if (!sole) return sole.error();
    device = std::move(*sole);
  }
  return dead_letter(device, seq, reason);
}

Result<void> Spool::dead_letter(std::string_view device_id, std::int64_t seq,
                                std::string_view reason) {
  std::lock_guard lock(impl_->mutex);
  auto& db = impl_->db;
  auto tx = sqlite::Transaction::begin(db);
  if (!tx) return spool_error("dead-letter", tx.error());
  if (auto copied = impl_->sql.copy_to_dead_letter.bind(1, device_id)
                        .bind(2, seq)
                        .bind(3, reason)
                        .bind(4, to_ms(now_utc()))
                        .run();
      !copied) {
    return spool_error("dead-letter", copied.error());
  }
  if (db.changes() == 0)
    return fail(fmt::format("dead-letter: seq {} of device {} is not spooled", seq, device_id));
  if (auto deleted = impl_->sql.delete_sample.bind(1, device_id).bind(2, seq).run(); !deleted) {
    return spool_error("dead-letter", deleted.error());
  }
  if (auto committed = tx->commit(); !committed) {
    return spool_error("dead-letter", committed.error());
  }
  if (impl_->counts) {
    auto& c = (*impl_->counts)[std::string(device_id)];
    if (c.depth > 0) --c.depth;
    ++c.dead_letters;
  }
  log().warn("seq {} of device {} moved to the dead-letter table: {}", seq, device_id, reason);
  return {};
}

Result<std::vector<DeadLetter>> Spool::dead_letters(std::size_t limit) {
  std::lock_guard lock(impl_->mutex);
  auto& stmt = impl_->sql.select_dead_letters;
  sqlite::ResetOnExit rewind(stmt);
  stmt.bind(1, clamp_to_int64(limit));
  std::vector<DeadLetter> out;
  for (;;) {
    auto row = stmt.next_row();
    if (!row) return spool_error("dead letters", row.error());
    if (!*row) return out;
    out.push_back(DeadLetter{stmt.column_int64(0), from_ms(stmt.column_int64(1)),
                             std::string(stmt.column_text(2)), std::string(stmt.column_text(3)),
                             from_ms(stmt.column_int64(4)), std::string(stmt.column_text(5))});
  }
}

namespace {

// Notes share the meta table with last_seq under their own prefix, so no name can touch it.
std::string note_key(std::string_view name) {
  return fmt::format("note:{}", name);
}

}  // namespace

Result<std::optional<std::int64_t>> Spool::note(std::string_view name) {
  std::lock_guard lock(impl_->mutex);
  auto stmt = impl_->db.prepare("SELECT value FROM meta WHERE key = ?");
  if (!stmt) return spool_error("read note", stmt.error());
  stmt->bind(1, note_key(name));
  auto value = query_optional_int64(*stmt);
  if (!value) return spool_error("read note", value.error());
  return *value;
}

Result<void> Spool::set_notes(std::span<const Note> notes) {
  std::lock_guard lock(impl_->mutex);
  auto& db = impl_->db;
  auto tx = sqlite::Transaction::begin(db);
  if (!tx) return spool_error("write notes", tx.error());
  auto put = db.prepare(
      "INSERT INTO meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2");
  if (!put) return spool_error("write notes", put.error());
  auto erase = db.prepare("DELETE FROM meta WHERE key = ?");
  if (!erase) return spool_error("write notes", erase.error());
  for (const auto& [name, value] : notes) {
    const auto key = note_key(name);
    auto done = value ? put->bind(1, key).bind(2, *value).run() : erase->bind(1, key).run();
    if (!done) return spool_error("write notes", done.error());
  }
  if (auto committed = tx->commit(); !committed)
    return spool_error("write notes", committed.error());
  return {};
}

Result<void> Spool::set_max_pages(std::uint64_t max_pages) {
  std::lock_guard lock(impl_->mutex);
  if (auto set = impl_->apply_max_pages(max_pages); !set) {
    return spool_error("set max_page_count", set.error());
  }
  impl_->options.max_pages = max_pages;
  return {};
}

Result<void> Spool::verify_integrity() {
  std::lock_guard lock(impl_->mutex);
  auto stmt = impl_->db.prepare("PRAGMA integrity_check");
  if (!stmt) return spool_error("integrity check", stmt.error());
  sqlite::ResetOnExit rewind(*stmt);
  std::vector<std::string> problems;
  for (;;) {
    auto row = stmt->next_row();
    if (!row) return spool_error("integrity check", row.error());
    if (!*row) break;
    problems.emplace_back(stmt->column_text(0));
  }
  if (problems.size() == 1 && problems.front() == "ok") return {};
  return fail(fmt::format("spool {}: integrity check failed: {}", impl_->path.string(),
                          fmt::join(problems, "; ")));
}

SpoolStats Spool::stats() const {
  std::lock_guard lock(impl_->mutex);
  auto& sql = impl_->sql;
  SpoolStats s;
  s.pending_in_memory = impl_->pending.size();
  s.lost_in_memory = impl_->lost_in_memory;
  s.last_write_error = impl_->last_write_error;

  // One entry per device ever spooled; the edge's figures are their sums, min and max.
  std::map<std::string, DeviceSpoolStats, std::less<>> devices;
  for (const auto& [id, clock] : impl_->clocks) {
    auto& d = devices[id];
    d.device_id = id;
    d.last_seq = clock.last_seq;
    s.last_seq = std::max(s.last_seq, clock.last_seq);
  }
  const auto durable = [&]() -> sqlite::SqlResult<void> {
    if (auto counted = impl_->ensure_counts(); !counted) return counted;
    for (auto& [id, d] : devices) {
      if (auto it = impl_->counts->find(id); it != impl_->counts->end()) {
        d.depth = it->second.depth;
        d.dead_letters = it->second.dead_letters;
      }
      if (d.depth == 0) continue;  // no row: no ts to look up
      for (auto* stmt : {&sql.oldest_ts, &sql.newest_ts}) {
        stmt->bind(1, id);
        auto ts = query_optional_int64(*stmt);
        if (!ts) return ts.error();
        if (*ts) (stmt == &sql.oldest_ts ? d.oldest_ts : d.newest_ts) = from_ms(**ts);
      }
    }
    return {};
  }();
  if (!durable) {
    log().error("cannot read stats: {}", durable.error().message);
    for (auto& [id, d] : devices) {
      DeviceSpoolStats cleared;
      cleared.device_id = id;
      cleared.last_seq = d.last_seq;
      d = std::move(cleared);
    }
  }
  // Samples in memory are unsent too.
  for (const auto& p : impl_->pending) {
    auto& d = devices[p.sample.device_id];
    ++d.pending_in_memory;
    d.oldest_ts = d.oldest_ts ? std::min(*d.oldest_ts, p.sample.ts) : p.sample.ts;
    d.newest_ts = d.newest_ts ? std::max(*d.newest_ts, p.sample.ts) : p.sample.ts;
  }
  // With several devices their clocks may disagree, hence min/max rather than queue order.
  for (auto& [id, d] : devices) {
    s.depth += d.depth;
    s.dead_letters += d.dead_letters;
    if (d.oldest_ts) s.oldest_ts = s.oldest_ts ? std::min(*s.oldest_ts, *d.oldest_ts) : d.oldest_ts;
    if (d.newest_ts) s.newest_ts = s.newest_ts ? std::max(*s.newest_ts, *d.newest_ts) : d.newest_ts;
    s.devices.push_back(std::move(d));
  }
  return s;
}

}  // namespace sungrow::edge
