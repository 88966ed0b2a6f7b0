// make_cache: the RealtimeCache the configuration asks for (Redis with REDIS_URL, else memory).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "sungrow/server/cache/cache.hpp"
#include "sungrow/server/cache/memory_cache.hpp"
#include "sungrow/server/cache/near_cache.hpp"
#include "sungrow/server/cache/redis_cache.hpp"

namespace sungrow::cache {

struct CacheOptions {
  RedisOptions redis;
  std::size_t memory_max_entries = MemoryCache::kDefaultMaxEntries;
  // With Redis: how long a sample read from it is served from this process (NearCache); zero
  // reads Redis every time. Capped at the cache TTL.
  std::chrono::milliseconds near_ttl{1000};
};

// A bad URL, a TTL ≤ 0 or invalid options are an Error (start-up validation); an unreachable
// Redis is not — the cache connects on first use and the server runs degraded meanwhile.
Result<std::unique_ptr<RealtimeCache>> make_cache(const std::optional<std::string>& redis_url,
                                                  std::chrono::seconds ttl,
                                                  const CacheOptions& options = {});

}  // namespace sungrow::cache
