// NearCache: the far cache first on writes, the near copy first on reads.
#include "sungrow/server/cache/near_cache.hpp"

#include <stdexcept>
#include <utility>

namespace sungrow::cache {

NearCache::NearCache(std::unique_ptr<RealtimeCache> far, std::chrono::milliseconds near_ttl,
                     std::size_t max_entries, MemoryCache::ClockFn clock)
    : far_(std::move(far)), near_(near_ttl, max_entries, std::move(clock)) {
  if (!far_) throw std::invalid_argument("NearCache: the far cache is null");
}

Result<void> NearCache::put_if_newer(const Sample& sample) {
  // Whether the far cache kept the sample or held a newer one is not known here, so the near copy
  // is dropped and the next read asks: near only ever holds what the far cache answered.
  auto put = far_->put_if_newer(sample);
  const std::lock_guard lock(writes_mutex_);
  ++writes_;
  near_.forget(sample.device_id);
  return put;
}

Result<std::optional<Sample>> NearCache::get(std::string_view device_id) {
  if (auto near = near_.peek(device_id)) return near;
  std::uint64_t writes_before = 0;
  {
    const std::lock_guard lock(writes_mutex_);
    writes_before = writes_;
  }
  auto far = far_->get(device_id);
  if (far && far.value().has_value()) {
    // A write since the read began may already be in the far cache while this answer predates
    // it: keeping the answer near would hide that write from this replica's readers.
    const std::lock_guard lock(writes_mutex_);
    if (writes_ == writes_before) (void)near_.put_if_newer(*far.value());
  }
  return far;
}

std::optional<Sample> NearCache::peek(std::string_view device_id) {
  return near_.peek(device_id);
}

}  // namespace sungrow::cache
