// parse_query: decoding, the allow-list, repeats and malformed encodings.
#include "sungrow/server/api/query.hpp"

#include <gtest/gtest.h>

#include <array>

namespace sungrow::api {
namespace {

constexpr std::array<std::string_view, 3> kAllowed{"device_id", "from", "tz"};

TEST(ParseQuery, DecodesPercentEncodingAndPlus) {
  const auto q = parse_query("tz=Europe%2FBerlin&from=2026-03-29T00:00:00%2B01:00", kAllowed);
  ASSERT_TRUE(q.has_value()) << q.error().message;
  EXPECT_EQ(q->get("tz"), "Europe/Berlin");
  EXPECT_EQ(q->get("from"), "2026-03-29T00:00:00+01:00");
  EXPECT_FALSE(q->get("device_id").has_value());
}

TEST(ParseQuery, EmptyQueryAndEmptyValues) {
  EXPECT_FALSE(parse_query("", kAllowed)->get("tz").has_value());
  const auto q = parse_query("tz=&&device_id=a", kAllowed);
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->get("tz"), "");
  EXPECT_EQ(q->get("device_id"), "a");
}

TEST(ParseQuery, RefusesUnknownRepeatedAndMalformed) {
  const auto unknown = parse_query("form=x", kAllowed);
  ASSERT_FALSE(unknown.has_value());
  EXPECT_NE(unknown.error().message.find("\"form\""), std::string::npos);
  EXPECT_NE(unknown.error().message.find("device_id, from, tz"), std::string::npos);
  EXPECT_FALSE(parse_query("tz=a&tz=b", kAllowed).has_value());
  EXPECT_FALSE(parse_query("tz=%G1", kAllowed).has_value());
  EXPECT_FALSE(parse_query("tz=%", kAllowed).has_value());
  // A raw NUL is never valid in a URI (and Boost.URL 1.81 would stop its strlen there).
  EXPECT_FALSE(parse_query(std::string_view("tz=a\0b", 6), kAllowed).has_value());
}

TEST(ParseQuery, NeverEchoesAHostileName) {
  const auto r = parse_query("%3Cscript%3E=1", kAllowed);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message.find("script"), std::string::npos) << r.error().message;
  const auto long_name = parse_query(std::string(100, 'a') + "=1", kAllowed);
  ASSERT_FALSE(long_name.has_value());
  EXPECT_EQ(long_name.error().message.find(std::string(40, 'a')), std::string::npos);
}

}  // namespace
}  // namespace sungrow::api
