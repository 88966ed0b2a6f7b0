// quote_untrusted: plain short text is quoted, anything else is described, never echoed.
#include "sungrow/core/quote.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sungrow {
namespace {

TEST(QuoteUntrusted, QuotesWhatAClientTypes) {
  EXPECT_EQ(quote_untrusted("Europe/Amsterdam"), "\"Europe/Amsterdam\"");
  EXPECT_EQ(quote_untrusted("2026-10-25T00:00:00+02:00"), "\"2026-10-25T00:00:00+02:00\"");
  EXPECT_EQ(quote_untrusted("week"), "\"week\"");
}

TEST(QuoteUntrusted, DescribesInsteadOfEchoing) {
  EXPECT_EQ(quote_untrusted(""), "a value of 0 bytes that is not shown");
  EXPECT_EQ(quote_untrusted("<script>"), "a value of 8 bytes that is not shown");
  EXPECT_EQ(quote_untrusted(std::string("a\0b", 3)), "a value of 3 bytes that is not shown");
  EXPECT_EQ(quote_untrusted("x'; DROP TABLE samples;--"), "a value of 25 bytes that is not shown");
  EXPECT_EQ(quote_untrusted(std::string(65, 'a')), "a value of 65 bytes that is not shown");
  EXPECT_EQ(quote_untrusted(std::string(10, 'a'), 8), "a value of 10 bytes that is not shown");
}

}  // namespace
}  // namespace sungrow
