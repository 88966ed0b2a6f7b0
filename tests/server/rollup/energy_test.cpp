// Reset-safe energy steps: normal ticks, drops, glitches and the daily counter's midnight reset.
#include "sungrow/server/rollup/energy.hpp"

#include <gtest/gtest.h>

#include <random>

namespace sungrow::rollup {
namespace {

using namespace std::chrono_literals;

TEST(EnergyDelta, CountsAPlausibleIncrease) {
  const auto step = energy_delta(1000.0, 1000.1, 5s, 6'000);
  EXPECT_NEAR(step.kwh, 0.1, 1e-9);  // one register tick in 5 s is fine at any power
  EXPECT_EQ(step.verdict, StepVerdict::counted);
  EXPECT_NEAR(energy_delta(1000.0, 1010.0, 1h, 20'000).kwh, 10.0, 1e-9);
  EXPECT_EQ(energy_delta(1234.5, 1234.5, 5s, 6'000).kwh, 0.0);
}

TEST(EnergyDelta, ALifetimeTotalThatDropsGivesZero) {
  const auto step = energy_delta(9812.4, 0.3, 5s, 20'000);
  EXPECT_EQ(step.kwh, 0.0);
  EXPECT_EQ(step.verdict, StepVerdict::dropped);
  EXPECT_EQ(energy_delta(9812.4, 9812.3, 5s, 20'000).verdict, StepVerdict::dropped);
}

TEST(EnergyDelta, AJumpBeyondRatedPowerIsAGlitch) {
  // 20 kW for 5 min is 1.67 kWh (+0.1 slack); 6553.5 is the classic 0xFFFF sentinel leaking
  // through.
  EXPECT_EQ(energy_delta(1000.0, 1001.8, 5min, 20'000).verdict, StepVerdict::glitch);
  EXPECT_EQ(energy_delta(1000.0, 1001.8, 5min, 20'000).kwh, 0.0);
  EXPECT_EQ(energy_delta(1000.0, 1001.7, 5min, 20'000).verdict, StepVerdict::counted);
  EXPECT_EQ(energy_delta(12.0, 6553.5, 5s, 20'000).verdict, StepVerdict::glitch);
}

TEST(EnergyDelta, ADailyCounterResetCountsTheEnergySinceMidnight) {
  const auto step = energy_delta(12.3, 0.1, 5s, 30'000, CounterKind::daily);
  EXPECT_NEAR(step.kwh, 0.1, 1e-12);
  EXPECT_EQ(step.verdict, StepVerdict::daily_reset);
  // After a 10-minute gap over midnight, 2.0 kWh since midnight is plausible at 30 kW (5 kWh).
  EXPECT_NEAR(energy_delta(12.3, 2.0, 10min, 30'000, CounterKind::daily).kwh, 2.0, 1e-12);
  // A drop that cannot be "energy since a reset" is a glitch.
  const auto glitch = energy_delta(12.3, 5.0, 5s, 30'000, CounterKind::daily);
  EXPECT_EQ(glitch.kwh, 0.0);
  EXPECT_EQ(glitch.verdict, StepVerdict::glitch);
}

TEST(EnergyDelta, IsNeverNegativeNorAboveRatedPower) {
  std::mt19937_64 rng{42};
  std::uniform_real_distribution<double> value{0.0, 10'000.0};
  std::uniform_int_distribution<std::int64_t> millis{0, 3'600'000};
  for (int i = 0; i < 100'000; ++i) {
    const double previous = value(rng);
    const double current = (i % 2 == 0) ? value(rng) : previous + value(rng) / 1000.0;
    const std::chrono::milliseconds dt{millis(rng)};
    for (const auto kind : {CounterKind::lifetime_total, CounterKind::daily}) {
      const auto step = energy_delta(previous, current, dt, 10'000, kind);
      ASSERT_GE(step.kwh, 0.0);
      const double hours = std::chrono::duration<double, std::ratio<3600>>(dt).count();
      ASSERT_LE(step.kwh, 10.0 * hours + kCounterResolutionKwh + 1e-5);
    }
  }
}

}  // namespace
}  // namespace sungrow::rollup
