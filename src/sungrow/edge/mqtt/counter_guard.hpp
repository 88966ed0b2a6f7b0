// Keeps the lifetime energy totals published to Home Assistant from going down or leaping.
#pragma once

#include <array>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "sungrow/core/sample.hpp"

namespace sungrow::edge {

// Home Assistant reads any decrease of a total_increasing sensor as a meter reset and counts the
// whole total again, and a leap as energy that flowed. A reading is passed on when the step from
// the last good one is plausible by the server's own rule (rollup::energy_delta with the counter's
// power ceiling); otherwise the last good value is published instead. A level is taken without
// that step — the first one, or a higher one — only when kConfirmations of the last kWindow
// readings agree with it (a glitch is a reading on its own, however often glitches come). A lower
// level is never published by a running edge: after a real counter reset the operator restarts
// the edge, which then starts afresh.
//
// Not thread-safe; feed it every sample in poll order. It changes only the copy published over
// MQTT: the spooled sample, and so the server's data, stays exactly as read.
class CounterGuard {
 public:
  static constexpr int kConfirmations = 3;
  static constexpr std::size_t kWindow = 5;
  // Readings held in a row, below the published value, before the log says to restart for a
  // real reset.
  static constexpr int kPersistentDrop = 60;

  // Adjusts the lifetime totals of `sample` in place (null stays null; a counter without a
  // confirmed level yet is published as null). Returns log lines for what it held or re-based.
  std::vector<std::string> apply(Sample& sample);

 private:
  struct Reading {
    double kwh = 0;
    Timestamp ts{};
  };
  struct Track {
    std::optional<Reading> good;  // last value passed on
    std::deque<Reading> recent;   // the latest readings that did not follow from `good`
    int held = 0;                 // readings held since the last good one
  };
  // One per counter of rollup::kCounters (the daily load counter's stays unused).
  std::array<Track, 6> tracks_{};
};

}  // namespace sungrow::edge
