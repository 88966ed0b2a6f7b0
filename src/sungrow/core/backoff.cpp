// Backoff arithmetic; the RNG is seeded by the caller so tests are deterministic.
#include "sungrow/core/backoff.hpp"

#include <algorithm>

namespace sungrow {

Backoff::Backoff(Duration base, Duration cap, std::uint64_t seed)
    : base_(base), cap_(std::max(cap, base)), rng_(seed) {}

Backoff::Duration Backoff::ceiling() const {
  // Doubling saturates long before 2^63 ms; stop shifting once past the cap.
  auto c = base_;
  for (std::uint32_t i = 0; i < failures_ && c < cap_; ++i) c *= 2;
  return std::min(c, cap_);
}

Backoff::Duration Backoff::next_delay() {
  const auto c = ceiling();
  ++failures_;
  std::uniform_int_distribution<std::int64_t> dist(c.count() / 2, c.count());
  return Duration{dist(rng_)};
}

}  // namespace sungrow
