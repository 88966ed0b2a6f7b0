// PgStore only, against a real PostgreSQL 15: server restarts and outages, concurrent migrations,
// the pool, timeouts, SQLSTATE mapping, and the schema as SQL users see it.
#include "sungrow/server/storage/pg_store.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <barrier>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pg_session.hpp"
#include "postgres_instance.hpp"
#include "sungrow/server/storage/pg_connection.hpp"

namespace sungrow::storage {
namespace {

using namespace std::chrono_literals;
using sungrow::test::shared_postgres;

// 2026-03-01T00:00:00Z, on the 5-minute grid.
const Timestamp kDay{1'772'323'200'000ms};

std::vector<Sample> series_of(const std::string& device, Timestamp from, int count) {
  std::vector<Sample> out;
  for (int i = 0; i < count; ++i) {
    Sample s;
    s.device_id = device;
    s.ts = from + i * 5s;
    s.seq = i + 1;
    s.pv_power_w = 1000.25 + i;
    s.grid_power_w = -12.5;
    s.battery_soc_pct = 50 + 0.01 * i;
    s.pv_energy_total_kwh = 1000 + 0.001 * i;
    s.grid_power_source = GridPowerSource::inverter;
    s.power_flow = PowerFlow::from_bits(0b010001);
    out.push_back(s);
  }
  return out;
}

std::unique_ptr<PgStore> open_migrated(const std::string& conninfo, const PgOptions& options = {}) {
  auto opened = PgStore::open(conninfo, options);
  if (!opened) {
    ADD_FAILURE() << opened.error().message;
    return nullptr;
  }
  std::unique_ptr<PgStore> store = std::move(opened).value();
  if (auto migrated = store->migrate(); !migrated) {
    ADD_FAILURE() << migrated.error().message;
    return nullptr;
  }
  return store;
}

std::int64_t stored_count(const std::string& conninfo) {
  test::PgSession raw(conninfo);
  const auto rows = raw.rows("SELECT count(*) FROM samples");
  return rows.empty() ? -1 : std::stoll(rows[0]);
}

// The restart tests stop the shared server; it must be running again for the next test.
class PgStoreTest : public ::testing::Test {
 protected:
  void TearDown() override { shared_postgres().start(); }
};

TEST_F(PgStoreTest, ARestartWhileOpenCostsAtMostOneCallAndLosesNoCommittedSample) {
  const auto db = shared_postgres().fresh_database("restart");
  auto store = open_migrated(db);
  ASSERT_TRUE(store);
  // Fill the pool: four concurrent callers hold four connections that the restart will break.
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto outcome = store->insert_batch(series_of("dev" + std::to_string(t), kDay, 100));
      EXPECT_TRUE(outcome) << outcome.error().message;
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_GE(store->open_connections(), 1U);

  shared_postgres().restart_immediate();

  // The first call may fail as unavailable (its connection died under it) or succeed (it was
  // retried on a fresh connection); it never fails otherwise.
  const auto more = series_of("dev0", kDay + 1h, 10);
  auto first = store->insert_batch(more);
  if (!first) {
    EXPECT_EQ(first.error().kind, StoreErrorKind::unavailable) << first.error().message;
    first = store->insert_batch(more);
  }
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first.value(), (WriteOutcome{10, 10}));
  // Every later call, on any pooled connection, succeeds: broken connections were replaced.
  for (int i = 0; i < 8; ++i) {
    auto latest = store->latest("dev" + std::to_string(i % 4));
    ASSERT_TRUE(latest) << latest.error().message;
    ASSERT_TRUE(latest.value().has_value());
  }
  EXPECT_TRUE(store->ping());
  EXPECT_EQ(stored_count(db), 4 * 100 + 10);
  auto buckets = store->base_buckets("dev1", kDay, kDay + 1h);
  ASSERT_TRUE(buckets);
  std::int64_t bucketed = 0;
  for (const auto& b : buckets.value()) bucketed += b.samples;
  EXPECT_EQ(bucketed, 100);
}

TEST_F(PgStoreTest, WhileTheServerIsDownCallsFailFastAsUnavailableThenRecover) {
  const auto db = shared_postgres().fresh_database("down");
  auto store = open_migrated(db);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->insert_batch(series_of("dev", kDay, 10)));

  shared_postgres().stop();
  for (int i = 0; i < 3; ++i) {
    const auto started = std::chrono::steady_clock::now();
    auto outcome = store->insert_batch(series_of("dev", kDay + 1h, 10));
    ASSERT_FALSE(outcome);
    EXPECT_EQ(outcome.error().kind, StoreErrorKind::unavailable) << outcome.error().message;
    auto pinged = store->ping();
    ASSERT_FALSE(pinged);
    EXPECT_EQ(pinged.error().kind, StoreErrorKind::unavailable);
    // A refused connection answers at once; generous bound, no timing claim.
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  }

  shared_postgres().start();
  auto outcome = store->insert_batch(series_of("dev", kDay + 1h, 10));
  ASSERT_TRUE(outcome) << outcome.error().message;
  EXPECT_EQ(outcome.value(), (WriteOutcome{10, 10}));
  EXPECT_EQ(stored_count(db), 20);
}

TEST_F(PgStoreTest, AStoreOpenedAgainstADeadPortFailsFastAsUnavailable) {
  // Port 1 on loopback: nothing listens there, the connect is refused at once.
  const std::string dead = "host=127.0.0.1 port=1 dbname=nothing user=sungrow";
  const auto started = std::chrono::steady_clock::now();
  auto opened = PgStore::open(dead);
  ASSERT_FALSE(opened);
  EXPECT_EQ(opened.error().kind, StoreErrorKind::unavailable);
  EXPECT_NE(opened.error().message.find("connect"), std::string::npos) << opened.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
}

TEST_F(PgStoreTest, ConcurrentMigrationsFromSeveralInstancesApplyEachVersionOnce) {
  const auto db = shared_postgres().fresh_database("migrate");
  constexpr int kInstances = 4;
  std::vector<std::unique_ptr<PgStore>> stores;
  for (int i = 0; i < kInstances; ++i) {
    auto opened = PgStore::open(db);
    ASSERT_TRUE(opened) << opened.error().message;
    stores.push_back(std::move(opened).value());
  }
  std::barrier start_line(kInstances);
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] {
      start_line.arrive_and_wait();
      auto migrated = stores[static_cast<std::size_t>(i)]->migrate();
      EXPECT_TRUE(migrated) << migrated.error().message;
    });
  }
  for (auto& th : threads) th.join();
  test::PgSession raw(db);
  EXPECT_EQ(raw.rows("SELECT version FROM schema_migrations ORDER BY version"),
            (std::vector<std::string>{"1", "2", "3", "4", "5", "6", "7", "8"}));
  EXPECT_EQ(stores[0]->schema_version().value(), 8);
  EXPECT_EQ(stores[3]->insert_batch(series_of("dev", kDay, 5)).value(), (WriteOutcome{5, 5}));
}

// The upgrade path: a database at schema version 2 (base buckets, no spans) gets its hour and day
// spans computed by migration 3, identical to what ingest maintains.
TEST_F(PgStoreTest, TheSpansMigrationFillsSpansFromExistingBaseBuckets) {
  const auto db = shared_postgres().fresh_database("upgrade");
  auto store = open_migrated(db);
  ASSERT_TRUE(store);
  auto samples = series_of("dev", kDay - 30min, 2000);  // ~2.8 h: three UTC hours, two days
  auto other = series_of("other", kDay + 5h, 100);
  samples.insert(samples.end(), other.begin(), other.end());
  ASSERT_TRUE(store->insert_batch(samples));
  test::PgSession raw(db);
  const std::string spans_sql =
      "SELECT 'h', device_id, span_start, encode(data, 'hex') FROM hour_spans UNION ALL "
      "SELECT 'd', device_id, span_start, encode(data, 'hex') FROM day_spans ORDER BY 1, 2, 3";
  const auto maintained = raw.rows(spans_sql);
  EXPECT_EQ(maintained.size(), 4U + 2U + 1U + 1U);
  // Back to version 2: exactly what migrations 1 and 2 leave.
  raw.rows("DROP TABLE hour_spans, day_spans");
  raw.rows(
      "ALTER TABLE samples DROP COLUMN power_flow_raw, DROP COLUMN ts_source, "
      "DROP COLUMN ts_adjust_ms, DROP COLUMN battery_capacity_kwh");
  raw.rows("DROP TABLE sessions");
  raw.rows("DELETE FROM schema_migrations WHERE version >= 3");
  auto upgraded = open_migrated(db);
  ASSERT_TRUE(upgraded);
  EXPECT_EQ(upgraded->schema_version().value(), 8);
  EXPECT_EQ(raw.rows(spans_sql), maintained);
}

TEST_F(PgStoreTest, SamplesAreRealColumnsThatSqlUsersCanQuery) {
  const auto db = shared_postgres().fresh_database("columns");
  auto store = open_migrated(db);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->insert_batch(series_of("dev", kDay, 3)));
  test::PgSession raw(db);
  EXPECT_EQ(raw.rows("SELECT ts AT TIME ZONE 'UTC', pv_power_w, grid_power_w, grid_power_source, "
                     "power_flow, load_power_w FROM samples ORDER BY ts"),
            (std::vector<std::string>{"2026-03-01 00:00:00|1000.25|-12.5|inverter|17|NULL",
                                      "2026-03-01 00:00:05|1001.25|-12.5|inverter|17|NULL",
                                      "2026-03-01 00:00:10|1002.25|-12.5|inverter|17|NULL"}));
  EXPECT_EQ(raw.rows("SELECT bucket_start AT TIME ZONE 'UTC', data->>'samples' FROM base_buckets"),
            (std::vector<std::string>{"2026-03-01 00:00:00|3"}));
  // The dedup key is the primary key: what range scans and latest() use.
  EXPECT_EQ(raw.rows("SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                     "WHERE conrelid = 'samples'::regclass AND contype = 'p'"),
            (std::vector<std::string>{"PRIMARY KEY (device_id, ts)"}));
}

// Migration 7 on its own: a database at version 6 gains ts_source and ts_adjust_ms; rows stored
// before read back without them, new rows keep them, and the column refuses an unknown source.
TEST_F(PgStoreTest, TheTsSourceMigrationAddsNullableColumnsToExistingRows) {
  const auto db = shared_postgres().fresh_database("tssource");
  auto store = open_migrated(db);
  ASSERT_TRUE(store);
  test::PgSession raw(db);
  raw.rows(
      "ALTER TABLE samples DROP COLUMN ts_source, DROP COLUMN ts_adjust_ms, "
      "DROP COLUMN battery_capacity_kwh");
  raw.rows("DELETE FROM schema_migrations WHERE version >= 7");
  raw.rows(
      "INSERT INTO samples (device_id, ts, seq, pv_power_w) "
      "VALUES ('dev', '2026-03-01T00:00:00Z', 1, 10)");
  auto upgraded = open_migrated(db);
  ASSERT_TRUE(upgraded);
  EXPECT_EQ(upgraded->schema_version().value(), 8);
  auto old = upgraded->latest("dev");
  ASSERT_TRUE(old && old.value());
  EXPECT_FALSE(old.value()->ts_source);
  EXPECT_FALSE(old.value()->ts_adjust_ms);

  auto later = series_of("dev", kDay + 1h, 2);
  later[1].ts_source = TsSource::bumped;
  later[1].ts_adjust_ms = 10'800'002;
  ASSERT_TRUE(upgraded->insert_batch(later));
  EXPECT_EQ(upgraded->latest("dev").value().value(), later[1]);
  EXPECT_EQ(raw.rows("SELECT ts_source, ts_adjust_ms FROM samples ORDER BY ts"),
            (std::vector<std::string>{"NULL|NULL", "NULL|NULL", "bumped|10800002"}));
  EXPECT_THROW(raw.rows("UPDATE samples SET ts_source = 'gps'"), std::runtime_error);
}

TEST_F(PgStoreTest, WithoutTimescaleDbTheMigrationIsRecordedAndSamplesStaysAPlainTable) {
  // The extension is not installed here; its branch of migration 2 is a no-op.
  const auto db = shared_postgres().fresh_database("timescale");
  auto store = open_migrated(db);
  ASSERT_TRUE(store);
  auto uses = store->uses_timescaledb();
  ASSERT_TRUE(uses) << uses.error().message;
  EXPECT_FALSE(uses.value());
  test::PgSession raw(db);
  EXPECT_EQ(raw.rows("SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'"),
            std::vector<std::string>{"0"});
  EXPECT_EQ(raw.rows("SELECT relkind FROM pg_class WHERE relname = 'samples'"),
            std::vector<std::string>{"r"});
}

TEST_F(PgStoreTest, ThePoolNeverOpensMoreConnectionsThanItsSize) {
  const auto db = shared_postgres().fresh_database("pool");
  PgOptions options;
  options.pool_size = 2;
  auto store = open_migrated(db, options);
  ASSERT_TRUE(store);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int b = 0; b < 5; ++b) {
        if (!store->insert_batch(series_of("dev" + std::to_string(t), kDay + b * 1h, 50))) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_LE(store->open_connections(), 2U);
  test::PgSession raw(db);
  EXPECT_EQ(raw.rows("SELECT count(*) <= 2 FROM pg_stat_activity "
                     "WHERE application_name = 'sungrow-server' AND datname = current_database()"),
            std::vector<std::string>{"t"});
  EXPECT_EQ(stored_count(db), 8 * 5 * 50);
}

TEST_F(PgStoreTest, AStatementStuckBehindALockTimesOutAsUnavailableAndLeavesNoTrace) {
  const auto db = shared_postgres().fresh_database("timeout");
  PgOptions options;
  options.statement_timeout = 300ms;
  auto store = open_migrated(db, options);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->insert_batch(series_of("dev", kDay, 5)));
  {
    test::PgSession blocker(db);
    blocker.rows("BEGIN");
    blocker.rows("LOCK TABLE base_buckets IN ACCESS EXCLUSIVE MODE");
    auto outcome = store->insert_batch(series_of("dev", kDay + 1h, 5));
    ASSERT_FALSE(outcome);
    EXPECT_EQ(outcome.error().kind, StoreErrorKind::unavailable) << outcome.error().message;
    EXPECT_NE(outcome.error().message.find("57014"), std::string::npos) << outcome.error().message;
    blocker.rows("ROLLBACK");
  }
  EXPECT_EQ(stored_count(db), 5);  // the timed-out batch rolled back, samples included
  EXPECT_EQ(store->insert_batch(series_of("dev", kDay + 1h, 5)).value(), (WriteOutcome{5, 5}));
}

TEST(PgErrorKind, SqlStatesMapToTransientInputOrInternal) {
  EXPECT_EQ(kind_of_sqlstate("08006"), StoreErrorKind::unavailable);  // connection failure
  EXPECT_EQ(kind_of_sqlstate("57P01"), StoreErrorKind::unavailable);  // admin shutdown
  EXPECT_EQ(kind_of_sqlstate("40001"), StoreErrorKind::unavailable);  // serialization
  EXPECT_EQ(kind_of_sqlstate("40P01"), StoreErrorKind::unavailable);  // deadlock
  EXPECT_EQ(kind_of_sqlstate("53100"), StoreErrorKind::unavailable);  // disk full
  EXPECT_EQ(kind_of_sqlstate("57014"), StoreErrorKind::unavailable);  // statement timeout
  EXPECT_EQ(kind_of_sqlstate("23505"), StoreErrorKind::rejected);     // unique violation
  EXPECT_EQ(kind_of_sqlstate("23514"), StoreErrorKind::rejected);     // check violation
  EXPECT_EQ(kind_of_sqlstate("22P02"), StoreErrorKind::rejected);     // invalid text
  EXPECT_EQ(kind_of_sqlstate("42P01"), StoreErrorKind::internal);     // undefined table
  EXPECT_EQ(kind_of_sqlstate("XX000"), StoreErrorKind::internal);
  EXPECT_EQ(kind_of_sqlstate(""), StoreErrorKind::internal);
}

TEST_F(PgStoreTest, BeforeMigrateCallsFailAsInternalNotUnavailable) {
  const auto db = shared_postgres().fresh_database("unmigrated");
  auto opened = PgStore::open(db);
  ASSERT_TRUE(opened) << opened.error().message;
  auto latest = opened.value()->latest("dev");
  ASSERT_FALSE(latest);
  EXPECT_EQ(latest.error().kind, StoreErrorKind::internal) << latest.error().message;
  EXPECT_EQ(opened.value()->schema_version().value(), 0);
}

}  // namespace
}  // namespace sungrow::storage
