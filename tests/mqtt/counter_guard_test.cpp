// The lifetime counter hold: glitches never reach Home Assistant, real growth always does.
#include "sungrow/edge/mqtt/counter_guard.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <random>

namespace sungrow::edge {
namespace {

using namespace std::chrono_literals;

const Timestamp kStart = *parse_rfc3339("2026-06-21T10:00:00Z");

Sample at(std::chrono::milliseconds t, std::optional<double> pv_total) {
  Sample s;
  s.device_id = "d";
  s.ts = kStart + t;
  s.pv_energy_total_kwh = pv_total;
  return s;
}

// Feeds `readings` 5 s apart; returns what would be published.
std::vector<std::optional<double>> publish(CounterGuard& guard,
                                           const std::vector<std::optional<double>>& readings,
                                           std::chrono::milliseconds from = 0ms) {
  std::vector<std::optional<double>> out;
  for (std::size_t i = 0; i < readings.size(); ++i) {
    auto s = at(from + 5s * static_cast<int>(i), readings[i]);
    guard.apply(s);
    out.push_back(s.pv_energy_total_kwh);
  }
  return out;
}

TEST(CounterGuard, ALevelIsPublishedOnlyOnceConfirmed) {
  CounterGuard g;
  const auto out = publish(g, {9812.4, 9812.4, 9812.5, 9812.5});
  EXPECT_EQ(out, (std::vector<std::optional<double>>{std::nullopt, std::nullopt, 9812.5, 9812.5}));
}

TEST(CounterGuard, FrequentGlitchesDoNotKeepALevelFromBeingConfirmed) {
  CounterGuard g;
  // Every third reading a glitch, from the very first poll on.
  const auto out = publish(g, {100.0, 100.0, 0.0, 100.1, 100.1, 6553.5, 100.2});
  EXPECT_EQ(out, (std::vector<std::optional<double>>{std::nullopt, std::nullopt, std::nullopt,
                                                     100.1, 100.1, 100.1, 100.2}));
}

TEST(CounterGuard, IsolatedGlitchesAreHeldAtTheLastGoodValue) {
  CounterGuard g;
  publish(g, {100.0, 100.0, 100.0});
  // 0, the 0xFFFF low word (6553.5), a +1000 kWh leap, a drop of 1 kWh: each held.
  const auto out = publish(g, {0.0, 100.1, 6553.5, 100.1, 1100.1, 100.2, 99.2, 100.2}, 15s);
  EXPECT_EQ(out, (std::vector<std::optional<double>>{100.0, 100.1, 100.1, 100.1, 100.1, 100.2,
                                                     100.2, 100.2}));
}

TEST(CounterGuard, NullStaysNullAndDoesNotDisturbTheLevel) {
  CounterGuard g;
  publish(g, {100.0, 100.0, 100.0});
  const auto out = publish(g, {std::nullopt, 100.1}, 15s);
  EXPECT_EQ(out, (std::vector<std::optional<double>>{std::nullopt, 100.1}));
}

TEST(CounterGuard, GrowthAfterALongGapIsPlausible) {
  CounterGuard g;
  publish(g, {100.0, 100.0, 100.0});
  // Six hours without a poll at up to 20 kW: 30 kWh more is fine.
  auto s = at(6h, 130.0);
  g.apply(s);
  EXPECT_EQ(s.pv_energy_total_kwh, 130.0);
}

TEST(CounterGuard, APersistentHigherLevelIsTakenAfterConfirmation) {
  CounterGuard g;
  publish(g, {100.0, 100.0, 100.0});
  const auto out = publish(g, {500.0, 500.0, 500.0, 500.1}, 15s);
  EXPECT_EQ(out, (std::vector<std::optional<double>>{100.0, 100.0, 500.0, 500.1}));
}

TEST(CounterGuard, ALowerLevelIsNeverPublishedAndTheLogSaysWhatToDo) {
  CounterGuard g;
  publish(g, {100.0, 100.0, 100.0});
  std::vector<std::string> log;
  for (int i = 0; i < CounterGuard::kPersistentDrop + 5; ++i) {
    auto s = at(15s + 5s * i, 0.1 * i);
    for (auto& line : g.apply(s)) log.push_back(line);
    EXPECT_EQ(s.pv_energy_total_kwh, 100.0);
  }
  const auto restart_hint = std::count_if(log.begin(), log.end(), [](const std::string& l) {
    return l.find("restart sungrow-edge") != std::string::npos;
  });
  EXPECT_EQ(restart_hint, 1);
  EXPECT_LE(log.size(), 4U) << "a hold is logged when it starts and then only now and then";
}

TEST(CounterGuard, EveryLifetimeCounterIsGuardedAndDailyOnesAreNot) {
  CounterGuard g;
  Sample s = at(0ms, 10.0);
  s.grid_import_total_kwh = s.grid_export_total_kwh = s.battery_charge_total_kwh =
      s.battery_discharge_total_kwh = 10.0;
  s.load_energy_today_kwh = 3.0;
  for (int i = 0; i < 3; ++i) {
    s.ts = kStart + 5s * i;
    auto copy = s;
    g.apply(copy);
  }
  Sample glitched = s;
  glitched.ts = kStart + 15s;
  glitched.pv_energy_total_kwh = glitched.grid_import_total_kwh = glitched.grid_export_total_kwh =
      glitched.battery_charge_total_kwh = glitched.battery_discharge_total_kwh = 0.0;
  glitched.load_energy_today_kwh = 0.0;  // a daily counter's midnight: passed on untouched
  const auto log = g.apply(glitched);
  EXPECT_EQ(glitched.pv_energy_total_kwh, 10.0);
  EXPECT_EQ(glitched.grid_import_total_kwh, 10.0);
  EXPECT_EQ(glitched.grid_export_total_kwh, 10.0);
  EXPECT_EQ(glitched.battery_charge_total_kwh, 10.0);
  EXPECT_EQ(glitched.battery_discharge_total_kwh, 10.0);
  EXPECT_EQ(glitched.load_energy_today_kwh, 0.0);
  EXPECT_EQ(log.size(), 5U);
}

// A property: a real counter growing at random plausible rates, read through random glitches
// (never two in a row), is published without a single decrease and ends at the true value.
TEST(CounterGuard, RandomGlitchesNeverMakeThePublishedTotalDecrease) {
  std::mt19937 rng(20261206);
  std::uniform_real_distribution<double> power_kw(0.0, 8.0);
  std::uniform_int_distribution<int> pick(0, 9);
  CounterGuard g;
  double truth = 12345.6;
  std::optional<double> last;
  bool previous_glitched = true;  // no glitch before the first reading
  for (int i = 0; i < 5000; ++i) {
    truth += power_kw(rng) * 5.0 / 3600.0;
    const double reading = std::round(truth * 10) / 10;  // the register's 0.1 kWh steps
    std::optional<double> read = reading;
    if (!previous_glitched && pick(rng) == 0) {
      const double glitches[] = {0.0, 6553.5, reading + 1000.0, reading - 0.2};
      read = glitches[static_cast<std::size_t>(pick(rng)) % 4];
      previous_glitched = true;
    } else {
      previous_glitched = false;
    }
    auto s = at(5s * i, read);
    g.apply(s);
    if (s.pv_energy_total_kwh) {
      if (last) {
        ASSERT_GE(*s.pv_energy_total_kwh, *last) << "reading " << i;
      }
      last = s.pv_energy_total_kwh;
    }
  }
  ASSERT_TRUE(last);
  EXPECT_NEAR(*last, std::round(truth * 10) / 10, 0.1 + 1e-9);
}

}  // namespace
}  // namespace sungrow::edge
