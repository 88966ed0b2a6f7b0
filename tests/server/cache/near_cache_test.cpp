// NearCache: reads served in process for near_ttl, newest-wins across replicas sharing one far
// cache, peek, and writes the far cache refused; under a clock the test drives.
#include "sungrow/server/cache/near_cache.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <stdexcept>

#include "cache_contract.hpp"
#include "sample_factory.hpp"

namespace sungrow::cache::test {
namespace {

using namespace std::chrono_literals;
using Clock = MemoryCache::Clock;

struct ManualClock {
  Clock::time_point now{Clock::time_point{} + 1h};
  MemoryCache::ClockFn fn() {
    return [this] { return now; };
  }
};

// Stands for Redis: one cache several replicas' NearCaches share, counting the reads that reach
// it, and refusing writes on demand.
class SharedFar final : public RealtimeCache {
 public:
  SharedFar(RealtimeCache& shared, int* gets, const bool* refuse_puts,
            const std::function<void()>* during_get)
      : shared_(shared), gets_(gets), refuse_puts_(refuse_puts), during_get_(during_get) {}
  Result<void> put_if_newer(const Sample& s) override {
    if (*refuse_puts_) return fail("far cache down");
    return shared_.put_if_newer(s);
  }
  Result<std::optional<Sample>> get(std::string_view device) override {
    ++*gets_;
    auto answer = shared_.get(device);
    // What happens between the far cache's answer and the caller's use of it.
    if (*during_get_) (*during_get_)();
    return answer;
  }
  std::optional<Sample> peek(std::string_view) override { return std::nullopt; }
  Result<void> ping() override { return {}; }
  std::string_view kind() const override { return "redis"; }

 private:
  RealtimeCache& shared_;
  int* gets_;
  const bool* refuse_puts_;
  const std::function<void()>* during_get_;
};

Sample sample_at(const std::string& device, std::int64_t i) {
  return sungrow::test::realistic_sample(device, i, sungrow::test::sample_epoch());
}

class NearCacheTest : public ::testing::Test {
 protected:
  std::unique_ptr<NearCache> replica() {
    return std::make_unique<NearCache>(
        std::make_unique<SharedFar>(shared_, &far_gets_, &refuse_, &during_get_), 1s, 100,
        clock_.fn());
  }
  ManualClock clock_;
  MemoryCache shared_{1h, 100, clock_.fn()};
  int far_gets_ = 0;
  bool refuse_ = false;
  std::function<void()> during_get_;
};

TEST_F(NearCacheTest, ReadsWithinTheNearTtlNeverReachTheFarCache) {
  auto cache = replica();
  ASSERT_TRUE(shared_.put_if_newer(sample_at("inv-1", 0)));
  EXPECT_FALSE(cache->peek("inv-1").has_value());  // nothing near yet: only get() can tell
  ASSERT_EQ(cache->get("inv-1").value()->seq, sample_at("inv-1", 0).seq);
  EXPECT_EQ(far_gets_, 1);
  clock_.now += 999ms;
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(cache->get("inv-1").value().has_value());
  ASSERT_TRUE(cache->peek("inv-1").has_value());
  EXPECT_EQ(far_gets_, 1);
  clock_.now += 1ms;  // the near copy is a second old: the next read asks the far cache again
  EXPECT_FALSE(cache->peek("inv-1").has_value());
  ASSERT_TRUE(cache->get("inv-1").value().has_value());
  EXPECT_EQ(far_gets_, 2);
}

TEST_F(NearCacheTest, AnotherReplicasNewerSampleIsSeenWithinTheNearTtl) {
  auto reader = replica();
  auto writer = replica();
  ASSERT_TRUE(writer->put_if_newer(sample_at("inv-1", 0)));
  ASSERT_EQ(reader->get("inv-1").value()->ts, sample_at("inv-1", 0).ts);
  ASSERT_TRUE(writer->put_if_newer(sample_at("inv-1", 1)));
  EXPECT_EQ(writer->get("inv-1").value()->ts, sample_at("inv-1", 1).ts);  // its own write at once
  EXPECT_EQ(reader->get("inv-1").value()->ts, sample_at("inv-1", 0).ts);  // still its near copy
  clock_.now += 1s;
  EXPECT_EQ(reader->get("inv-1").value()->ts, sample_at("inv-1", 1).ts);
  // An older sample, late, changes neither copy, also once the near copies have expired.
  ASSERT_TRUE(writer->put_if_newer(sample_at("inv-1", 0)));
  EXPECT_EQ(reader->get("inv-1").value()->ts, sample_at("inv-1", 1).ts);
  EXPECT_EQ(writer->get("inv-1").value()->ts, sample_at("inv-1", 1).ts);
  EXPECT_EQ(shared_.get("inv-1").value()->ts, sample_at("inv-1", 1).ts);
}

// A read answered before a write of the same replica landed must not be kept near: the replica's
// own write is seen by its next read.
TEST_F(NearCacheTest, AnAnswerOvertakenByAWriteIsNotKeptNear) {
  auto cache = replica();
  ASSERT_TRUE(cache->put_if_newer(sample_at("inv-1", 0)));
  during_get_ = [&] {
    during_get_ = nullptr;
    ASSERT_TRUE(cache->put_if_newer(sample_at("inv-1", 1)));
  };
  EXPECT_EQ(cache->get("inv-1").value()->ts, sample_at("inv-1", 0).ts);  // read before the write
  EXPECT_FALSE(cache->peek("inv-1").has_value());
  EXPECT_EQ(cache->get("inv-1").value()->ts, sample_at("inv-1", 1).ts);
}

TEST_F(NearCacheTest, AWriteTheFarCacheRefusedIsNotKeptNear) {
  auto cache = replica();
  refuse_ = true;
  EXPECT_FALSE(cache->put_if_newer(sample_at("inv-1", 0)));
  EXPECT_FALSE(cache->peek("inv-1").has_value());
  EXPECT_FALSE(cache->get("inv-1").value().has_value());
  EXPECT_EQ(cache->kind(), "redis");
}

TEST(NearCache, RefusesANullFarCache) {
  EXPECT_THROW(NearCache(nullptr, 1s), std::invalid_argument);
}

}  // namespace
}  // namespace sungrow::cache::test
