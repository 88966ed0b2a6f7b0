// RealtimeCache: the newest sample per device, in Redis (production) or in process (embedded).
#pragma once

#include <optional>
#include <string_view>

#include "sungrow/core/result.hpp"
#include "sungrow/core/sample.hpp"

namespace sungrow::cache {

// Every call is bounded in time (a hung Redis costs at most its timeout) and reports failure as
// an Error, never by throwing: the server then answers from the store and says "degraded".
// Implementations are thread-safe.
class RealtimeCache {
 public:
  RealtimeCache() = default;
  RealtimeCache(const RealtimeCache&) = delete;
  RealtimeCache& operator=(const RealtimeCache&) = delete;
  virtual ~RealtimeCache() = default;

  // Write-through after a committed ingest. Keeps the sample only if it is newer (greater ts)
  // than the cached one, so a late batch never replaces a fresher reading. Entries expire after
  // the TTL the cache was built with.
  virtual Result<void> put_if_newer(const Sample& sample) = 0;

  // The cached newest sample, nullopt on a miss (never cached, or expired).
  virtual Result<std::optional<Sample>> get(std::string_view device_id) = 0;

  // What get() would answer, when that needs no I/O (a copy held in this process); nullopt when
  // only get() can tell. Never blocks beyond a short lock: the server calls it on an I/O thread.
  virtual std::optional<Sample> peek(std::string_view device_id) = 0;

  // Health: succeeds when the cache answers.
  virtual Result<void> ping() = 0;

  // "redis" or "memory", for /health.
  virtual std::string_view kind() const = 0;
};

}  // namespace sungrow::cache
