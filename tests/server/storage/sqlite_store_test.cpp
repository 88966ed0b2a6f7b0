// SqliteStore against real database files: migrations, dedup, buckets, atomicity, injection.
#include "sungrow/server/storage/sqlite_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "sungrow/server/rollup/frames.hpp"
#include "sungrow/server/rollup/series.hpp"

namespace sungrow::storage {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// 2026-03-01T00:00:00Z, on the 5-minute grid.
const Timestamp kDay{1'772'323'200'000ms};

Sample make_sample(std::string device, Timestamp ts, std::int64_t seq) {
  Sample s;
  s.device_id = std::move(device);
  s.ts = ts;
  s.seq = seq;
  const double t = static_cast<double>(seq);
  s.pv_power_w = 1000 + 0.1 * t;
  s.load_power_w = 400.5;
  s.grid_power_w = -599.5 + 0.1 * t;
  s.battery_power_w = seq % 2 == 0 ? 12.25 : -12.25;
  s.battery_soc_pct = 50 + 0.01 * t;
  s.pv_energy_total_kwh = 1000 + 0.001 * t;
  s.grid_import_total_kwh = 200.0;
  s.load_energy_today_kwh = 0.0005 * t;
  s.running_state = 0x0002;
  s.grid_power_source = GridPowerSource::meter;
  return s;
}

std::vector<Sample> series_of(const std::string& device, Timestamp from, int count,
                              std::chrono::milliseconds step = 5s) {
  std::vector<Sample> out;
  for (int i = 0; i < count; ++i) out.push_back(make_sample(device, from + i * step, i + 1));
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

  std::unique_ptr<SqliteStore> open_store(const std::string& name = "store.db",
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

  std::vector<std::string> buckets_of(const std::string& name = "store.db") {
    return dump(name, "SELECT device_id, start_ms, data FROM base_buckets ORDER BY 1, 2");
  }
  std::vector<std::string> samples_of(const std::string& name = "store.db") {
    return dump(name, "SELECT device_id, ts_ms, seq, body FROM samples ORDER BY 1, 2");
  }

  fs::path dir_;
};

TEST_F(SqliteStoreTest, MigrateTwiceIsIdempotentAndRecorded) {
  auto store = SqliteStore::open(dir_ / "store.db");
  ASSERT_TRUE(store) << store.error().message;
  auto before = (*store)->schema_version();
  ASSERT_TRUE(before);
  EXPECT_EQ(before.value(), 0);
  ASSERT_TRUE((*store)->migrate());
  ASSERT_TRUE((*store)->migrate());
  EXPECT_EQ((*store)->schema_version().value(), 1);
  const auto recorded =
      dump("store.db", "SELECT version, length(applied_at) FROM schema_migrations");
  ASSERT_EQ(recorded.size(), 1U);
  EXPECT_EQ(recorded[0], "1|24|");  // "2026-…T…:….123Z"
  // A second process (another connection) finds the migrations recorded.
  auto other = SqliteStore::open(dir_ / "store.db");
  ASSERT_TRUE(other);
  ASSERT_TRUE((*other)->migrate());
  EXPECT_EQ(dump("store.db", "SELECT count(*) FROM schema_migrations"),
            std::vector<std::string>{"1|"});
  EXPECT_EQ(dump("store.db", "PRAGMA journal_mode"), std::vector<std::string>{"wal|"});
}

TEST_F(SqliteStoreTest, InsertThenLatestRoundTripsTheNewestSample) {
  auto store = open_store();
  auto none = store->latest("dev");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none.value().has_value());

  auto samples = series_of("dev", kDay, 10);
  samples[3].power_flow = PowerFlow::from_bits(0b101);
  samples[9].mppt1_voltage_v = 0.1 + 0.2;        // a 17-digit double must come back bit-exact
  std::reverse(samples.begin(), samples.end());  // newest first: latest is by ts, not by order
  auto outcome = store->insert_batch(samples);
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_EQ(outcome.value(), (WriteOutcome{10, 10}));

  auto latest = store->latest("dev");
  ASSERT_TRUE(latest) << latest.error().message;
  ASSERT_TRUE(latest.value().has_value());
  EXPECT_EQ(*latest.value(), samples.front());
  EXPECT_FALSE(store->latest("other").value().has_value());
  EXPECT_TRUE(store->ping());
}

TEST_F(SqliteStoreTest, DuplicatesWithinAndAcrossBatchesAreIgnoredWithExactCounts) {
  auto store = open_store();
  auto first = series_of("dev", kDay, 5);
  auto changed = first[2];
  changed.pv_power_w = 99999;  // same (device_id, ts), other values: the stored one wins
  first.push_back(changed);
  first.push_back(first[0]);
  EXPECT_EQ(store->insert_batch(first).value(), (WriteOutcome{7, 5}));

  auto second = series_of("dev", kDay + 20s, 5);  // 1 overlaps (ts = kDay+20s), 4 new
  EXPECT_EQ(store->insert_batch(second).value(), (WriteOutcome{5, 4}));
  EXPECT_EQ(store->insert_batch(second).value(), (WriteOutcome{5, 0}));
  EXPECT_EQ(samples_of().size(), 9U);
  EXPECT_EQ(store->insert_batch({}).value(), (WriteOutcome{0, 0}));

  auto buckets = store->base_buckets("dev", kDay, kDay + 5min);
  ASSERT_TRUE(buckets);
  ASSERT_EQ(buckets.value().size(), 1U);
  EXPECT_EQ(buckets.value().front().samples, 9);
  EXPECT_LT(buckets.value().front().power[0].max, 99999);
}

TEST_F(SqliteStoreTest, ReplayingABatchLeavesEverythingByteIdentical) {
  auto store = open_store();
  const auto batch = series_of("dev", kDay + 2min, 200);  // spans several buckets
  ASSERT_TRUE(store->insert_batch(batch));
  const auto buckets = buckets_of();
  const auto samples = samples_of();
  EXPECT_GT(buckets.size(), 3U);
  EXPECT_EQ(store->insert_batch(batch).value(), (WriteOutcome{200, 0}));
  EXPECT_EQ(buckets_of(), buckets);
  EXPECT_EQ(samples_of(), samples);
}

TEST_F(SqliteStoreTest, OrderAndBatchingDoNotChangeTheBuckets) {
  auto in_order = open_store("a.db");
  auto shuffled = open_store("b.db");
  auto samples = series_of("dev", kDay, 500);
  auto more = series_of("dev2", kDay + 1s, 300, 7s);
  samples.insert(samples.end(), more.begin(), more.end());
  ASSERT_TRUE(in_order->insert_batch(samples));

  std::mt19937 rng(3);
  std::shuffle(samples.begin(), samples.end(), rng);
  // Uneven batches, each late relative to the previous; a replayed slice in the middle.
  std::size_t at = 0;
  for (std::size_t size : {1U, 17U, 250U, 3U, 1000U}) {
    const auto n = std::min(size, samples.size() - at);
    ASSERT_TRUE(shuffled->insert_batch(std::span(samples).subspan(at, n)));
    ASSERT_TRUE(shuffled->insert_batch(std::span(samples).subspan(at / 2, n)));
    at += n;
  }
  ASSERT_EQ(at, samples.size());
  EXPECT_EQ(buckets_of("a.db"), buckets_of("b.db"));
  EXPECT_EQ(buckets_of("a.db").size(), 9U + 7U);
}

TEST_F(SqliteStoreTest, BaseBucketsReturnsTheRangePrecededByTheLastEarlierBucket) {
  auto store = open_store();
  // Buckets at kDay, kDay+10min, kDay+20min, kDay+30min (gaps between them).
  std::vector<Sample> samples;
  for (int b = 0; b < 4; ++b) {
    auto part = series_of("dev", kDay + b * 10min + 1min, 3);
    samples.insert(samples.end(), part.begin(), part.end());
  }
  ASSERT_TRUE(store->insert_batch(samples));
  ASSERT_TRUE(store->insert_batch(series_of("other", kDay, 100)));

  auto starts = [&](Timestamp from, Timestamp to) {
    std::vector<std::chrono::minutes> out;
    for (const auto& b : store->base_buckets("dev", from, to).value()) {
      out.push_back(std::chrono::duration_cast<std::chrono::minutes>(b.start - kDay));
    }
    return out;
  };
  using M = std::vector<std::chrono::minutes>;
  EXPECT_EQ(starts(kDay, kDay + 40min), (M{0min, 10min, 20min, 30min}));  // nothing before
  EXPECT_EQ(starts(kDay + 15min, kDay + 30min), (M{10min, 20min}));       // [from,to) + prev
  EXPECT_EQ(starts(kDay + 10min, kDay + 20min), (M{0min, 10min}));        // to is exclusive
  EXPECT_EQ(starts(kDay + 1h, kDay + 2h), (M{30min}));                    // only the carry
  EXPECT_EQ(starts(kDay + 20min, kDay + 20min), (M{10min}));              // empty range
  EXPECT_EQ(starts(kDay - 1h, kDay), M{});
  EXPECT_EQ(store->base_buckets("dev", kDay, kDay + 5min).value().front().samples, 3);
}

TEST_F(SqliteStoreTest, AFailingSampleRollsBackTheWholeBatch) {
  auto store = open_store();
  ASSERT_TRUE(store->insert_batch(series_of("dev", kDay, 10)));
  const auto buckets = buckets_of();
  const auto samples = samples_of();

  auto batch = series_of("dev", kDay + 50s, 10);  // new rows in an existing and a new bucket
  batch.push_back(make_sample(std::string(65, 'x'), kDay, 1));  // violates the length CHECK
  auto outcome = store->insert_batch(batch);
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().kind, StoreErrorKind::rejected) << outcome.error().message;
  EXPECT_EQ(buckets_of(), buckets);
  EXPECT_EQ(samples_of(), samples);

  // A non-finite value is refused before anything is written.
  auto nan_batch = series_of("dev", kDay + 50s, 2);
  nan_batch[1].grid_power_w = std::numeric_limits<double>::infinity();
  auto refused = store->insert_batch(nan_batch);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, StoreErrorKind::rejected);
  EXPECT_EQ(samples_of(), samples);

  // The store stays usable after a rolled-back batch.
  EXPECT_EQ(store->insert_batch(series_of("dev", kDay + 50s, 10)).value(), (WriteOutcome{10, 10}));
}

TEST_F(SqliteStoreTest, ADiskFullCommitLeavesNeitherSamplesNorBucketsAndIsUnavailable) {
  SqliteOptions options;
  options.max_page_count = 40;  // test hook: the file may not grow past 40 pages
  auto store = open_store("full.db", options);
  std::vector<std::string> buckets;
  std::vector<std::string> samples;
  StoreResult<WriteOutcome> outcome = WriteOutcome{};
  int batch_no = 0;
  for (; batch_no < 100; ++batch_no) {
    buckets = buckets_of("full.db");
    samples = samples_of("full.db");
    outcome = store->insert_batch(series_of("dev", kDay + batch_no * 10min, 30));
    if (!outcome) break;
  }
  ASSERT_FALSE(outcome) << "the page cap never hit";
  EXPECT_GT(batch_no, 0);
  EXPECT_EQ(outcome.error().kind, StoreErrorKind::unavailable) << outcome.error().message;
  EXPECT_EQ(buckets_of("full.db"), buckets);
  EXPECT_EQ(samples_of("full.db"), samples);
  EXPECT_TRUE(store->ping());
  EXPECT_TRUE(store->latest("dev"));
}

TEST_F(SqliteStoreTest, SqlMetacharactersInDeviceIdAreJustText) {
  auto store = open_store();
  const std::vector<std::string> ids = {"x'); DROP TABLE samples;--", "%", "_", "a\"b\\c",
                                        "' OR '1'='1"};
  for (const auto& id : ids) {
    EXPECT_EQ(store->insert_batch(series_of(id, kDay, 3)).value(), (WriteOutcome{3, 3})) << id;
  }
  for (const auto& id : ids) {
    auto latest = store->latest(id);
    ASSERT_TRUE(latest && latest.value().has_value()) << id;
    EXPECT_EQ(latest.value()->device_id, id);
    auto buckets = store->base_buckets(id, kDay, kDay + 1h);
    ASSERT_TRUE(buckets);
    ASSERT_EQ(buckets.value().size(), 1U);
    EXPECT_EQ(buckets.value().front().samples, 3);  // not 3 × number of ids: LIKE/OR did not match
  }
  EXPECT_FALSE(store->latest("x").value().has_value());
  EXPECT_EQ(samples_of().size(), ids.size() * 3);
}

TEST_F(SqliteStoreTest, ConcurrentCallersSerializeSafely) {
  auto store = open_store();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const auto device = "dev" + std::to_string(t);
      for (int b = 0; b < 10; ++b) {
        EXPECT_TRUE(store->insert_batch(series_of(device, kDay + b * 5min, 60)));
        EXPECT_TRUE(store->latest(device));
        EXPECT_TRUE(store->base_buckets(device, kDay, kDay + 1h));
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(samples_of().size(), 4U * 10U * 60U);  // 60 × 5 s = one bucket per batch, no overlap
}

TEST_F(SqliteStoreTest, ADayOfFiveSecondSamplesAggregatesToOneFullDayBucket) {
  auto store = open_store();
  auto samples = series_of("dev", kDay, 17280);
  // The day before, one sample: the preceding bucket that seeds the counter carry.
  auto before = make_sample("dev", kDay - 1h, 0);
  before.pv_energy_total_kwh = 999.0;
  ASSERT_TRUE(store->insert_batch(std::span(&before, 1)));
  for (std::size_t at = 0; at < samples.size(); at += 1000) {
    const auto n = std::min<std::size_t>(1000, samples.size() - at);
    ASSERT_EQ(store->insert_batch(std::span(samples).subspan(at, n)).value().inserted,
              static_cast<std::int64_t>(n));
  }
  auto zone = rollup::find_zone("UTC");
  ASSERT_TRUE(zone);
  const auto ranges = rollup::buckets(rollup::Frame::day, zone.value(), kDay, kDay + 24h);
  ASSERT_EQ(ranges.size(), 1U);
  auto base = store->base_buckets("dev", kDay, kDay + 24h);
  ASSERT_TRUE(base);
  EXPECT_EQ(base.value().size(), 288U + 1U);
  const auto series = rollup::aggregate_series(base.value(), ranges);
  ASSERT_EQ(series.size(), 1U);
  EXPECT_EQ(series[0].samples, 17280);
  EXPECT_DOUBLE_EQ(series[0].coverage, 1.0);
  // pv counter: 999 before, 1000.001 … 1017.28 during the day → 18.28 kWh with the carry.
  ASSERT_TRUE(series[0].energy_kwh[0]);
  EXPECT_NEAR(*series[0].energy_kwh[0], 1000 + 0.001 * 17280 - 999.0, 1e-6);
}

}  // namespace
}  // namespace sungrow::storage
