// The poll grid: ticks stay on start + k × interval whatever each cycle costs.
#include "sungrow/edge/schedule.hpp"

#include <gtest/gtest.h>

namespace sungrow::edge {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(Schedule, TicksStayOnTheGridWithoutDrift) {
  const Clock::time_point start{seconds{1000}};
  // A cycle that took 37 ms still wakes at start + 5 s, and 10 000 cycles later still on the grid.
  EXPECT_EQ(next_tick<Clock>(start, seconds{5}, start + milliseconds{37}), start + seconds{5});
  auto t = start;
  for (int i = 0; i < 10'000; ++i) t = next_tick<Clock>(start, seconds{5}, t + milliseconds{123});
  EXPECT_EQ(t, start + seconds{5} * 10'000);
}

TEST(Schedule, AnOverrunSkipsMissedTicksInsteadOfBursting) {
  const Clock::time_point start{seconds{0}};
  // A 12.3 s cycle (a dongle timing out) resumes at 15 s: the ticks at 5 s and 10 s are skipped.
  EXPECT_EQ(next_tick<Clock>(start, seconds{5}, start + milliseconds{12'300}), start + seconds{15});
  // Exactly on a tick: the next one, never the same one again.
  EXPECT_EQ(next_tick<Clock>(start, seconds{5}, start + seconds{10}), start + seconds{15});
}

}  // namespace
}  // namespace sungrow::edge
