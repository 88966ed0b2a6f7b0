// RedisCache against a real redis-server: the contract suite, then outages, auth, URLs, replicas.
#include "sungrow/server/cache/redis_cache.hpp"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <atomic>
#include <thread>

#include "cache_contract.hpp"
#include "redis_instance.hpp"
#include "sample_factory.hpp"
#include "sungrow/core/sample_json.hpp"
#include "sungrow/server/cache/make_cache.hpp"
#include "sungrow/server/cache/near_cache.hpp"

namespace sungrow::cache::test {
namespace {

using namespace std::chrono_literals;
using sungrow::test::RedisInstance;

Sample sample_at(const std::string& device, std::int64_t i) {
  return sungrow::test::realistic_sample(device, i, sungrow::test::sample_epoch());
}

std::unique_ptr<RedisCache> must_create(const std::string& url,
                                        std::chrono::milliseconds ttl = 5min,
                                        RedisOptions options = {}) {
  auto endpoint = parse_redis_url(url);
  if (!endpoint) throw std::runtime_error(endpoint.error().message);
  auto cache = RedisCache::create(std::move(*endpoint), ttl, std::move(options));
  if (!cache) throw std::runtime_error(cache.error().message);
  return std::move(*cache);
}

class RedisUnderTest final : public CacheUnderTest {
 public:
  RedisUnderTest(std::chrono::milliseconds ttl, bool unix_socket)
      : cache_(must_create(unix_socket ? redis_.unix_url() : redis_.url(), ttl)) {}
  RealtimeCache& cache() override { return *cache_; }

 private:
  RedisInstance redis_;
  std::unique_ptr<RedisCache> cache_;
};

INSTANTIATE_TEST_SUITE_P(Redis, CacheContract,
                         ::testing::Values(CacheImplementation{
                             "redis",
                             [](std::chrono::milliseconds ttl) {
                               return std::make_unique<RedisUnderTest>(ttl, false);
                             }}),
                         implementation_name);

// What the server runs with REDIS_URL: Redis behind the near cache (make_cache's choice).
class NearRedisUnderTest final : public CacheUnderTest {
 public:
  explicit NearRedisUnderTest(std::chrono::milliseconds ttl)
      : cache_(std::make_unique<NearCache>(must_create(redis_.url(), ttl), std::min(1000ms, ttl))) {
  }
  RealtimeCache& cache() override { return *cache_; }

 private:
  RedisInstance redis_;
  std::unique_ptr<NearCache> cache_;
};

INSTANTIATE_TEST_SUITE_P(NearRedis, CacheContract,
                         ::testing::Values(CacheImplementation{
                             "redis",
                             [](std::chrono::milliseconds ttl) {
                               return std::make_unique<NearRedisUnderTest>(ttl);
                             }}),
                         implementation_name);

// The raw view of the server, for checks the cache API does not expose (key layout, TTL) and for
// planting bad data. Uses the library's connection class: AUTH/SELECT and RAII come for free.
class RawRedis {
 public:
  explicit RawRedis(const std::string& url)
      : connection_(RedisConnection::open(parse_redis_url(url).value(), {1s, 2s}).value()) {}

  RedisReplyPtr command(std::initializer_list<std::string_view> argv) {
    auto reply = connection_.command(std::span(argv.begin(), argv.size()));
    if (!reply) throw std::runtime_error(reply.error().message);
    return std::move(*reply);
  }

 private:
  RedisConnection connection_;
};

// Runs `call` and returns how long it took; the assertions on time are generous bounds only.
template <class F>
std::chrono::milliseconds timed(F&& call) {
  const auto start = std::chrono::steady_clock::now();
  call();
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

constexpr auto kGenerousBound = 3s;

// Polls until the cache answers again (the reconnect backoff is 1 s by default).
bool recovers(RealtimeCache& cache, std::chrono::seconds within = 15s) {
  const auto deadline = std::chrono::steady_clock::now() + within;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cache.ping()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

TEST(RedisCache, StoresAHashWithTsAndJsonUnderThePrefixedKeyWithTheTtl) {
  RedisInstance redis;
  auto cache = must_create(redis.url(), 60s);
  const Sample s = sample_at("inv-1", 42);
  ASSERT_TRUE(cache->put_if_newer(s));
  EXPECT_EQ(cache->key_for("inv-1"), "sungrow:realtime:inv-1");

  RawRedis raw(redis.url());
  const auto ts = raw.command({"HGET", "sungrow:realtime:inv-1", "ts"});
  ASSERT_EQ(ts->type, REDIS_REPLY_STRING);
  EXPECT_EQ(std::string(ts->str, ts->len), std::to_string(s.ts.time_since_epoch().count()));
  const auto json = raw.command({"HGET", "sungrow:realtime:inv-1", "json"});
  ASSERT_EQ(json->type, REDIS_REPLY_STRING);
  EXPECT_EQ(std::string(json->str, json->len), to_json_text(s));
  const auto pttl = raw.command({"PTTL", "sungrow:realtime:inv-1"});
  ASSERT_EQ(pttl->type, REDIS_REPLY_INTEGER);
  EXPECT_GT(pttl->integer, 0);
  EXPECT_LE(pttl->integer, 60'000);
  const auto keys = raw.command({"DBSIZE"});
  EXPECT_EQ(keys->integer, 1);
}

TEST(RedisCache, HostileIdsNeverReachRedisAsCommands) {
  RedisInstance redis;
  auto cache = must_create(redis.url());
  ASSERT_TRUE(cache->put_if_newer(sample_at("victim", 1)));
  for (const std::string id : {"x\r\nFLUSHALL\r\n", "*1\r\n$8\r\nFLUSHALL\r\n", "* 1 2"}) {
    ASSERT_TRUE(cache->get(id).has_value());
  }
  RawRedis raw(redis.url());
  EXPECT_EQ(raw.command({"DBSIZE"})->integer, 1);
  EXPECT_TRUE(cache->get("victim").value().has_value());
}

TEST(RedisCache, StoppedRedisFailsFastAndRecoversOnRestart) {
  RedisInstance redis;
  auto cache = must_create(redis.url());
  ASSERT_TRUE(cache->put_if_newer(sample_at("inv", 1)));
  redis.stop();

  for (int i = 0; i < 5; ++i) {
    const auto took = timed([&] {
      const auto got = cache->get("inv");
      ASSERT_FALSE(got.has_value());
      EXPECT_NE(got.error().message.find(redis.url()), std::string::npos) << got.error().message;
      EXPECT_FALSE(cache->put_if_newer(sample_at("inv", 2 + i)).has_value());
      EXPECT_FALSE(cache->ping().has_value());
    });
    EXPECT_LT(took, kGenerousBound);
  }

  redis.restart();
  ASSERT_TRUE(recovers(*cache)) << "the same cache object never reconnected";
  EXPECT_EQ(cache->get("inv").value(), std::nullopt);  // no persistence: the restart lost it
  ASSERT_TRUE(cache->put_if_newer(sample_at("inv", 10)));
  EXPECT_EQ(cache->get("inv").value(), sample_at("inv", 10));
}

TEST(RedisCache, KilledRedisFailsFastToo) {
  RedisInstance redis;
  auto cache = must_create(redis.url());
  ASSERT_TRUE(cache->ping());
  redis.kill();
  const auto took = timed([&] { EXPECT_FALSE(cache->get("inv").has_value()); });
  EXPECT_LT(took, kGenerousBound);
}

TEST(RedisCache, AConnectionTheServerDroppedIsReplacedWithoutAFailedCall) {
  RedisInstance redis;
  auto cache = must_create(redis.url());
  ASSERT_TRUE(cache->put_if_newer(sample_at("inv", 1)));
  redis.restart();  // the pooled connection is now closed by the peer
  const auto got = cache->get("inv");
  ASSERT_TRUE(got.has_value()) << got.error().message;
  EXPECT_EQ(*got, std::nullopt);

  // The same through CLIENT KILL, the server closing an idle connection on its own.
  ASSERT_TRUE(cache->put_if_newer(sample_at("inv", 2)));
  RawRedis raw(redis.url());
  raw.command({"CLIENT", "KILL", "SKIPME", "yes"});
  const auto again = cache->get("inv");
  ASSERT_TRUE(again.has_value()) << again.error().message;
  EXPECT_EQ(*again, sample_at("inv", 2));
}

TEST(RedisCache, PausedRedisCostsEachCallABoundedTimeThenRecovers) {
  RedisInstance redis;
  auto cache = must_create(redis.url());
  ASSERT_TRUE(cache->put_if_newer(sample_at("inv", 1)));
  redis.pause();  // SIGSTOP: connections are still accepted by the kernel, nothing answers

  for (int i = 0; i < 4; ++i) {
    const auto took = timed([&] {
      const auto got = cache->get("inv");
      ASSERT_FALSE(got.has_value());
      EXPECT_FALSE(got.error().message.empty());
    });
    EXPECT_LT(took, kGenerousBound);
    const auto put_took =
        timed([&] { EXPECT_FALSE(cache->put_if_newer(sample_at("inv", 2 + i)).has_value()); });
    EXPECT_LT(put_took, kGenerousBound);
    std::this_thread::sleep_for(600ms);  // let the backoff lapse, so reconnecting is tried too
  }

  // Many threads at once against the hung server: each call still returns within the bound.
  std::atomic<int> too_slow{0};
  std::atomic<int> succeeded{0};
  {
    std::vector<std::jthread> threads;
    for (int t = 0; t < 8; ++t) {
      threads.emplace_back([&] {
        const auto took = timed([&] {
          if (cache->get("inv")) ++succeeded;
        });
        if (took >= kGenerousBound) ++too_slow;
      });
    }
  }
  EXPECT_EQ(too_slow.load(), 0);
  EXPECT_EQ(succeeded.load(), 0);

  redis.resume();
  ASSERT_TRUE(recovers(*cache)) << "the same cache object never answered again";
  EXPECT_EQ(cache->get("inv").value(), sample_at("inv", 1));
  ASSERT_TRUE(cache->put_if_newer(sample_at("inv", 50)));
  EXPECT_EQ(cache->get("inv").value(), sample_at("inv", 50));
}

TEST(RedisCache, WrongOrMissingPasswordIsAClearErrorThatNeverQuotesIt) {
  RedisInstance redis({.password = "right-pass-123"});
  const std::string host_port = "127.0.0.1:" + std::to_string(redis.port());

  auto wrong = must_create("redis://:wrong-pass-456@" + host_port);
  const auto got = wrong->get("inv");
  ASSERT_FALSE(got.has_value());
  EXPECT_NE(got.error().message.find("AUTH"), std::string::npos) << got.error().message;
  EXPECT_NE(got.error().message.find("WRONGPASS"), std::string::npos) << got.error().message;
  EXPECT_EQ(got.error().message.find("wrong-pass-456"), std::string::npos) << got.error().message;
  EXPECT_NE(got.error().message.find("***"), std::string::npos) << got.error().message;

  auto none = must_create("redis://" + host_port);
  const auto no_auth = none->put_if_newer(sample_at("inv", 1));
  ASSERT_FALSE(no_auth.has_value());
  EXPECT_NE(no_auth.error().message.find("NOAUTH"), std::string::npos) << no_auth.error().message;

  auto right = must_create(redis.url());
  ASSERT_TRUE(right->put_if_newer(sample_at("inv", 1)));
  EXPECT_EQ(right->get("inv").value(), sample_at("inv", 1));

  auto over_unix = must_create(redis.unix_url());
  EXPECT_EQ(over_unix->get("inv").value(), sample_at("inv", 1));
}

TEST(RedisCache, UnixSocketAndDatabaseSelection) {
  RedisInstance redis;
  auto db0 = must_create(redis.unix_url());
  auto db5 = must_create(redis.unix_url() + "?db=5");
  auto db5_tcp = must_create("redis://127.0.0.1:" + std::to_string(redis.port()) + "/5");
  ASSERT_TRUE(db0->put_if_newer(sample_at("inv", 1)));
  ASSERT_TRUE(db5->put_if_newer(sample_at("inv", 2)));
  EXPECT_EQ(db0->get("inv").value(), sample_at("inv", 1));
  EXPECT_EQ(db5->get("inv").value(), sample_at("inv", 2));
  EXPECT_EQ(db5_tcp->get("inv").value(), sample_at("inv", 2));

  auto db_out_of_range = must_create("redis://127.0.0.1:" + std::to_string(redis.port()) + "/99");
  const auto got = db_out_of_range->get("inv");
  ASSERT_FALSE(got.has_value());
  EXPECT_NE(got.error().message.find("SELECT"), std::string::npos) << got.error().message;
}

TEST(RedisCache, NothingListensIsAFastErrorAndMakeCacheStillSucceeds) {
  // A port nobody listens on: a fresh instance's port after it is gone.
  std::string url;
  {
    RedisInstance gone;
    url = gone.url();
  }
  auto cache = make_cache(url, 30s);
  ASSERT_TRUE(cache.has_value()) << cache.error().message;  // start-up does not need Redis
  EXPECT_EQ((*cache)->kind(), "redis");
  const auto took = timed([&] {
    const auto ping = (*cache)->ping();
    ASSERT_FALSE(ping.has_value());
    EXPECT_NE(ping.error().message.find("cannot connect"), std::string::npos)
        << ping.error().message;
  });
  EXPECT_LT(took, kGenerousBound);
  // Within the backoff the next call does not even try: the same error, at once.
  const auto again = (*cache)->get("inv");
  ASSERT_FALSE(again.has_value());
  EXPECT_NE(again.error().message.find("reconnecting at most every"), std::string::npos)
      << again.error().message;
}

TEST(RedisCache, ForeignOrCorruptValuesAreErrorsNotCrashes) {
  RedisInstance redis;
  auto cache = must_create(redis.url());
  RawRedis raw(redis.url());
  raw.command({"SET", "sungrow:realtime:string-key", "not a hash"});
  raw.command({"HSET", "sungrow:realtime:bad-json", "ts", "1", "json", "{not json"});
  raw.command({"HSET", "sungrow:realtime:bad-sample", "ts", "1", "json", "{\"device_id\":7}"});
  raw.command(
      {"HSET", "sungrow:realtime:moved", "ts", "1", "json", to_json_text(sample_at("x", 1))});
  raw.command({"HSET", "sungrow:realtime:bad-ts", "ts", "yesterday", "json", "{}"});

  for (const char* id : {"string-key", "bad-json", "bad-sample", "moved"}) {
    const auto got = cache->get(id);
    ASSERT_FALSE(got.has_value()) << id;
    EXPECT_NE(got.error().message.find(std::string("sungrow:realtime:") + id), std::string::npos)
        << got.error().message;
  }
  EXPECT_FALSE(cache->put_if_newer(sample_at("string-key", 1)).has_value());
  // A stored ts Lua cannot read as a number is refused rather than overwritten blindly.
  EXPECT_FALSE(cache->put_if_newer(sample_at("bad-ts", 1)).has_value());
  // The connection survived all of that.
  EXPECT_TRUE(cache->ping());
}

TEST(RedisCache, SurvivesAScriptCacheFlush) {
  RedisInstance redis;
  auto cache = must_create(redis.url());
  ASSERT_TRUE(cache->put_if_newer(sample_at("inv", 1)));
  RawRedis raw(redis.url());
  raw.command({"SCRIPT", "FLUSH"});
  ASSERT_TRUE(cache->put_if_newer(sample_at("inv", 2)));
  EXPECT_EQ(cache->get("inv").value(), sample_at("inv", 2));
  ASSERT_TRUE(cache->put_if_newer(sample_at("inv", 1)));  // still compared after the reload
  EXPECT_EQ(cache->get("inv").value(), sample_at("inv", 2));
}

// Two cache objects with their own pools stand for two server replicas. As in the contract
// suite, each writer puts its own share of ascending timestamps, and nobody may ever read back an
// older ts than one it already put.
TEST(RedisCache, TwoReplicasRacingEndWithTheNewest) {
  RedisInstance redis;
  auto replica_a = must_create(redis.url());
  auto replica_b = must_create(redis.url());
  constexpr int kWriters = 6;
  constexpr std::int64_t kSamples = 1'200;
  std::atomic<int> failures{0};
  std::atomic<int> went_back{0};
  for (int round = 0; round < 3; ++round) {
    const std::string device = "inv-" + std::to_string(round);
    {
      std::vector<std::jthread> threads;
      for (int t = 0; t < kWriters; ++t) {
        RedisCache& replica = t % 2 == 0 ? *replica_a : *replica_b;
        threads.emplace_back([&, t] {
          for (std::int64_t i = t; i < kSamples; i += kWriters) {
            const Sample mine = sample_at(device, i);
            if (!replica.put_if_newer(mine)) ++failures;
            const auto got = replica.get(device);
            if (!got || !*got) {
              ++failures;
            } else if ((*got)->ts < mine.ts) {
              ++went_back;
            }
          }
        });
      }
    }
    EXPECT_EQ(replica_a->get(device).value(), sample_at(device, kSamples - 1)) << device;
    EXPECT_EQ(replica_b->get(device).value(), sample_at(device, kSamples - 1)) << device;
  }
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(went_back.load(), 0) << "a newer sample was overwritten by an older one";
}

}  // namespace
}  // namespace sungrow::cache::test
