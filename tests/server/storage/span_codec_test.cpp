// The span codec: exact round trips for every double bit pattern, and strict rejection.
#include "sungrow/server/storage/span_codec.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>

namespace sungrow::storage {
namespace {

using namespace std::chrono_literals;

rollup::Span awkward_span() {
  rollup::Span s;
  s.start = Timestamp{-3'600'000ms};  // before 1970: negative fields survive
  s.end = s.start + 1h;
  s.samples = 720;
  s.power[0] = {.count = 3, .sum_mw = -9'000'000'000'000, .min = -0.0, .max = 0.1 + 0.2};
  s.power[3] = {.count = 1,
                .sum_mw = 1,
                .min = std::numeric_limits<double>::denorm_min(),
                .max = std::numeric_limits<double>::max()};
  s.soc.min = 5e-324;
  s.soc.last = rollup::Reading{s.start + 5s, 99.9};
  s.counters[0] = {
      .first = rollup::Reading{s.start, 1234.5},
      .second = rollup::Reading{s.start + 5s, 0.0},
      .penultimate = rollup::Reading{s.start + 58min, 1235.0},
      .last = rollup::Reading{s.start + 59min, 1235.1},
      .after_head = {{{.kwh = 0.6000000000000227, .anomalies = 2, .ends_pending = false},
                      {.kwh = 0.1, .anomalies = 3, .ends_pending = true}}}};
  s.counters[5].last = rollup::Reading{s.start + 1s, 1.0 / 3.0};
  return s;
}

TEST(SpanCodec, RoundTripsEveryFieldBitExact) {
  const auto span = awkward_span();
  const auto bytes = span_to_bytes(span);
  const auto back = span_from_bytes(bytes);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back.value(), span);
  EXPECT_TRUE(std::signbit(back.value().power[0].min));
  EXPECT_EQ(span_to_bytes(back.value()), bytes);
  const auto hex = to_bytea_hex(bytes);
  EXPECT_EQ(hex.substr(0, 2), "\\x");
  EXPECT_EQ(from_bytea_hex(hex).value(), bytes);
}

TEST(SpanCodec, EqualSpansGiveEqualBytesAndDifferentSpansDifferentBytes) {
  auto a = awkward_span();
  auto b = awkward_span();
  EXPECT_EQ(span_to_bytes(a), span_to_bytes(b));
  b.counters[0].after_head[1].kwh = std::nextafter(b.counters[0].after_head[1].kwh, 1.0);
  EXPECT_NE(span_to_bytes(a), span_to_bytes(b));
}

TEST(SpanCodec, RejectsWrongSizeVersionFlagsAndHex) {
  const auto bytes = span_to_bytes(awkward_span());
  EXPECT_FALSE(span_from_bytes(""));
  EXPECT_FALSE(span_from_bytes(bytes.substr(1)));
  EXPECT_FALSE(span_from_bytes(bytes + "x"));
  auto version = bytes;
  version[0] = 9;
  EXPECT_FALSE(span_from_bytes(version));
  auto flags = bytes;
  flags[1 + 3 * 8 + 4 * 32] = 8;  // the soc flags byte
  EXPECT_FALSE(span_from_bytes(flags));
  EXPECT_FALSE(from_bytea_hex("abcd"));
  EXPECT_FALSE(from_bytea_hex("\\xabc"));
  EXPECT_FALSE(from_bytea_hex("\\xzz"));
}

}  // namespace
}  // namespace sungrow::storage
