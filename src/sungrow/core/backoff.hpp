// Capped exponential backoff with full jitter (1 s → 300 s by default), reset on success.
#pragma once

#include <chrono>
#include <cstdint>
#include <random>

namespace sungrow {

class Backoff {
 public:
  using Duration = std::chrono::milliseconds;

  Backoff(Duration base = std::chrono::seconds{1}, Duration cap = std::chrono::seconds{300},
          std::uint64_t seed = std::random_device{}());

  // The wait before the next attempt: uniform in [ceiling/2, ceiling] where the ceiling doubles
  // from `base` to `cap` with each failure. Half-jitter keeps a floor so a failing peer is never
  // hammered, while still spreading a fleet that failed together.
  Duration next_delay();
  // The ceiling the next call would use (for logs and health).
  Duration ceiling() const;
  void reset() { failures_ = 0; }
  std::uint32_t failures() const { return failures_; }

 private:
  Duration base_;
  Duration cap_;
  std::uint32_t failures_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace sungrow
