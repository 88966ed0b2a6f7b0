// MemoryCache: the in-process RealtimeCache used when no REDIS_URL is configured (embedded mode).
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include "sungrow/server/cache/cache.hpp"

namespace sungrow::cache {

class MemoryCache final : public RealtimeCache {
 public:
  using Clock = std::chrono::steady_clock;
  // A value, not a mock: tests pass a lambda reading a time point they advance. Must be monotonic.
  using ClockFn = std::function<Clock::time_point()>;

  // The token table bounds the devices, but a bug or a huge table must not grow memory without
  // limit; 10,000 devices is far above one server's expected load (~0.5 MB per 1,000 entries).
  static constexpr std::size_t kDefaultMaxEntries = 10'000;

  // Preconditions (checked, std::invalid_argument): ttl > 0, max_entries > 0, clock callable.
  explicit MemoryCache(std::chrono::milliseconds ttl, std::size_t max_entries = kDefaultMaxEntries,
                       ClockFn clock = Clock::now);

  // Refuses a sample whose device_id is not a valid id (the JSON codec could not read it back,
  // and both implementations must agree). When the cache is full and the device is new, expired
  // entries go first, then the entry written longest ago (it is the stalest reading; its device
  // falls back to the store until its next ingest).
  Result<void> put_if_newer(const Sample& sample) override;
  Result<std::optional<Sample>> get(std::string_view device_id) override;
  std::optional<Sample> peek(std::string_view device_id) override;
  // Drops the device's entry, if any.
  void forget(std::string_view device_id);
  Result<void> ping() override { return {}; }
  std::string_view kind() const override { return "memory"; }

  // Entries held, including expired ones not yet dropped (for tests and /metrics).
  std::size_t size() const;

 private:
  // Writes happen in clock order and the TTL is fixed, so the write-order list is also expiry
  // order: dropping expired entries and evicting the oldest both work from its front.
  using WriteOrder = std::list<std::string>;
  struct Entry {
    Sample sample;
    Clock::time_point expires;
    WriteOrder::iterator position;
  };
  using Map = std::unordered_map<std::string, Entry>;

  void drop_expired(Clock::time_point now);
  void erase(Map::iterator it);

  std::chrono::milliseconds ttl_;
  std::size_t max_entries_;
  ClockFn clock_;
  mutable std::mutex mutex_;
  Map entries_;
  WriteOrder write_order_;
};

}  // namespace sungrow::cache
