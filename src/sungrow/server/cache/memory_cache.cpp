// MemoryCache: one mutex around a map and its write-order list.
#include "sungrow/server/cache/memory_cache.hpp"

#include <iterator>
#include <stdexcept>

namespace sungrow::cache {

MemoryCache::MemoryCache(std::chrono::milliseconds ttl, std::size_t max_entries, ClockFn clock)
    : ttl_(ttl), max_entries_(max_entries), clock_(std::move(clock)) {
  if (ttl_ <= std::chrono::milliseconds::zero()) {
    throw std::invalid_argument("MemoryCache: ttl must be positive");
  }
  if (max_entries_ == 0) throw std::invalid_argument("MemoryCache: max_entries must be positive");
  if (!clock_) throw std::invalid_argument("MemoryCache: clock must be callable");
}

Result<void> MemoryCache::put_if_newer(const Sample& sample) {
  if (!is_valid_device_id(sample.device_id)) {
    return fail("cache: refusing a sample whose device_id is not [A-Za-z0-9._:-]{1,64}");
  }
  const auto now = clock_();
  const std::lock_guard lock(mutex_);
  drop_expired(now);
  if (auto it = entries_.find(sample.device_id); it != entries_.end()) {
    if (sample.ts <= it->second.sample.ts) return {};
    it->second.sample = sample;
    it->second.expires = now + ttl_;
    write_order_.splice(write_order_.end(), write_order_, it->second.position);
    return {};
  }
  if (entries_.size() >= max_entries_) erase(entries_.find(write_order_.front()));
  write_order_.push_back(sample.device_id);
  try {
    entries_.emplace(sample.device_id, Entry{sample, now + ttl_, std::prev(write_order_.end())});
  } catch (...) {
    write_order_.pop_back();  // keep the list and the map in step if the map cannot allocate
    throw;
  }
  return {};
}

Result<std::optional<Sample>> MemoryCache::get(std::string_view device_id) {
  const auto now = clock_();
  const std::lock_guard lock(mutex_);
  // A heterogeneous lookup needs C++20's transparent unordered_map, which libstdc++ 12 lacks.
  const auto it = entries_.find(std::string(device_id));
  if (it == entries_.end()) return std::optional<Sample>{};
  if (it->second.expires <= now) {
    erase(it);
    return std::optional<Sample>{};
  }
  return std::optional<Sample>{it->second.sample};
}

std::optional<Sample> MemoryCache::peek(std::string_view device_id) {
  return get(device_id).value();  // never fails: everything is in process
}

void MemoryCache::forget(std::string_view device_id) {
  const std::lock_guard lock(mutex_);
  if (const auto it = entries_.find(std::string(device_id)); it != entries_.end()) erase(it);
}

std::size_t MemoryCache::size() const {
  const std::lock_guard lock(mutex_);
  return entries_.size();
}

void MemoryCache::drop_expired(Clock::time_point now) {
  while (!write_order_.empty()) {
    const auto it = entries_.find(write_order_.front());
    if (it->second.expires > now) break;
    erase(it);
  }
}

void MemoryCache::erase(Map::iterator it) {
  write_order_.erase(it->second.position);
  entries_.erase(it);
}

}  // namespace sungrow::cache
