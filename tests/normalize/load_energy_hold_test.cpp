// LoadEnergyHold: dips of the derived load energy are held, a new day starts afresh.
#include "sungrow/edge/normalize/load_energy_hold.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace sungrow::edge {
namespace {

// A sample whose load is the balance of its five daily counters, as the normalizer derives it.
Sample counters(double pv, double import, double discharge, double exported, double charge) {
  Sample s;
  s.pv_energy_today_kwh = pv;
  s.grid_import_today_kwh = import;
  s.battery_discharge_today_kwh = discharge;
  s.grid_export_today_kwh = exported;
  s.battery_charge_today_kwh = charge;
  s.load_energy_today_kwh = pv + import + discharge - exported - charge;
  return s;
}

double held(LoadEnergyHold& hold, Sample s) {
  hold.apply(s);
  return s.load_energy_today_kwh.value();
}

TEST(LoadEnergyHold, AnExportTickBeforeThePvTickIsHeldNotADip) {
  LoadEnergyHold hold;
  EXPECT_DOUBLE_EQ(held(hold, counters(5.0, 1.0, 0.0, 2.0, 0.0)), 4.0);
  // Export ticks first: the balance reads 3.9 for a poll.
  EXPECT_DOUBLE_EQ(held(hold, counters(5.0, 1.0, 0.0, 2.1, 0.0)), 4.0);
  // Export and charge both ahead: 3.8, still held.
  EXPECT_DOUBLE_EQ(held(hold, counters(5.0, 1.0, 0.0, 2.1, 0.1)), 4.0);
  // PV catches up: 4.0, then the house really uses energy again.
  EXPECT_DOUBLE_EQ(held(hold, counters(5.2, 1.0, 0.0, 2.1, 0.1)), 4.0);
  EXPECT_DOUBLE_EQ(held(hold, counters(5.4, 1.0, 0.0, 2.1, 0.1)), 4.2);
}

TEST(LoadEnergyHold, WithoutTheHoldTheServerWouldCountEachRecoveryAgain) {
  // Control for the test above: the raw balance really does go down, so the hold is what keeps
  // the series from adding each recovery.
  const auto dip = counters(5.0, 1.0, 0.0, 2.1, 0.0);
  EXPECT_LT(dip.load_energy_today_kwh.value(), 4.0);
}

TEST(LoadEnergyHold, MidnightStartsANewDayEvenFromALowTotal) {
  LoadEnergyHold hold;
  EXPECT_DOUBLE_EQ(held(hold, counters(0.0, 0.3, 0.0, 0.0, 0.0)), 0.3);
  // The inverter's midnight: every daily counter back to 0 — a new day, not a dip to hold.
  EXPECT_DOUBLE_EQ(held(hold, counters(0.0, 0.0, 0.0, 0.0, 0.0)), 0.0);
  EXPECT_DOUBLE_EQ(held(hold, counters(0.0, 0.1, 0.0, 0.0, 0.0)), 0.1);
}

TEST(LoadEnergyHold, ASampleMissingACounterPassesUnchangedAndKeepsTheState) {
  LoadEnergyHold hold;
  EXPECT_DOUBLE_EQ(held(hold, counters(5.0, 1.0, 0.0, 2.0, 0.0)), 4.0);
  Sample partial = counters(5.0, 1.0, 0.0, 2.1, 0.0);
  partial.battery_charge_today_kwh.reset();
  hold.apply(partial);
  EXPECT_DOUBLE_EQ(partial.load_energy_today_kwh.value(), 3.9);
  EXPECT_DOUBLE_EQ(held(hold, counters(5.0, 1.0, 0.0, 2.1, 0.0)), 4.0);
  Sample no_load = counters(5.0, 1.0, 0.0, 2.1, 0.0);
  no_load.load_energy_today_kwh.reset();
  hold.apply(no_load);
  EXPECT_FALSE(no_load.load_energy_today_kwh.has_value());
}

}  // namespace
}  // namespace sungrow::edge
