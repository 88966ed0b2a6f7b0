// make_cache: validation of the cache settings and the choice of implementation.
#include "sungrow/server/cache/make_cache.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace sungrow::cache {

Result<std::unique_ptr<RealtimeCache>> make_cache(const std::optional<std::string>& redis_url,
                                                  std::chrono::seconds ttl,
                                                  const CacheOptions& options) {
  if (ttl <= std::chrono::seconds::zero()) {
    return fail(
        fmt::format("CACHE_TTL_S must be a positive number of seconds (got {})", ttl.count()));
  }
  if (!redis_url) {
    if (options.memory_max_entries == 0) return fail("memory cache: max entries must be positive");
    return std::unique_ptr<RealtimeCache>(
        std::make_unique<MemoryCache>(ttl, options.memory_max_entries));
  }
  auto endpoint = parse_redis_url(*redis_url);
  if (!endpoint) return endpoint.error();
  if (options.near_ttl < std::chrono::milliseconds::zero()) {
    return fail("the near cache's lifetime must not be negative");
  }
  auto redis = RedisCache::create(std::move(endpoint).value(), ttl, options.redis);
  if (!redis) return redis.error();
  std::unique_ptr<RealtimeCache> far = std::move(redis).value();
  if (options.near_ttl == std::chrono::milliseconds::zero()) return far;
  const auto near_ttl = std::min<std::chrono::milliseconds>(options.near_ttl, ttl);
  return std::unique_ptr<RealtimeCache>(
      std::make_unique<NearCache>(std::move(far), near_ttl, options.memory_max_entries));
}

}  // namespace sungrow::cache
