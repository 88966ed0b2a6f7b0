// LiveBoard: a map under one lock, and a counter watchers read without it.
#include "sungrow/server/api/live_board.hpp"

namespace sungrow::api {

void LiveBoard::post(const Sample& sample) {
  const std::lock_guard lock(mutex_);
  auto it = entries_.find(sample.device_id);
  if (it != entries_.end() && it->second.sample.ts >= sample.ts) return;
  const auto version = version_.load(std::memory_order_relaxed) + 1;
  if (it == entries_.end()) {
    entries_.emplace(sample.device_id, Entry{.version = version, .sample = sample});
  } else {
    it->second = Entry{.version = version, .sample = sample};
  }
  version_.store(version, std::memory_order_release);
}

std::optional<LiveBoard::Entry> LiveBoard::find(std::string_view device_id) const {
  const std::lock_guard lock(mutex_);
  const auto it = entries_.find(device_id);
  if (it == entries_.end()) return std::nullopt;
  return it->second;
}

}  // namespace sungrow::api
