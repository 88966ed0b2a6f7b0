// MemoryCache: the contract suite, plus expiry and the entry bound under a clock the test drives.
#include "sungrow/server/cache/memory_cache.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include "cache_contract.hpp"
#include "sample_factory.hpp"
#include "sungrow/server/cache/make_cache.hpp"

namespace sungrow::cache::test {
namespace {

using namespace std::chrono_literals;
using Clock = MemoryCache::Clock;

class MemoryUnderTest final : public CacheUnderTest {
 public:
  explicit MemoryUnderTest(std::chrono::milliseconds ttl) : cache_(ttl) {}
  RealtimeCache& cache() override { return cache_; }

 private:
  MemoryCache cache_;
};

INSTANTIATE_TEST_SUITE_P(Memory, CacheContract,
                         ::testing::Values(CacheImplementation{
                             "memory",
                             [](std::chrono::milliseconds ttl) {
                               return std::make_unique<MemoryUnderTest>(ttl);
                             }}),
                         implementation_name);

Sample sample_at(const std::string& device, std::int64_t i) {
  return sungrow::test::realistic_sample(device, i, sungrow::test::sample_epoch());
}

// A clock the test moves by hand; the cache reads it through a lambda (the fixture outlives it).
struct ManualClock {
  Clock::time_point now{Clock::time_point{} + 1h};
  MemoryCache::ClockFn fn() {
    return [this] { return now; };
  }
};

TEST(MemoryCache, ExpiresExactlyAtTheTtlAndDropsTheEntry) {
  ManualClock clock;
  MemoryCache cache(10s, 100, clock.fn());
  ASSERT_TRUE(cache.put_if_newer(sample_at("inv", 0)));
  clock.now += 10s - 1ms;
  EXPECT_TRUE(cache.get("inv").value().has_value());
  clock.now += 1ms;
  EXPECT_EQ(cache.get("inv").value(), std::nullopt);
  EXPECT_EQ(cache.size(), 0u);
}

TEST(MemoryCache, AnIgnoredOlderSampleDoesNotExtendTheTtl) {
  ManualClock clock;
  MemoryCache cache(10s, 100, clock.fn());
  ASSERT_TRUE(cache.put_if_newer(sample_at("inv", 5)));
  clock.now += 6s;
  ASSERT_TRUE(cache.put_if_newer(sample_at("inv", 4)));
  clock.now += 4s;
  EXPECT_EQ(cache.get("inv").value(), std::nullopt);
}

TEST(MemoryCache, ANewerSampleRestartsTheTtl) {
  ManualClock clock;
  MemoryCache cache(10s, 100, clock.fn());
  ASSERT_TRUE(cache.put_if_newer(sample_at("inv", 5)));
  clock.now += 6s;
  ASSERT_TRUE(cache.put_if_newer(sample_at("inv", 6)));
  clock.now += 6s;
  EXPECT_EQ(cache.get("inv").value(), sample_at("inv", 6));
}

TEST(MemoryCache, ExpiredEntriesOfOtherDevicesAreDroppedOnWrite) {
  ManualClock clock;
  MemoryCache cache(10s, 100, clock.fn());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(cache.put_if_newer(sample_at("old-" + std::to_string(i), 0)));
  }
  EXPECT_EQ(cache.size(), 50u);
  clock.now += 11s;
  ASSERT_TRUE(cache.put_if_newer(sample_at("new", 0)));
  EXPECT_EQ(cache.size(), 1u);
}

TEST(MemoryCache, IsBoundedAndEvictsTheEntryWrittenLongestAgo) {
  ManualClock clock;
  MemoryCache cache(1h, 3, clock.fn());
  for (const char* id : {"a", "b", "c"}) {
    ASSERT_TRUE(cache.put_if_newer(sample_at(id, 0)));
    clock.now += 1s;
  }
  ASSERT_TRUE(cache.put_if_newer(sample_at("a", 1)));  // "a" is now the freshest write
  ASSERT_TRUE(cache.put_if_newer(sample_at("d", 0)));  // full: "b" goes
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_EQ(cache.get("b").value(), std::nullopt);
  EXPECT_EQ(cache.get("a").value(), sample_at("a", 1));
  EXPECT_EQ(cache.get("c").value(), sample_at("c", 0));
  EXPECT_EQ(cache.get("d").value(), sample_at("d", 0));

  // Updating a device already held never evicts anyone.
  ASSERT_TRUE(cache.put_if_newer(sample_at("c", 1)));
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_TRUE(cache.get("a").value().has_value());
  EXPECT_TRUE(cache.get("d").value().has_value());

  for (int i = 0; i < 1'000; ++i) {
    ASSERT_TRUE(cache.put_if_newer(sample_at("flood-" + std::to_string(i), 0)));
    ASSERT_LE(cache.size(), 3u);
  }
}

TEST(MemoryCache, RefusesInvalidConstruction) {
  EXPECT_THROW(MemoryCache(0ms), std::invalid_argument);
  EXPECT_THROW(MemoryCache(-1s), std::invalid_argument);
  EXPECT_THROW(MemoryCache(1s, 0), std::invalid_argument);
  EXPECT_THROW(MemoryCache(1s, 1, nullptr), std::invalid_argument);
}

TEST(MakeCache, WithoutAUrlGivesTheMemoryCache) {
  auto cache = make_cache(std::nullopt, 30s);
  ASSERT_TRUE(cache.has_value()) << cache.error().message;
  EXPECT_EQ((*cache)->kind(), "memory");
  EXPECT_TRUE((*cache)->ping());
}

TEST(MakeCache, RefusesANonPositiveTtl) {
  for (const auto ttl : {0s, -5s}) {
    auto cache = make_cache(std::nullopt, ttl);
    ASSERT_FALSE(cache.has_value());
    EXPECT_NE(cache.error().message.find("CACHE_TTL_S"), std::string::npos);
  }
}

TEST(MakeCache, RefusesABadRedisUrl) {
  auto cache = make_cache(std::string("http://127.0.0.1:6379"), 30s);
  ASSERT_FALSE(cache.has_value());
  EXPECT_NE(cache.error().message.find("REDIS_URL"), std::string::npos);
}

TEST(MakeCache, RefusesBadRedisOptions) {
  CacheOptions options;
  options.redis.command_timeout = 0ms;
  EXPECT_FALSE(make_cache(std::string("redis://127.0.0.1:6379"), 30s, options).has_value());
  options = {};
  options.redis.pool_size = 0;
  EXPECT_FALSE(make_cache(std::string("redis://127.0.0.1:6379"), 30s, options).has_value());
  options = {};
  options.memory_max_entries = 0;
  EXPECT_FALSE(make_cache(std::nullopt, 30s, options).has_value());
}

}  // namespace
}  // namespace sungrow::cache::test
