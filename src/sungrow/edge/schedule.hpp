// The poll schedule: ticks on a fixed grid start + k × interval, so polls never drift or burst.
#pragma once

#include <chrono>

namespace sungrow::edge {

// The first tick of the grid strictly after `now`. A cycle that overran skips the ticks it
// missed instead of firing them back to back (which would poll a WiNet-S faster than allowed).
template <class Clock>
typename Clock::time_point next_tick(typename Clock::time_point start,
                                     typename Clock::duration interval,
                                     typename Clock::time_point now) {
  if (now < start) return start;
  const auto elapsed = now - start;
  return start + (elapsed / interval + 1) * interval;
}

}  // namespace sungrow::edge
