// Realtime cache get/put cost: MemoryCache against RedisCache on a fresh local redis-server.
#include <benchmark/benchmark.h>

#include <atomic>
#include <memory>
#include <stdexcept>

#include "redis_instance.hpp"
#include "sample_factory.hpp"
#include "sungrow/server/cache/memory_cache.hpp"
#include "sungrow/server/cache/redis_cache.hpp"

namespace sungrow::cache {
namespace {

using namespace std::chrono_literals;

Sample sample_at(const std::string& device, std::int64_t i) {
  return test::realistic_sample(device, i, test::sample_epoch());
}

// One server and one cache of each kind for the whole run; ts grows across iterations and
// threads, so every put really writes.
struct Fixture {
  test::RedisInstance redis;
  MemoryCache memory{5min};
  std::unique_ptr<RedisCache> redis_cache;
  std::atomic<std::int64_t> next_ts{0};

  Fixture() {
    auto endpoint = parse_redis_url(redis.url());
    auto cache = RedisCache::create(endpoint.value(), 5min);
    if (!cache) throw std::runtime_error(cache.error().message);
    redis_cache = std::move(cache).value();
    for (RealtimeCache* c :
         {static_cast<RealtimeCache*>(&memory), static_cast<RealtimeCache*>(redis_cache.get())}) {
      if (!c->put_if_newer(sample_at("bench-device", 0))) throw std::runtime_error("seed put");
    }
  }
  RealtimeCache& pick(bool redis_kind) {
    return redis_kind ? static_cast<RealtimeCache&>(*redis_cache) : memory;
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

void BM_Get(benchmark::State& state, bool redis_kind) {
  RealtimeCache& cache = fixture().pick(redis_kind);
  for (auto _ : state) {
    auto got = cache.get("bench-device");
    if (!got || !*got) state.SkipWithError("get missed");
    benchmark::DoNotOptimize(got);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_PutNewer(benchmark::State& state, bool redis_kind) {
  RealtimeCache& cache = fixture().pick(redis_kind);
  // Samples are built outside the timed loop's cost as far as possible: one template, new ts.
  Sample s = sample_at("bench-device", 1);
  for (auto _ : state) {
    s.ts = test::sample_epoch() + std::chrono::milliseconds{++fixture().next_ts};
    if (!cache.put_if_newer(s)) state.SkipWithError("put failed");
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_PutOlder(benchmark::State& state, bool redis_kind) {
  RealtimeCache& cache = fixture().pick(redis_kind);
  const Sample old = sample_at("bench-device", -1'000'000);  // always ignored
  for (auto _ : state) {
    if (!cache.put_if_newer(old)) state.SkipWithError("put failed");
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK_CAPTURE(BM_Get, memory, false)->ThreadRange(1, 4)->UseRealTime();
BENCHMARK_CAPTURE(BM_Get, redis, true)->ThreadRange(1, 4)->UseRealTime();
BENCHMARK_CAPTURE(BM_PutNewer, memory, false)->ThreadRange(1, 4)->UseRealTime();
BENCHMARK_CAPTURE(BM_PutNewer, redis, true)->ThreadRange(1, 4)->UseRealTime();
BENCHMARK_CAPTURE(BM_PutOlder, memory, false)->UseRealTime();
BENCHMARK_CAPTURE(BM_PutOlder, redis, true)->UseRealTime();

}  // namespace
}  // namespace sungrow::cache

BENCHMARK_MAIN();
