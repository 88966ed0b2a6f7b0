// The bucket codec: exact round trip (doubles included), deterministic text, strict rejection.
#include "sungrow/server/storage/base_bucket_json.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>

#include "sungrow/server/storage/precise_json.hpp"

namespace sungrow::storage {
namespace {

using namespace std::chrono_literals;

Sample sample_at(Timestamp ts, double power, double soc, double counter) {
  Sample s;
  s.device_id = "dev";
  s.ts = ts;
  s.pv_power_w = power;
  s.load_power_w = -power;
  s.grid_power_w = power / 3;
  s.battery_power_w = power * 1e-7;
  s.battery_soc_pct = soc;
  s.pv_energy_total_kwh = counter;
  s.grid_import_total_kwh = counter / 7;
  s.load_energy_today_kwh = counter * 1e300;
  return s;
}

TEST(BaseBucketJson, RoundTripsExactlyWithAwkwardDoubles) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> dist(-1e5, 1e5);
  const Timestamp start{1'700'000'100'000ms};
  for (int round = 0; round < 200; ++round) {
    auto bucket = rollup::from_sample(sample_at(start, dist(rng), dist(rng) / 1e3, dist(rng)));
    for (int i = 1; i < 10; ++i) {
      rollup::merge(bucket, rollup::from_sample(sample_at(start + i * 5s, dist(rng), 0.1 + 0.2 * i,
                                                          dist(rng) * 1e-3)));
    }
    const auto text = base_bucket_to_json(bucket);
    auto back = base_bucket_from_json(text);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(back.value(), bucket) << text;
    EXPECT_EQ(base_bucket_to_json(back.value()), text);
  }
}

TEST(BaseBucketJson, RoundTripsBitPatternsBoostAloneWouldRound) {
  // Boost.JSON 1.81's parser is off by an ulp for some 17-digit values; ours is not.
  std::mt19937_64 rng(7);
  int checked = 0;
  while (checked < 20'000) {
    const double v = std::bit_cast<double>(rng());
    if (!std::isfinite(v)) continue;
    ++checked;
    Sample s;
    s.pv_power_w = s.battery_soc_pct = s.pv_energy_total_kwh = v;
    auto bucket = rollup::from_sample(s);
    auto back = base_bucket_from_json(base_bucket_to_json(bucket));
    ASSERT_TRUE(back) << back.error().message;
    ASSERT_EQ(std::bit_cast<std::uint64_t>(back.value().power[0].min),
              std::bit_cast<std::uint64_t>(v));
    ASSERT_EQ(back.value(), bucket);
  }
}

TEST(BaseBucketJson, RoundTripsEmptyOptionalsAndNegativeZero) {
  Sample s;
  s.ts = Timestamp{300'000ms};
  s.grid_power_w = -0.0;
  auto bucket = rollup::from_sample(s);
  const auto text = base_bucket_to_json(bucket);
  auto back = base_bucket_from_json(text);
  ASSERT_TRUE(back) << back.error().message;
  EXPECT_EQ(back.value(), bucket);
  EXPECT_TRUE(std::signbit(back.value().power[2].min));
  EXPECT_FALSE(back.value().soc.last.has_value());
  EXPECT_EQ(base_bucket_to_json(back.value()), text);
}

TEST(BaseBucketJson, RejectsMalformedText) {
  const auto good = base_bucket_to_json(rollup::from_sample(sample_at(Timestamp{0ms}, 1, 2, 3)));
  EXPECT_FALSE(base_bucket_from_json(""));
  EXPECT_FALSE(base_bucket_from_json(good + "x"));
  EXPECT_FALSE(base_bucket_from_json("[]"));
  EXPECT_FALSE(base_bucket_from_json(R"({"start_ms":0})"));
  auto wrong_type = good;
  wrong_type.replace(wrong_type.find("\"samples\":1"), 11, "\"samples\":\"1\"");
  auto err = base_bucket_from_json(wrong_type);
  ASSERT_FALSE(err);
  EXPECT_NE(err.error().message.find("samples"), std::string::npos);
}

TEST(PreciseJson, ReadsCorrectlyRoundedDoublesAndRefusesOverflow) {
  auto v = parse_json_precise(R"({"a":0.30000000000000004,"b":-0,"c":[1,"x",null,true]})");
  ASSERT_TRUE(v) << v.error().message;
  EXPECT_EQ(v.value().at("a").as_double(), 0.1 + 0.2);
  EXPECT_TRUE(std::signbit(v.value().at("b").as_double()));
  EXPECT_EQ(v.value().at("c").as_array().size(), 4U);
  EXPECT_FALSE(parse_json_precise("1e400"));
  EXPECT_FALSE(parse_json_precise("{"));
}

}  // namespace
}  // namespace sungrow::storage
