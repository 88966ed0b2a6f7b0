// The newest committed sample per device, posted by ingest and watched by the event streams.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "sungrow/core/sample.hpp"
#include "sungrow/core/time.hpp"

namespace sungrow::api {

// In-process only: a stream on this server hears of samples this server committed at once; what
// another server process committed reaches it through the cache at the stream's next refresh.
// Thread-safe. Memory: one sample per device that ever posted.
class LiveBoard {
 public:
  struct Entry {
    std::uint64_t version = 0;  // rises with every post that changed this device's sample
    Sample sample;
  };

  // Keeps `sample` when it is newer (ts) than the one held for its device.
  void post(const Sample& sample);
  // Rises with every post that changed any device: a watcher that saw this value before has
  // nothing new to look at, without taking the lock.
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }
  std::optional<Entry> find(std::string_view device_id) const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::atomic<std::uint64_t> version_{0};
};

}  // namespace sungrow::api
