// The SampleStore contract: migrations, dedup counts, replay, order independence, atomicity,
// injection, concurrency and a day of data — every store must pass all of it unchanged.
#include "store_contract.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "random_series.hpp"
#include "sungrow/server/rollup/frames.hpp"
#include "sungrow/server/rollup/series.hpp"
#include "sungrow/server/storage/session_store.hpp"

namespace sungrow::storage::test {

std::unique_ptr<SampleStore> StoreContractTest::open_store(const std::string& name) {
  auto opened = backend_->open(name);
  if (!opened) {
    ADD_FAILURE() << opened.error().message;
    return nullptr;
  }
  std::unique_ptr<SampleStore> store = std::move(opened).value();
  if (auto migrated = store->migrate(); !migrated) {
    ADD_FAILURE() << migrated.error().message;
    return nullptr;
  }
  return store;
}

namespace {

using namespace std::chrono_literals;

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

TEST_P(StoreContractTest, MigrateTwiceIsIdempotentAndRecorded) {
  auto opened = backend_->open("store");
  ASSERT_TRUE(opened) << opened.error().message;
  auto& store = *opened.value();
  auto before = backend_->schema_version(store);
  ASSERT_TRUE(before) << before.error().message;
  EXPECT_EQ(before.value(), 0);
  ASSERT_TRUE(store.migrate());
  ASSERT_TRUE(store.migrate());
  const auto latest = backend_->latest_schema_version();
  EXPECT_EQ(backend_->schema_version(store).value(), latest);
  const auto recorded = backend_->migrations("store");
  ASSERT_EQ(recorded.size(), static_cast<std::size_t>(latest));
  EXPECT_EQ(recorded.front(), "1");
  // A second instance (another connection) finds the migrations recorded and adds nothing.
  auto other = backend_->open("store");
  ASSERT_TRUE(other) << other.error().message;
  ASSERT_TRUE(other.value()->migrate());
  EXPECT_EQ(backend_->migrations("store"), recorded);
}

TEST_P(StoreContractTest, InsertThenLatestRoundTripsTheNewestSample) {
  auto store = open_store();
  ASSERT_TRUE(store);
  auto none = store->latest("dev");
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_FALSE(none.value().has_value());

  auto samples = series_of("dev", kDay, 10);
  samples[3].power_flow = PowerFlow::from_bits(0b101);
  samples[9].mppt1_voltage_v = 0.1 + 0.2;  // a 17-digit double must come back bit-exact
  samples[9].power_flow = PowerFlow::from_bits(0b111111);
  samples[9].grid_power_source = GridPowerSource::estimate;
  samples[9].running_state = 0xFFFF;
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

// latest() takes the newest sample at or before a bound, and a row that cannot be served (a year
// RFC 3339 cannot write, stored by an older server) is skipped and counted, never fatal.
TEST_P(StoreContractTest, LatestSkipsUnservableRowsAndHonoursItsBound) {
  auto store = open_store();
  ASSERT_TRUE(store);
  const auto samples = series_of("dev", kDay, 10);
  ASSERT_TRUE(store->insert_batch(samples));

  auto bounded = store->latest("dev", samples[6].ts);
  ASSERT_TRUE(bounded) << bounded.error().message;
  ASSERT_TRUE(bounded.value().has_value());
  EXPECT_EQ(bounded.value()->ts, samples[6].ts);
  EXPECT_FALSE(store->latest("dev", samples[0].ts - 1ms).value().has_value());

  backend_->move_to_year_10000("store", "dev", samples[4].ts);
  // Even unbounded, the moved row is never the answer (the newest sample RFC 3339 can write is).
  auto latest = store->latest("dev");
  ASSERT_TRUE(latest) << latest.error().message;
  ASSERT_TRUE(latest.value().has_value());
  EXPECT_EQ(*latest.value(), samples[9]);
  auto now_bounded = store->latest("dev", samples[9].ts + 10min);
  ASSERT_TRUE(now_bounded && now_bounded.value().has_value());
  EXPECT_EQ(*now_bounded.value(), samples[9]);
  // New samples arrive after it: they are the newest again.
  const auto later = series_of("dev", kDay + 1h, 2);
  ASSERT_TRUE(store->insert_batch(later));
  EXPECT_EQ(*store->latest("dev").value(), later.back());
}

// Dashboard sessions live in the same database: found until they expire, gone when deleted, and
// saving one clears the expired ones.
TEST_P(StoreContractTest, SessionsAreFoundUntilTheyExpireOrAreDeleted) {
  auto store = open_store();
  ASSERT_TRUE(store);
  auto* sessions = dynamic_cast<SessionStore*>(store.get());
  ASSERT_NE(sessions, nullptr);
  const std::string a(64, 'a');
  const std::string b(64, 'b');
  const std::string viewer(64, 'f');
  ASSERT_TRUE(sessions->save_session(a, viewer, kDay, kDay + 1h));
  ASSERT_TRUE(sessions->save_session(b, viewer, kDay, kDay + 24h));
  auto found = sessions->find_session(a, kDay + 30min);
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_TRUE(found.value().has_value());
  EXPECT_EQ(found.value()->viewer_digest, viewer);
  EXPECT_EQ(found.value()->expires, kDay + 1h);
  EXPECT_FALSE(sessions->find_session(a, kDay + 2h).value().has_value());  // expired
  EXPECT_FALSE(sessions->find_session(std::string(64, 'c'), kDay).value().has_value());
  ASSERT_TRUE(sessions->delete_session(b));
  EXPECT_FALSE(sessions->find_session(b, kDay + 1min).value().has_value());
  // A later save sweeps the expired one away even for a reader with an old clock.
  ASSERT_TRUE(sessions->save_session(std::string(64, 'd'), viewer, kDay + 3h, kDay + 4h));
  EXPECT_FALSE(sessions->find_session(a, kDay).value().has_value());
}

TEST_P(StoreContractTest, EveryDoubleRoundTripsBitExact) {
  auto store = open_store();
  ASSERT_TRUE(store);
  const std::vector<double> hard = {0.1 + 0.2,
                                    -0.0,
                                    5e-324,
                                    std::numeric_limits<double>::max(),
                                    -std::numeric_limits<double>::max(),
                                    std::numeric_limits<double>::min(),
                                    1e21,
                                    123456789.12345679,
                                    2.0 / 3.0,
                                    -1e-7};
  std::vector<Sample> batch;
  for (std::size_t i = 0; i < hard.size(); ++i) {
    Sample s;
    s.device_id = "dev" + std::to_string(i);
    s.ts = kDay + std::chrono::milliseconds{static_cast<std::int64_t>(i) * 1001 + 7};
    s.seq = std::numeric_limits<std::int64_t>::max() - static_cast<std::int64_t>(i);
    for (const auto& field : kMeasurementFields) s.*field.member = hard[i];
    batch.push_back(s);
  }
  ASSERT_EQ(store->insert_batch(batch).value(), (WriteOutcome{10, 10}));
  for (const auto& expected : batch) {
    auto got = store->latest(expected.device_id);
    ASSERT_TRUE(got && got.value().has_value()) << expected.device_id;
    EXPECT_EQ(*got.value(), expected);
    for (const auto& field : kMeasurementFields) {
      const Sample& stored = *got.value();
      const double a = (stored.*field.member).value();
      const double b = (expected.*field.member).value();
      EXPECT_EQ(std::signbit(a), std::signbit(b)) << field.name;  // -0.0 stays -0.0
    }
  }
}

TEST_P(StoreContractTest, DuplicatesWithinAndAcrossBatchesAreIgnoredWithExactCounts) {
  auto store = open_store();
  ASSERT_TRUE(store);
  auto first = series_of("dev", kDay, 5);
  auto changed = first[2];
  changed.pv_power_w = 99999;  // same (device_id, ts), other values: the stored one wins
  first.push_back(changed);
  first.push_back(first[0]);
  EXPECT_EQ(store->insert_batch(first).value(), (WriteOutcome{7, 5}));

  auto second = series_of("dev", kDay + 20s, 5);  // 1 overlaps (ts = kDay+20s), 4 new
  EXPECT_EQ(store->insert_batch(second).value(), (WriteOutcome{5, 4}));
  EXPECT_EQ(store->insert_batch(second).value(), (WriteOutcome{5, 0}));
  EXPECT_EQ(backend_->samples("store").size(), 9U);
  EXPECT_EQ(store->insert_batch({}).value(), (WriteOutcome{0, 0}));

  // Within one batch, the first of two samples with the same key wins.
  auto dup_first = make_sample("dup", kDay, 1);
  dup_first.pv_power_w = 1.5;
  auto dup_second = dup_first;
  dup_second.pv_power_w = 2.5;
  const std::vector<Sample> dups{dup_first, dup_second};
  EXPECT_EQ(store->insert_batch(dups).value(), (WriteOutcome{2, 1}));
  EXPECT_EQ(store->latest("dup").value()->pv_power_w, 1.5);

  auto buckets = store->base_buckets("dev", kDay, kDay + 5min);
  ASSERT_TRUE(buckets);
  ASSERT_EQ(buckets.value().size(), 1U);
  EXPECT_EQ(buckets.value().front().samples, 9);
  EXPECT_LT(buckets.value().front().power[0].max, 99999);
}

TEST_P(StoreContractTest, ReplayingABatchLeavesEverythingByteIdentical) {
  auto store = open_store();
  ASSERT_TRUE(store);
  const auto batch = series_of("dev", kDay + 2min, 200);  // spans several buckets
  ASSERT_TRUE(store->insert_batch(batch));
  const auto buckets = backend_->buckets("store");
  const auto samples = backend_->samples("store");
  EXPECT_GT(buckets.size(), 3U);
  EXPECT_EQ(samples.size(), 200U);
  EXPECT_EQ(store->insert_batch(batch).value(), (WriteOutcome{200, 0}));
  EXPECT_EQ(backend_->buckets("store"), buckets);
  EXPECT_EQ(backend_->samples("store"), samples);
}

TEST_P(StoreContractTest, OrderAndBatchingDoNotChangeTheBuckets) {
  auto in_order = open_store("a");
  auto shuffled = open_store("b");
  ASSERT_TRUE(in_order && shuffled);
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
  EXPECT_EQ(backend_->buckets("a"), backend_->buckets("b"));
  EXPECT_EQ(backend_->buckets("a").size(), 9U + 7U);
  EXPECT_EQ(backend_->samples("a"), backend_->samples("b"));
}

TEST_P(StoreContractTest, BaseBucketsReturnsTheRangePrecededByTheLastEarlierBucket) {
  auto store = open_store();
  ASSERT_TRUE(store);
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
  const auto first = store->base_buckets("dev", kDay, kDay + 5min).value().front();
  EXPECT_EQ(first.samples, 3);
  // The stored bucket is exactly what rollup computes from the same three samples.
  auto expected = rollup::from_sample(samples[0]);
  rollup::merge(expected, rollup::from_sample(samples[1]));
  rollup::merge(expected, rollup::from_sample(samples[2]));
  EXPECT_EQ(first, expected);
}

TEST_P(StoreContractTest, AFailingSampleRollsBackTheWholeBatch) {
  auto store = open_store();
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->insert_batch(series_of("dev", kDay, 10)));
  const auto buckets = backend_->buckets("store");
  const auto samples = backend_->samples("store");

  auto batch = series_of("dev", kDay + 50s, 10);  // new rows in an existing and a new bucket
  batch.push_back(make_sample(std::string(65, 'x'), kDay, 1));  // violates the length CHECK
  auto outcome = store->insert_batch(batch);
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().kind, StoreErrorKind::rejected) << outcome.error().message;
  EXPECT_EQ(backend_->buckets("store"), buckets);
  EXPECT_EQ(backend_->samples("store"), samples);

  // A non-finite value is refused before anything is written.
  auto nan_batch = series_of("dev", kDay + 50s, 2);
  nan_batch[1].grid_power_w = std::numeric_limits<double>::infinity();
  auto refused = store->insert_batch(nan_batch);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, StoreErrorKind::rejected);
  EXPECT_EQ(backend_->samples("store"), samples);

  // The store stays usable after a rolled-back batch.
  EXPECT_EQ(store->insert_batch(series_of("dev", kDay + 50s, 10)).value(), (WriteOutcome{10, 10}));
}

TEST_P(StoreContractTest, SqlMetacharactersInDeviceIdAreJustText) {
  auto store = open_store();
  ASSERT_TRUE(store);
  // SQL, LIKE, array-literal, COPY and JSON metacharacters.
  const std::vector<std::string> ids = {"x'); DROP TABLE samples;--",
                                        "%",
                                        "_",
                                        "a\"b\\c",
                                        "' OR '1'='1",
                                        "NULL",
                                        "{a,b}",
                                        "a,b",
                                        "tab\there",
                                        "new\nline",
                                        "\\N",
                                        "$1",
                                        "ü€",
                                        "\"",
                                        "\\"};
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
  EXPECT_EQ(backend_->samples("store").size(), ids.size() * 3);
  EXPECT_EQ(backend_->buckets("store").size(), ids.size());
}

TEST_P(StoreContractTest, ConcurrentCallersOnDifferentDevicesAllSucceed) {
  auto store = open_store();
  ASSERT_TRUE(store);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const auto device = "dev" + std::to_string(t);
      for (int b = 0; b < 10; ++b) {
        auto outcome = store->insert_batch(series_of(device, kDay + b * 5min, 60));
        EXPECT_TRUE(outcome) << outcome.error().message;
        EXPECT_TRUE(store->latest(device));
        EXPECT_TRUE(store->base_buckets(device, kDay, kDay + 1h));
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(backend_->samples("store").size(), 4U * 10U * 60U);  // one bucket per batch
  for (int t = 0; t < 4; ++t) {
    auto buckets = store->base_buckets("dev" + std::to_string(t), kDay, kDay + 1h);
    ASSERT_TRUE(buckets);
    EXPECT_EQ(buckets.value().size(), 10U);
  }
}

TEST_P(StoreContractTest, FourThreadsWithOverlappingBatchesOfOneDeviceLoseNoBucketUpdate) {
  auto reference = open_store("reference");
  auto store = open_store("concurrent");
  ASSERT_TRUE(reference && store);
  const auto samples = series_of("dev", kDay + 17s, 2000, 3s);  // ~20 buckets
  ASSERT_EQ(reference->insert_batch(samples).value().inserted, 2000);

  // Every thread sends all samples, shuffled differently, in batches of 37: each bucket is hit
  // by many transactions at once, and every sample arrives four times.
  std::atomic<std::int64_t> inserted{0};
  std::atomic<std::int64_t> received{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto mine = samples;
      std::mt19937 rng(static_cast<unsigned>(t) + 11U);
      std::shuffle(mine.begin(), mine.end(), rng);
      for (std::size_t at = 0; at < mine.size(); at += 37) {
        const auto n = std::min<std::size_t>(37, mine.size() - at);
        auto outcome = store->insert_batch(std::span(mine).subspan(at, n));
        ASSERT_TRUE(outcome) << outcome.error().message;
        inserted += outcome.value().inserted;
        received += outcome.value().received;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(received.load(), 4 * 2000);
  EXPECT_EQ(inserted.load(), 2000);  // each sample counted as inserted exactly once
  EXPECT_EQ(backend_->buckets("concurrent"), backend_->buckets("reference"));
  EXPECT_EQ(backend_->samples("concurrent"), backend_->samples("reference"));
}

TEST_P(StoreContractTest, ADayOfFiveSecondSamplesAggregatesToOneFullDayBucket) {
  auto store = open_store();
  ASSERT_TRUE(store);
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

// ---- precomputed spans ----

// 2026-10-23T21:17:00Z: four days of data from here cross Berlin's autumn DST change.
const Timestamp kAutumn{1'792'790'220'000ms};

std::vector<Sample> random_days(std::uint32_t seed, int days = 4) {
  return rollup::test::random_samples(seed, "dev", kAutumn, kAutumn + days * 24h,
                                      rollup::find_zone("Europe/Berlin").value());
}

// Uneven shuffled batches, each also replayed: late and out-of-order data as the edge sends it
// after an outage.
void insert_shuffled(SampleStore& store, std::vector<Sample> samples, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::shuffle(samples.begin(), samples.end(), rng);
  std::size_t at = 0;
  while (at < samples.size()) {
    const auto n = std::min<std::size_t>(1 + rng() % 400, samples.size() - at);
    ASSERT_TRUE(store.insert_batch(std::span(samples).subspan(at, n)));
    if (rng() % 3 == 0) {
      ASSERT_TRUE(store.insert_batch(std::span(samples).subspan(at / 2, n)));
    }
    at += n;
  }
}

TEST_P(StoreContractTest, SpansAfterOutOfOrderBatchesAndReplaysEqualAnInOrderLoad) {
  auto in_order = open_store("a");
  auto shuffled = open_store("b");
  ASSERT_TRUE(in_order && shuffled);
  const auto samples = random_days(11);
  for (std::size_t at = 0; at < samples.size(); at += 1000) {
    const auto n = std::min<std::size_t>(1000, samples.size() - at);
    ASSERT_TRUE(in_order->insert_batch(std::span(samples).subspan(at, n)));
  }
  insert_shuffled(*shuffled, samples, 5);
  const auto spans = backend_->spans("a");
  // 4 days from 21:17: 5 UTC days and ~97 hours (fewer when a long gap empties some).
  const auto days = std::count_if(spans.begin(), spans.end(),
                                  [](const std::string& row) { return row.starts_with("d|"); });
  EXPECT_EQ(days, 5);
  EXPECT_GT(spans.size(), 60U);
  EXPECT_EQ(backend_->spans("b"), spans);
  EXPECT_EQ(backend_->buckets("b"), backend_->buckets("a"));
  // A replay of everything changes no byte.
  ASSERT_EQ(shuffled->insert_batch(samples).value().inserted, 0);
  EXPECT_EQ(backend_->spans("b"), spans);
}

TEST_P(StoreContractTest, SeriesThroughSpansEqualsSeriesFromBaseBuckets) {
  auto store = open_store();
  ASSERT_TRUE(store);
  insert_shuffled(*store, random_days(12), 6);
  std::size_t compared = 0;
  for (const char* name :
       {"UTC", "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns"}) {
    const auto* zone = rollup::find_zone(name).value();
    for (const auto frame : {rollup::Frame::five_minutes, rollup::Frame::hour, rollup::Frame::day,
                             rollup::Frame::month}) {
      // All of it, and a part starting mid-data (the carry then comes from the preceding bucket).
      for (const auto& [from, to] : {std::pair{kAutumn - 1h, kAutumn + 4 * 24h + 1h},
                                     std::pair{kAutumn + 26h + 35min, kAutumn + 3 * 24h}}) {
        SCOPED_TRACE(std::string(name) + " " + std::string(rollup::to_string(frame)));
        const auto ranges = rollup::buckets(frame, zone, from, to);
        auto base = store->base_buckets("dev", ranges.front().start, ranges.back().end);
        ASSERT_TRUE(base) << base.error().message;
        auto pieces = store->series_spans("dev", ranges);
        ASSERT_TRUE(pieces) << pieces.error().message;
        EXPECT_LE(pieces.value().size(), base.value().size());
        const auto expected = rollup::aggregate_series(base.value(), ranges);
        const auto actual = rollup::aggregate_spans(pieces.value(), ranges);
        ASSERT_EQ(actual.size(), expected.size());
        for (std::size_t i = 0; i < actual.size(); ++i) {
          auto a = actual[i];
          auto e = expected[i];
          for (std::size_t c = 0; c < rollup::kCounterCount; ++c) {
            ASSERT_EQ(a.energy_kwh[c].has_value(), e.energy_kwh[c].has_value());
            if (a.energy_kwh[c]) {
              EXPECT_NEAR(*a.energy_kwh[c], *e.energy_kwh[c], 1e-9) << a.range.local_start;
            }
            a.energy_kwh[c] = e.energy_kwh[c] = std::nullopt;
          }
          EXPECT_EQ(a, e) << a.range.local_start;  // every other field exactly
        }
        compared += actual.size();
      }
    }
  }
  EXPECT_GT(compared, 5000U);
  // Days really come from day spans: a UTC day is one piece (after the preceding bucket).
  const auto* utc = rollup::find_zone("UTC").value();
  const auto day = rollup::buckets(rollup::Frame::day, utc, kAutumn + 24h, kAutumn + 25h);
  auto pieces = store->series_spans("dev", day);
  ASSERT_TRUE(pieces);
  ASSERT_EQ(pieces.value().size(), 2U);
  EXPECT_EQ(pieces.value()[1].end - pieces.value()[1].start, 24h);
  EXPECT_EQ(store->series_spans("nobody", day).value().size(), 0U);
}

TEST_P(StoreContractTest, PingAnswersOnAMigratedStore) {
  auto store = open_store();
  ASSERT_TRUE(store);
  auto pinged = store->ping();
  EXPECT_TRUE(pinged) << pinged.error().message;
}

}  // namespace
}  // namespace sungrow::storage::test
