// SqliteStore only: what the contract suite cannot see (the raw migration table, WAL mode, and a
// disk that fills up mid-commit). Everything store-generic is in store_contract_test.cpp.
#include "sungrow/server/storage/sqlite_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "sungrow/server/rollup/frames.hpp"

namespace sungrow::storage {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// 2026-03-01T00:00:00Z, on the 5-minute grid.
const Timestamp kDay{1'772'323'200'000ms};

std::vector<Sample> series_of(const std::string& device, Timestamp from, int count) {
  std::vector<Sample> out;
  for (int i = 0; i < count; ++i) {
    Sample s;
    s.device_id = device;
    s.ts = from + i * 5s;
    s.seq = i + 1;
    s.pv_power_w = 1000 + 0.1 * i;
    s.battery_soc_pct = 50 + 0.01 * i;
    s.pv_energy_total_kwh = 1000 + 0.001 * i;
    out.push_back(s);
  }
  return out;
}

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sungrow-store-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::unique_ptr<SqliteStore> open_store(const std::string& name,
                                          const SqliteOptions& options = {}) {
    auto opened = SqliteStore::open(dir_ / name, options);
    if (!opened) {
      ADD_FAILURE() << opened.error().message;
      return nullptr;
    }
    std::unique_ptr<SqliteStore> store = std::move(opened).value();
    auto migrated = store->migrate();
    EXPECT_TRUE(migrated) << migrated.error().message;
    return store;
  }

  // Every row of `sql`, columns joined by '|': compares raw stored bytes.
  std::vector<std::string> dump(const std::string& name, const char* sql) {
    sqlite3* raw = nullptr;
    std::vector<std::string> rows;
    if (sqlite3_open_v2((dir_ / name).c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << "cannot open";
      sqlite3_close(raw);
      return rows;
    }
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(raw, sql, -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(raw);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::string row;
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        const auto* text = sqlite3_column_text(stmt, c);
        row += text != nullptr ? reinterpret_cast<const char*>(text) : "NULL";
        row += '|';
      }
      rows.push_back(row);
    }
    sqlite3_finalize(stmt);
    sqlite3_close(raw);
    return rows;
  }

  fs::path dir_;
};

TEST_F(SqliteStoreTest, MigrationsAreRecordedWithTheirTimeAndTheFileIsInWalMode) {
  auto store = open_store("store.db");
  ASSERT_TRUE(store);
  const auto recorded =
      dump("store.db", "SELECT version, length(applied_at) FROM schema_migrations");
  ASSERT_EQ(recorded.size(), 4U);
  EXPECT_EQ(recorded[0], "1|24|");  // "2026-…T…:….123Z"
  EXPECT_EQ(recorded[1], "2|24|");
  EXPECT_EQ(recorded[2], "3|24|");
  EXPECT_EQ(recorded[3], "4|24|");
  EXPECT_EQ(dump("store.db", "PRAGMA journal_mode"), std::vector<std::string>{"wal|"});
}

TEST_F(SqliteStoreTest, ADiskFullCommitLeavesNeitherSamplesNorBucketsAndIsUnavailable) {
  SqliteOptions options;
  options.max_page_count = 40;  // test hook: the file may not grow past 40 pages
  auto store = open_store("full.db", options);
  ASSERT_TRUE(store);
  auto buckets_of = [&] {
    return dump("full.db", "SELECT device_id, start_ms, data FROM base_buckets ORDER BY 1, 2");
  };
  auto samples_of = [&] {
    return dump("full.db", "SELECT device_id, ts_ms, seq, body FROM samples ORDER BY 1, 2");
  };
  auto spans_of = [&] {
    return dump("full.db", "SELECT device_id, start_ms, hex(data) FROM hour_spans ORDER BY 1, 2");
  };
  std::vector<std::string> buckets;
  std::vector<std::string> samples;
  std::vector<std::string> spans;
  StoreResult<WriteOutcome> outcome = WriteOutcome{};
  int batch_no = 0;
  for (; batch_no < 100; ++batch_no) {
    buckets = buckets_of();
    samples = samples_of();
    spans = spans_of();
    outcome = store->insert_batch(series_of("dev", kDay + batch_no * 10min, 30));
    if (!outcome) break;
  }
  ASSERT_FALSE(outcome) << "the page cap never hit";
  EXPECT_GT(batch_no, 0);
  EXPECT_EQ(outcome.error().kind, StoreErrorKind::unavailable) << outcome.error().message;
  EXPECT_EQ(buckets_of(), buckets);
  EXPECT_EQ(samples_of(), samples);
  EXPECT_EQ(spans_of(), spans);
  EXPECT_TRUE(store->ping());
  EXPECT_TRUE(store->latest("dev"));
}

// The upgrade path: a database of schema version 1 (base buckets, no spans) gets its hour and day
// spans computed by the spans migration, identical to what ingest maintains.
TEST_F(SqliteStoreTest, TheSpansMigrationFillsSpansFromExistingBaseBuckets) {
  auto current = open_store("current.db");
  ASSERT_TRUE(current);
  auto samples = series_of("dev", kDay - 30min, 2000);  // ~2.8 h, three UTC hours, two days
  auto other = series_of("other", kDay + 5h, 100);
  samples.insert(samples.end(), other.begin(), other.end());
  ASSERT_TRUE(current->insert_batch(samples));
  current.reset();
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "old.db").c_str(), &raw), SQLITE_OK);
    const std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
    const auto attach = "ATTACH '" + (dir_ / "current.db").string() + "' AS cur";
    for (const char* sql : {
             // Schema version 1, verbatim.
             "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT "
             "NULL)",
             "INSERT INTO schema_migrations VALUES (1, '2026-01-01T00:00:00.000Z')",
             "CREATE TABLE samples (device_id TEXT NOT NULL CHECK (length(device_id) BETWEEN 1 "
             "AND 64), ts_ms INTEGER NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL, PRIMARY "
             "KEY (device_id, ts_ms))",
             "CREATE TABLE base_buckets (device_id TEXT NOT NULL, start_ms INTEGER NOT NULL "
             "CHECK (start_ms % 300000 = 0), data TEXT NOT NULL, PRIMARY KEY (device_id, "
             "start_ms))",
             attach.c_str(),
             "INSERT INTO samples SELECT * FROM cur.samples",
             "INSERT INTO base_buckets SELECT * FROM cur.base_buckets",
         }) {
      ASSERT_EQ(sqlite3_exec(db.get(), sql, nullptr, nullptr, nullptr), SQLITE_OK)
          << sqlite3_errmsg(db.get());
    }
  }
  auto upgraded = open_store("old.db");
  ASSERT_TRUE(upgraded);
  EXPECT_EQ(upgraded->schema_version().value(), 4);
  for (const char* sql : {"SELECT device_id, start_ms, hex(data) FROM hour_spans ORDER BY 1, 2",
                          "SELECT device_id, start_ms, hex(data) FROM day_spans ORDER BY 1, 2"}) {
    const auto expected = dump("current.db", sql);
    EXPECT_GE(expected.size(), 2U);
    EXPECT_EQ(dump("old.db", sql), expected);
  }
}

// A row whose body no longer decodes (damaged, or written by an older server) is skipped and
// counted by latest(): the device stays readable.
TEST_F(SqliteStoreTest, LatestSkipsARowThatDoesNotDecodeAndCountsIt) {
  auto store = open_store("damaged.db");
  ASSERT_TRUE(store);
  const auto samples = series_of("dev", kDay, 5);
  ASSERT_TRUE(store->insert_batch(samples));
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "damaged.db").c_str(), &raw), SQLITE_OK);
    const std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
    ASSERT_EQ(sqlite3_exec(db.get(),
                           ("UPDATE samples SET body = '{\"ts\":\"soon\"}' WHERE ts_ms = " +
                            std::to_string(unix_millis(samples.back().ts)))
                               .c_str(),
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    ASSERT_EQ(sqlite3_changes(db.get()), 1);
  }
  EXPECT_EQ(store->skipped_rows(), 0);
  auto latest = store->latest("dev");
  ASSERT_TRUE(latest) << latest.error().message;
  ASSERT_TRUE(latest.value().has_value());
  EXPECT_EQ(*latest.value(), samples[3]);
  EXPECT_EQ(store->skipped_rows(), 1);
}

// Series pieces that no longer decode (a damaged hour span, a damaged base bucket) are left out
// and counted: the series answers with the rest instead of failing as a whole.
TEST_F(SqliteStoreTest, SeriesLeavesOutPiecesThatDoNotDecodeAndCountsThem) {
  auto store = open_store("damaged-pieces.db");
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->insert_batch(series_of("dev", kDay, 2000)));  // ~2.8 h
  const auto* utc = rollup::find_zone("UTC").value();
  const auto hours = rollup::buckets(rollup::Frame::hour, utc, kDay, kDay + 3h);
  const auto minutes = rollup::buckets(rollup::Frame::five_minutes, utc, kDay + 1h, kDay + 2h);
  const auto intact_hours = store->series_spans("dev", hours).value().size();
  const auto intact_minutes = store->series_spans("dev", minutes).value().size();
  ASSERT_EQ(intact_hours, 3U);     // three hour spans, nothing before the first
  ASSERT_EQ(intact_minutes, 13U);  // the bucket before, then twelve 5-minute buckets
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "damaged-pieces.db").c_str(), &raw), SQLITE_OK);
    const std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
    const auto at = [](Timestamp t) { return std::to_string(unix_millis(t)); };
    ASSERT_EQ(sqlite3_exec(db.get(),
                           ("UPDATE hour_spans SET data = x'00' WHERE start_ms = " + at(kDay + 1h) +
                            "; UPDATE base_buckets SET data = '{\"start\":' WHERE start_ms = " +
                            at(kDay + 1h + 30min))
                               .c_str(),
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
  }
  EXPECT_EQ(store->skipped_rows(), 0);
  const auto damaged_hours = store->series_spans("dev", hours);
  ASSERT_TRUE(damaged_hours) << damaged_hours.error().message;
  EXPECT_EQ(damaged_hours.value().size(), intact_hours - 1);
  EXPECT_EQ(store->skipped_rows(), 1);
  const auto damaged_minutes = store->series_spans("dev", minutes);
  ASSERT_TRUE(damaged_minutes) << damaged_minutes.error().message;
  EXPECT_EQ(damaged_minutes.value().size(), intact_minutes - 1);
  EXPECT_EQ(store->skipped_rows(), 2);
  const auto buckets = store->base_buckets("dev", kDay + 1h, kDay + 2h);
  ASSERT_TRUE(buckets) << buckets.error().message;
  EXPECT_EQ(buckets.value().size(), intact_minutes - 1);
  EXPECT_EQ(store->skipped_rows(), 3);
}

}  // namespace
}  // namespace sungrow::storage
