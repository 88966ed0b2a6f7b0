// Unit tests of the simulated household: physics, limits, counters and midnight resets.
#include "sungrow/sim/household.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "sungrow/sim/energy_counters.hpp"

namespace sungrow::sim {
namespace {

using namespace std::chrono_literals;

Timestamp at(const char* rfc3339) {
  const auto t = parse_rfc3339(rfc3339);
  EXPECT_TRUE(t.has_value()) << rfc3339;
  return t.value_or(Timestamp{});
}

Household make(const char* start, const std::string& tz = "Europe/Amsterdam",
               HouseholdConfig config = {}, std::uint64_t seed = 7) {
  auto h = Household::create(config, seed, at(start), tz);
  EXPECT_TRUE(h.has_value());
  return std::move(h.value());
}

TEST(EnergyCounters, ConstantOneKilowattForOneHourIsOneKilowattHour) {
  EnergyCounters counters;
  for (int i = 0; i < 720; ++i)
    counters.integrate({.pv_w = 1000, .load_w = 1000, .battery_w = 0, .grid_w = 0}, 5.0);
  EXPECT_NEAR(counters.totals().pv, 1000.0, 1e-6);
  EXPECT_NEAR(counters.totals().load, 1000.0, 1e-6);
  EXPECT_NEAR(counters.totals().direct_consumption, 1000.0, 1e-6);
  EXPECT_NEAR(counters.today().pv, 1000.0, 1e-6);
  EXPECT_EQ(counters.totals().grid_import, 0.0);
  EXPECT_EQ(counters.totals().grid_export, 0.0);
}

TEST(EnergyCounters, SignsSplitIntoSeparateMonotonicCounters) {
  EnergyCounters counters{EnergyTotals::plausible_install()};
  const auto before = counters.totals();
  counters.integrate({.pv_w = 0, .load_w = 500, .battery_w = 2000, .grid_w = -1500}, 3600);
  counters.integrate({.pv_w = 3000, .load_w = 500, .battery_w = -2500, .grid_w = 0}, 1800);
  counters.integrate({.pv_w = 0, .load_w = 700, .battery_w = 0, .grid_w = 700}, 3600);
  const auto& after = counters.totals();
  EXPECT_NEAR(after.battery_discharge - before.battery_discharge, 2000, 1e-6);
  EXPECT_NEAR(after.battery_charge - before.battery_charge, 1250, 1e-6);
  EXPECT_NEAR(after.grid_export - before.grid_export, 1500, 1e-6);
  EXPECT_NEAR(after.grid_import - before.grid_import, 700, 1e-6);
  EXPECT_NEAR(after.pv - before.pv, 1500, 1e-6);
  EXPECT_NEAR(after.output - before.output, 1500 + 2000, 1e-6);  // PV + discharge
  EXPECT_NEAR(after.pv_battery_charge - before.pv_battery_charge, 1250, 1e-6);
  counters.reset_today();
  EXPECT_EQ(counters.today().pv, 0.0);
  EXPECT_NEAR(counters.totals().pv - before.pv, 1500, 1e-6);
}

TEST(Household, UnknownTimeZoneIsAnError) {
  const auto h = Household::create({}, 1, at("2026-06-21T10:00:00Z"), "Mars/Olympus_Mons");
  ASSERT_FALSE(h.has_value());
  EXPECT_NE(h.error().message.find("Mars/Olympus_Mons"), std::string::npos);
}

TEST(Household, StartsWithPlausibleTotalsAndTheDaySoFar) {
  const auto h = make("2026-06-21T15:00:00Z");
  const auto& s = h.state();
  EXPECT_EQ(s.time, at("2026-06-21T15:00:00Z"));
  EXPECT_GT(s.totals.pv, EnergyTotals::plausible_install().pv);
  EXPECT_GT(s.today.pv, 5000.0);  // a midsummer day up to 17:00 local, even if cloudy
  EXPECT_GT(s.today.load, 1000.0);
  EXPECT_NEAR(s.totals.pv - EnergyTotals::plausible_install().pv, s.today.pv, 1e-6);
}

TEST(Household, GridBalancesLoadPvAndBatteryAtEveryStep) {
  auto h = make("2026-06-20T00:00:00Z");
  for (auto t = at("2026-06-20T00:00:00Z"); t < at("2026-06-22T00:00:00Z"); t += 7min) {
    h.advance_to(t);
    const auto& s = h.state();
    EXPECT_NEAR(s.grid_w, s.load_w - s.pv_w - s.battery_w, 1e-6);
    EXPECT_NEAR(s.ac_w, s.pv_w + s.battery_w, 1e-6);
  }
}

TEST(Household, EnergyIsConservedOverDays) {
  auto h = make("2026-04-10T00:00:00Z");
  const auto start = h.state();
  h.advance_to(at("2026-04-13T00:00:00Z"));
  const auto& end = h.state();
  const auto d = [&](double EnergyTotals::*field) {
    return end.totals.*field - start.totals.*field;
  };
  const double sources =
      d(&EnergyTotals::pv) + d(&EnergyTotals::grid_import) + d(&EnergyTotals::battery_discharge);
  const double sinks =
      d(&EnergyTotals::load) + d(&EnergyTotals::grid_export) + d(&EnergyTotals::battery_charge);
  EXPECT_GT(sources, 10'000.0);
  EXPECT_NEAR(sources, sinks, 1e-6 * sources);
  // Stored energy accounts for the battery's net flow (lossless model).
  EXPECT_NEAR((end.battery_soc - start.battery_soc) * 9600.0,
              d(&EnergyTotals::battery_charge) - d(&EnergyTotals::battery_discharge), 1e-3);
}

TEST(Household, LoadCounterIntegratesTheLoadProfile) {
  // In UTC, local time equals UTC, so the profile can be sampled directly at each step's end.
  auto h = make("2026-01-15T00:00:00Z", "UTC");
  const double before = h.state().totals.load;
  double expected_wh = 0;
  auto t = at("2026-01-15T00:00:00Z");
  for (int i = 0; i < 12 * 60 * 6; ++i) {  // 6 hours in 5 s steps
    t += 5s;
    expected_wh +=
        profile::load_w(7,
                        std::chrono::local_time<std::chrono::milliseconds>{t.time_since_epoch()}) *
        5.0 / 3600.0;
  }
  h.advance_to(t);
  EXPECT_NEAR(h.state().totals.load - before, expected_wh, 1e-6);
}

TEST(Household, CountersNeverDecreaseAndAGapIsSubStepped) {
  auto h = make("2026-07-01T04:00:00Z");
  auto previous = h.state().totals;
  for (auto t = at("2026-07-01T04:00:00Z"); t < at("2026-07-03T04:00:00Z"); t += 3h) {
    h.advance_to(t);  // a 3 h jump, as after an idle spell at time_scale 1000
    const auto& now = h.state().totals;
    EXPECT_GE(now.pv, previous.pv);
    EXPECT_GE(now.output, previous.output);
    EXPECT_GE(now.grid_import, previous.grid_import);
    EXPECT_GE(now.grid_export, previous.grid_export);
    EXPECT_GE(now.battery_charge, previous.battery_charge);
    EXPECT_GE(now.battery_discharge, previous.battery_discharge);
    EXPECT_GE(now.load, previous.load);
    previous = now;
  }
  // The same span in fine steps ends in the same state: the model does not depend on the gaps.
  auto fine = make("2026-07-01T04:00:00Z");
  for (auto t = at("2026-07-01T04:00:00Z"); t <= at("2026-07-03T04:00:00Z"); t += 1min)
    fine.advance_to(t);
  h.advance_to(at("2026-07-03T04:00:00Z"));
  EXPECT_NEAR(fine.state().totals.pv, h.state().totals.pv, 1e-3);
  EXPECT_NEAR(fine.state().battery_soc, h.state().battery_soc, 1e-9);
}

TEST(Household, BatteryAndInverterStayWithinLimits) {
  for (const char* start : {"2026-06-01T00:00:00Z", "2026-12-01T00:00:00Z"}) {
    auto h = make(start);
    double min_soc = 1, max_soc = 0;
    for (int i = 0; i < 7 * 24 * 60; i += 2) {
      h.advance_to(at(start) + std::chrono::minutes{i});
      const auto& s = h.state();
      min_soc = std::min(min_soc, s.battery_soc);
      max_soc = std::max(max_soc, s.battery_soc);
      ASSERT_GE(s.battery_soc, 0.05 - 1e-12);
      ASSERT_LE(s.battery_soc, 1.0 + 1e-12);
      ASSERT_LE(std::abs(s.battery_w), 3000.0 + 1e-9);
      ASSERT_LE(s.ac_w, 4000.0 + 1e-9);
      ASSERT_LE(s.pv_w, 4500.0);
      ASSERT_GE(s.pv_w, 0.0);
      ASSERT_GT(s.load_w, 100.0);
      ASSERT_GT(s.battery_v, 250.0);
      ASSERT_LT(s.battery_v, 400.0);
      ASSERT_EQ(std::signbit(s.battery_a), std::signbit(s.battery_w));
      ASSERT_NEAR(s.grid_hz, 50.0, 0.05);
      ASSERT_NEAR(s.grid_v, 230.0, 8.0);
    }
    // A week exercises the battery over most of its range.
    EXPECT_LT(min_soc, 0.3) << start;
    EXPECT_GT(max_soc, 0.5) << start;
  }
}

TEST(Household, SurplusChargesAndDeficitDischarges) {
  auto h = make("2026-06-21T00:00:00Z");
  int charging = 0, discharging = 0;
  for (auto t = at("2026-06-21T00:00:00Z"); t < at("2026-06-22T00:00:00Z"); t += 5min) {
    h.advance_to(t);
    const auto& s = h.state();
    if (s.battery_w < -1) {
      ++charging;
      EXPECT_GT(s.pv_w, s.load_w);  // only surplus PV charges, never the grid
      EXPECT_LE(s.grid_w, 1e-6);
    }
    if (s.battery_w > 1) {
      ++discharging;
      EXPECT_LT(s.pv_w, s.load_w);
      EXPECT_GE(s.grid_w, -1e-6);  // the battery never exports
    }
  }
  EXPECT_GT(charging, 10);
  EXPECT_GT(discharging, 10);
}

TEST(Household, NoPvAtNightAndDaysFollowTheSeasons) {
  HouseholdConfig c;
  const auto daylight_hours = [&](const char* day) {
    int minutes = 0;
    for (int m = 0; m < 24 * 60; ++m)
      if (profile::clear_sky_pv_w(c, at(day) + std::chrono::minutes{m}) > 0) ++minutes;
    return minutes / 60.0;
  };
  const double june = daylight_hours("2026-06-21T00:00:00Z");
  const double december = daylight_hours("2026-12-21T00:00:00Z");
  EXPECT_GT(june, 15.5);  // ~16.7 h at 52°N
  EXPECT_LT(june, 17.5);
  EXPECT_GT(december, 7.0);  // ~7.7 h
  EXPECT_LT(december, 8.5);
  // Solar noon at ~5°E is ~11:40 UTC: strong sun in June, weaker in December, none at midnight.
  EXPECT_GT(profile::clear_sky_pv_w(c, at("2026-06-21T11:40:00Z")), 3500.0);
  EXPECT_LT(profile::clear_sky_pv_w(c, at("2026-12-21T11:40:00Z")), 2800.0);
  EXPECT_GT(profile::clear_sky_pv_w(c, at("2026-12-21T11:40:00Z")), 800.0);
  EXPECT_EQ(profile::clear_sky_pv_w(c, at("2026-06-21T23:00:00Z")), 0.0);

  auto h = make("2026-06-21T22:30:00Z");
  EXPECT_EQ(h.state().pv_w, 0.0);
  EXPECT_EQ(h.state().mppt1_v, 0.0);
  EXPECT_EQ(power_flow_bits(h.state()) & 0x01U, 0U);
}

TEST(Household, CloudsAreSmoothSeededAndBounded) {
  double max_jump = 0;
  int differs = 0;
  for (auto t = at("2026-05-01T06:00:00Z"); t < at("2026-05-01T18:00:00Z"); t += 10s) {
    const double c = profile::cloud_factor(1, t);
    ASSERT_GE(c, 0.2);
    ASSERT_LE(c, 1.0);
    max_jump = std::max(max_jump, std::abs(profile::cloud_factor(1, t + 10s) - c));
    if (std::abs(profile::cloud_factor(2, t) - c) > 0.05) ++differs;
  }
  EXPECT_LT(max_jump, 0.05);  // passing clouds, not flicker
  EXPECT_GT(differs, 100);    // the seed matters
}

TEST(Household, SameSeedSameDay) {
  auto a = make("2026-05-05T12:00:00Z", "Europe/Amsterdam", {}, 42);
  auto b = make("2026-05-05T12:00:00Z", "Europe/Amsterdam", {}, 42);
  a.advance_to(at("2026-05-06T12:00:00Z"));
  b.advance_to(at("2026-05-06T12:00:00Z"));
  EXPECT_EQ(a.state().totals.pv, b.state().totals.pv);
  EXPECT_EQ(a.state().battery_soc, b.state().battery_soc);
  EXPECT_EQ(a.state().load_w, b.state().load_w);
}

TEST(Household, LoadHasBaseMorningAndEveningPeaks) {
  const auto local = [&](const char* t) {
    return std::chrono::local_time<std::chrono::milliseconds>{at(t).time_since_epoch()};
  };
  double night = 0, evening = 0, max_spike = 0;
  for (int seed = 1; seed <= 20; ++seed) {
    night += profile::load_w(static_cast<std::uint64_t>(seed), local("2026-03-03T03:20:00Z"));
    evening += profile::load_w(static_cast<std::uint64_t>(seed), local("2026-03-03T19:00:00Z"));
  }
  for (int m = 0; m < 24 * 60; ++m)
    max_spike = std::max(
        max_spike, profile::load_w(3, local("2026-03-03T00:00:00Z") + std::chrono::minutes{m}));
  EXPECT_GT(night / 20, 140.0);
  EXPECT_LT(night / 20, 500.0);
  EXPECT_GT(evening / 20, night / 20 + 700.0);
  EXPECT_GT(max_spike, 1500.0);  // some appliance ran that day
}

TEST(Household, FlowBitsFollowTheFlows) {
  HouseholdState s;
  s.pv_w = 3000;
  s.load_w = 500;
  s.battery_w = -2000;
  EXPECT_EQ(power_flow_bits(s), 0x01U | 0x02U | 0x08U | 0x10U);  // pv, charging, load, export
  s.pv_w = 0;
  s.battery_w = 300;
  EXPECT_EQ(power_flow_bits(s), 0x04U | 0x08U | 0x20U);  // discharging, load, import
  s.battery_w = 500;
  EXPECT_EQ(power_flow_bits(s), 0x04U | 0x08U);  // balanced: neither import nor export
}

TEST(Household, StandbyAtNightWithAnEmptyBattery) {
  HouseholdConfig c;
  c.initial_soc = c.battery_min_soc;
  auto h = make("2026-12-10T02:00:00Z", "Europe/Amsterdam", c);
  const auto& s = h.state();
  EXPECT_TRUE(s.standby);
  EXPECT_EQ(s.battery_w, 0.0);
  EXPECT_NEAR(s.grid_w, s.load_w, 1e-9);
  h.advance_to(at("2026-12-10T12:00:00Z"));
  EXPECT_FALSE(h.state().standby);
}

// Daily counters drop to zero at local midnight, also on the 23 h and 25 h DST days.
void expect_reset_at(const char* start, const char* before_midnight, const char* after_midnight,
                     const char* tz) {
  auto h = make(start, tz);
  h.advance_to(at(before_midnight));
  const auto total_before = h.state().totals.load;
  EXPECT_GT(h.state().today.load, 3000.0) << before_midnight;
  EXPECT_GT(h.state().today.pv, 1000.0) << before_midnight;
  h.advance_to(at(after_midnight));
  // Two minutes after midnight only those two minutes have been counted.
  EXPECT_GT(h.state().today.load, 0.0) << after_midnight;
  EXPECT_LT(h.state().today.load, 100.0) << after_midnight;
  EXPECT_LT(h.state().today.pv, 100.0) << after_midnight;
  EXPECT_GT(h.state().totals.load, total_before);
}

TEST(Household, DailyCountersResetAtLocalMidnight) {
  // CEST: local midnight is 22:00 UTC.
  expect_reset_at("2026-06-10T12:00:00Z", "2026-06-10T21:59:00Z", "2026-06-10T22:01:00Z",
                  "Europe/Amsterdam");
  // Spring forward on 2026-03-29: the day starts at 23:00 UTC (CET) and ends at 22:00 UTC (CEST).
  expect_reset_at("2026-03-28T12:00:00Z", "2026-03-28T22:59:00Z", "2026-03-28T23:01:00Z",
                  "Europe/Amsterdam");
  expect_reset_at("2026-03-29T12:00:00Z", "2026-03-29T21:59:00Z", "2026-03-29T22:01:00Z",
                  "Europe/Amsterdam");
  // Fall back on 2026-10-25: 25 h long, ends at 23:00 UTC.
  expect_reset_at("2026-10-25T12:00:00Z", "2026-10-25T22:59:00Z", "2026-10-25T23:01:00Z",
                  "Europe/Amsterdam");
  // A half-hour zone.
  expect_reset_at("2026-06-10T06:00:00Z", "2026-06-10T14:29:00Z", "2026-06-10T14:31:00Z",
                  "Australia/Adelaide");
}

TEST(Household, TheDstDayIsNotResetAtTheWrongHour) {
  // On the 25 h day, 22:00–23:00 UTC is still 23:00–24:00 local: no reset at 22:00 UTC.
  auto h = make("2026-10-25T12:00:00Z");
  h.advance_to(at("2026-10-25T22:30:00Z"));
  EXPECT_GT(h.state().today.pv, 0.0);
}

}  // namespace
}  // namespace sungrow::sim
