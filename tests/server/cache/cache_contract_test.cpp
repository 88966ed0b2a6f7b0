// The contract every RealtimeCache meets, run against MemoryCache and RedisCache alike.
#include "cache_contract.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

#include "sample_factory.hpp"

namespace sungrow::cache::test {
namespace {

using namespace std::chrono_literals;
using sungrow::test::realistic_sample;
using sungrow::test::sample_epoch;

constexpr auto kLongTtl = std::chrono::milliseconds{5min};

Sample sample_at(const std::string& device, std::int64_t i) {
  return realistic_sample(device, i, sample_epoch());
}

// Values a lossy codec would bend: shortest-round-trip doubles with many digits, subnormal and
// huge magnitudes, negative values, nulls next to set fields, every enum and flag.
Sample tricky_sample(const std::string& device) {
  Sample s = sample_at(device, 8'640);  // midday: PV and every counter non-trivial
  s.seq = std::numeric_limits<std::int64_t>::max();
  s.ts = sample_epoch() + 12h + 345ms;
  s.pv_power_w = 0.1 + 0.2;  // 0.30000000000000004
  s.mppt1_voltage_v = 1.0 / 3.0;
  s.mppt1_current_a = 5e-324;  // the smallest subnormal
  s.mppt2_voltage_v = 1.7976931348623157e308;
  s.mppt2_current_a = std::nullopt;
  s.grid_power_w = -2345.678901234567;
  s.grid_power_source = GridPowerSource::estimate;
  s.battery_power_w = -0.5;
  s.grid_frequency_hz = 49.99999999999999;
  s.battery_temperature_c = std::nullopt;
  s.pv_energy_total_kwh = 123456789.12345679;
  s.running_state = 0x1300;
  s.power_flow = PowerFlow{.pv = true,
                           .charging = false,
                           .discharging = true,
                           .load = false,
                           .exporting = true,
                           .importing = false};
  return s;
}

Sample all_null_sample(const std::string& device) {
  Sample s;
  s.device_id = device;
  s.ts = sample_epoch();
  s.seq = 1;
  return s;
}

std::unique_ptr<CacheUnderTest> make_cache_under_test(std::chrono::milliseconds ttl = kLongTtl) {
  auto under_test = CacheContract::GetParam().make(ttl);
  EXPECT_EQ(under_test->cache().kind(), CacheContract::GetParam().name);
  return under_test;
}

std::optional<Sample> must_get(RealtimeCache& cache, std::string_view device) {
  auto got = cache.get(device);
  EXPECT_TRUE(got.has_value()) << (got ? "" : got.error().message);
  return got ? *got : std::nullopt;
}

void must_put(RealtimeCache& cache, const Sample& s) {
  const auto put = cache.put_if_newer(s);
  ASSERT_TRUE(put.has_value()) << put.error().message;
}

TEST_P(CacheContract, AnswersPingAndNamesItsKind) {
  auto under_test = make_cache_under_test();
  const auto ping = under_test->cache().ping();
  EXPECT_TRUE(ping.has_value()) << (ping ? "" : ping.error().message);
}

TEST_P(CacheContract, RoundTripPreservesEveryFieldExactly) {
  auto under_test = make_cache_under_test();
  auto& cache = under_test->cache();
  for (const Sample& s : {sample_at("inv-1", 0), sample_at("inv-2", 8'000), tricky_sample("inv-3"),
                          all_null_sample("inv-4")}) {
    must_put(cache, s);
    const auto got = must_get(cache, s.device_id);
    ASSERT_TRUE(got.has_value()) << s.device_id;
    EXPECT_EQ(*got, s) << s.device_id;
  }
  // Equality of doubles says 0.0 == -0.0; the sign matters to a reader of battery power.
  Sample negative_zero = sample_at("inv-5", 1);
  negative_zero.battery_power_w = -0.0;
  must_put(cache, negative_zero);
  const auto got = must_get(cache, "inv-5");
  ASSERT_TRUE(got && got->battery_power_w);
  EXPECT_TRUE(std::signbit(*got->battery_power_w));
}

TEST_P(CacheContract, UnknownDeviceIsAMissNotAnError) {
  auto under_test = make_cache_under_test();
  auto& cache = under_test->cache();
  EXPECT_EQ(must_get(cache, "never-seen"), std::nullopt);
  must_put(cache, sample_at("seen", 0));
  EXPECT_EQ(must_get(cache, "never-seen"), std::nullopt);
  EXPECT_EQ(must_get(cache, "seen2"), std::nullopt);
  EXPECT_EQ(must_get(cache, "see"), std::nullopt);
}

TEST_P(CacheContract, PutIfNewerIgnoresOlderAndEqualTimestamps) {
  auto under_test = make_cache_under_test();
  auto& cache = under_test->cache();
  const Sample current = sample_at("inv", 10);
  must_put(cache, current);

  must_put(cache, sample_at("inv", 9));  // a late batch
  EXPECT_EQ(must_get(cache, "inv"), current);

  Sample same_ts = sample_at("inv", 500);  // different content, same ts: a replay, not news
  same_ts.ts = current.ts;
  must_put(cache, same_ts);
  EXPECT_EQ(must_get(cache, "inv"), current);

  const Sample newer = sample_at("inv", 11);
  must_put(cache, newer);
  EXPECT_EQ(must_get(cache, "inv"), newer);

  Sample one_ms_newer = newer;
  one_ms_newer.ts += 1ms;
  one_ms_newer.pv_power_w = 1234.5;
  must_put(cache, one_ms_newer);
  EXPECT_EQ(must_get(cache, "inv"), one_ms_newer);
}

TEST_P(CacheContract, EntriesExpireAfterTheTtl) {
  // Timing here only bounds from the safe side: a hit right after the put (2 s of slack), and a
  // miss observed no earlier than the TTL after the put started; the wait itself is generous.
  constexpr auto ttl = std::chrono::milliseconds{2s};
  auto under_test = make_cache_under_test(ttl);
  auto& cache = under_test->cache();
  const auto put_started = std::chrono::steady_clock::now();
  must_put(cache, sample_at("inv", 0));
  EXPECT_TRUE(must_get(cache, "inv").has_value());

  const auto deadline = put_started + ttl + 10s;
  std::optional<Sample> got = must_get(cache, "inv");
  while (got && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
    got = must_get(cache, "inv");
  }
  EXPECT_EQ(got, std::nullopt) << "still cached 10 s after the TTL";
  EXPECT_GE(std::chrono::steady_clock::now() - put_started, ttl);

  // An expired device takes a fresh sample again, even an older one than it once had.
  const Sample older = sample_at("inv", -5);
  must_put(cache, older);
  EXPECT_EQ(must_get(cache, "inv"), older);
}

TEST_P(CacheContract, DevicesAreIsolated) {
  auto under_test = make_cache_under_test();
  auto& cache = under_test->cache();
  // Ids that share prefixes, differ in case, or contain the key separator.
  const std::vector<std::string> ids{"a",
                                     "A",
                                     "a:b",
                                     "a.b",
                                     "a-b",
                                     "ab",
                                     "b",
                                     "sungrow:realtime:a",
                                     "..",
                                     "-",
                                     std::string(64, 'z')};
  for (std::size_t i = 0; i < ids.size(); ++i) {
    must_put(cache, sample_at(ids[i], static_cast<std::int64_t>(100 + i)));
  }
  for (std::size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(must_get(cache, ids[i]), sample_at(ids[i], static_cast<std::int64_t>(100 + i)))
        << ids[i];
  }
  // A newer sample for one device leaves every other untouched.
  must_put(cache, sample_at("a", 1'000));
  EXPECT_EQ(must_get(cache, "a"), sample_at("a", 1'000));
  EXPECT_EQ(must_get(cache, "A"), sample_at("A", 101));
  EXPECT_EQ(must_get(cache, "sungrow:realtime:a"), sample_at("sungrow:realtime:a", 107));
}

TEST_P(CacheContract, HostileDeviceIdsArePlainData) {
  auto under_test = make_cache_under_test();
  auto& cache = under_test->cache();
  const Sample victim = sample_at("victim", 3);
  must_put(cache, victim);
  const std::vector<std::string> hostile{
      "*",
      "victim*",
      "vict?m",
      "victim\r\nFLUSHALL\r\n",
      "*1\r\n$8\r\nFLUSHALL\r\n",
      std::string("victim\0tail", 11),
      "victim ",
      " victim",
      "'; DROP TABLE samples; --",
      "\") redis.call('FLUSHALL') --",
      "",
      std::string(65, 'v'),
      std::string(100'000, 'x'),
      "\xff\xfe\x80",
  };
  for (const auto& id : hostile) {
    const auto got = cache.get(id);
    ASSERT_TRUE(got.has_value()) << "get of a hostile id failed: " << got.error().message;
    EXPECT_EQ(*got, std::nullopt);
    Sample s = sample_at("victim", 99);
    s.device_id = id;
    // Refused: no codec could read such an id back, and the ingest layer never sends one.
    EXPECT_FALSE(cache.put_if_newer(s).has_value());
  }
  EXPECT_EQ(must_get(cache, "victim"), victim);
  for (const auto& id : hostile) EXPECT_EQ(must_get(cache, id), std::nullopt);
}

// Each thread writes its own share of the timestamps in ascending order (like replicas writing
// successive batches), so the newest ts is written exactly once and stale writers race it. After
// a put returns, the cache may never again hold an older ts than that one: a non-atomic
// read-compare-write breaks this within a few hundred puts.
TEST_P(CacheContract, ConcurrentPutsEndWithTheNewest) {
  auto under_test = make_cache_under_test();
  auto& cache = under_test->cache();
  constexpr int kThreads = 8;
  constexpr std::int64_t kSamples = 1'600;
  const std::vector<std::string> devices{"inv-a", "inv-b"};
  std::atomic<int> failures{0};
  std::atomic<int> went_back{0};
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (std::int64_t i = t; i < kSamples; i += kThreads) {
          for (const auto& d : devices) {
            const Sample mine = sample_at(d, i);
            if (!cache.put_if_newer(mine)) ++failures;
            const auto got = cache.get(d);
            if (!got || !*got) {
              ++failures;
            } else if ((*got)->ts < mine.ts) {
              ++went_back;
            }
          }
        }
      });
    }
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(went_back.load(), 0) << "a newer sample was overwritten by an older one";
  for (const auto& d : devices) EXPECT_EQ(must_get(cache, d), sample_at(d, kSamples - 1));
}

}  // namespace
}  // namespace sungrow::cache::test
