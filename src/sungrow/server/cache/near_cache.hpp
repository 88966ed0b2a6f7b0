// NearCache: a short-lived in-process copy in front of a shared cache (Redis), so reading a hot
// device's realtime sample costs no round trip.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include "sungrow/server/cache/cache.hpp"
#include "sungrow/server/cache/memory_cache.hpp"

namespace sungrow::cache {

// Reads go to the near copy while it is younger than `near_ttl`, else to the far cache, whose
// answer is then kept near. A write goes to the far cache and drops the near copy. Newest-wins
// holds: near only holds what the far cache answered, so a reader sees at worst what Redis held
// `near_ttl` ago; this replica's own writes are seen at once; a late older write changes nothing.
class NearCache final : public RealtimeCache {
 public:
  // Preconditions (checked, std::invalid_argument): far not null, near_ttl > 0, max_entries > 0.
  NearCache(std::unique_ptr<RealtimeCache> far, std::chrono::milliseconds near_ttl,
            std::size_t max_entries = MemoryCache::kDefaultMaxEntries,
            MemoryCache::ClockFn clock = MemoryCache::Clock::now);

  Result<void> put_if_newer(const Sample& sample) override;
  Result<std::optional<Sample>> get(std::string_view device_id) override;
  std::optional<Sample> peek(std::string_view device_id) override;
  Result<void> ping() override { return far_->ping(); }
  std::string_view kind() const override { return far_->kind(); }

 private:
  std::unique_ptr<RealtimeCache> far_;
  MemoryCache near_;
  // Writes so far, and the lock under which a read's answer is kept near only if no write came
  // in since the read began (the write then also drops the copy under the same lock).
  std::mutex writes_mutex_;
  std::uint64_t writes_ = 0;
};

}  // namespace sungrow::cache
