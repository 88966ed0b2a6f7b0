// Backoff: doubling from base to cap with jitter inside [ceiling/2, ceiling], reset on success.
#include "sungrow/core/backoff.hpp"

#include <gtest/gtest.h>

namespace sungrow {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(Backoff, DoublesUpToTheCapWithBoundedJitter) {
  Backoff b(seconds{1}, seconds{300}, 7);
  milliseconds expected_ceiling{1000};
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(b.ceiling(), expected_ceiling);
    const auto d = b.next_delay();
    EXPECT_GE(d, expected_ceiling / 2);
    EXPECT_LE(d, expected_ceiling);
    expected_ceiling = std::min<milliseconds>(expected_ceiling * 2, seconds{300});
  }
  EXPECT_EQ(b.ceiling(), seconds{300});
}

TEST(Backoff, ResetReturnsToBase) {
  Backoff b(seconds{1}, seconds{300}, 1);
  for (int i = 0; i < 5; ++i) b.next_delay();
  b.reset();
  EXPECT_EQ(b.ceiling(), seconds{1});
  EXPECT_EQ(b.failures(), 0U);
}

TEST(Backoff, JitterSpreadsAFleet) {
  // Devices that failed together must not retry in lockstep.
  Backoff a(seconds{1}, seconds{300}, 1);
  Backoff c(seconds{1}, seconds{300}, 2);
  int differ = 0;
  for (int i = 0; i < 10; ++i) differ += a.next_delay() != c.next_delay() ? 1 : 0;
  EXPECT_GE(differ, 8);
}

}  // namespace
}  // namespace sungrow
