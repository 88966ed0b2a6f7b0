// RFC 3339 formatting and strict parsing.
#include "sungrow/core/time.hpp"

#include <gtest/gtest.h>

namespace sungrow {
namespace {

TEST(Rfc3339, FormatsUtcWithMilliseconds) {
  const Timestamp t{std::chrono::milliseconds{1'764'200'113'007}};
  EXPECT_EQ(format_rfc3339(t), "2025-11-26T23:35:13.007Z");
  EXPECT_EQ(parse_rfc3339(format_rfc3339(t)), t);
}

TEST(Rfc3339, AppliesOffsets) {
  EXPECT_EQ(parse_rfc3339("2026-10-25T02:30:00+05:30"), parse_rfc3339("2026-10-24T21:00:00Z"));
  EXPECT_EQ(parse_rfc3339("2026-10-25T00:00:00-01:00"), parse_rfc3339("2026-10-25T01:00:00.000Z"));
}

TEST(Rfc3339, RejectsMalformedText) {
  for (const char* bad :
       {"", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-01 00:00:00Z",
        "2026-01-01T24:00:00Z", "2026-01-01T00:00:00", "2026-01-01T00:00:00.Z",
        "2026-01-01T00:00:00Zjunk", "2026-01-01T00:00:00+5:30"}) {
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
  }
}

// An offset may carry a valid local time out of the UTC years 0000..9999, which RFC 3339 cannot
// write back: such text is refused, so every parsed timestamp formats again.
TEST(Rfc3339, RejectsInstantsOutsideFourDigitUtcYears) {
  EXPECT_FALSE(parse_rfc3339("9999-12-31T23:59:59.999-23:59"));
  EXPECT_FALSE(parse_rfc3339("9999-12-31T23:59:59.999-00:01"));
  EXPECT_FALSE(parse_rfc3339("0000-01-01T00:00:00+00:01"));
  const auto last = parse_rfc3339("9999-12-31T23:59:59.999Z");
  ASSERT_TRUE(last);
  EXPECT_EQ(*last, kLatestRfc3339Ts);
  EXPECT_EQ(format_rfc3339(*last), "9999-12-31T23:59:59.999Z");
  const auto first = parse_rfc3339("0000-01-01T00:00:00Z");
  ASSERT_TRUE(first);
  EXPECT_EQ(format_rfc3339(*first), "0000-01-01T00:00:00.000Z");
  EXPECT_EQ(format_rfc3339(kEarliestSampleTs), "2000-01-01T00:00:00.000Z");
}

}  // namespace
}  // namespace sungrow
