// Unit tests of the master/slave plant: lockstep units, the master's meter and its counters.
#include "sungrow/sim/plant.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "sungrow/core/words.hpp"

namespace sungrow::sim {
namespace {

using namespace std::chrono_literals;

Timestamp at(const char* rfc3339) {
  return parse_rfc3339(rfc3339).value();
}

std::vector<PlantUnit> units(std::initializer_list<int> ids, std::uint64_t seed = 1) {
  std::vector<PlantUnit> out;
  for (const int id : ids)
    out.push_back({.unit_id = id,
                   .config = out.empty() ? HouseholdConfig{} : slave_config(id),
                   .seed = seed});
  return out;
}

Plant make_plant(std::initializer_list<int> ids, Timestamp since, Timestamp start) {
  auto plant = Plant::create(units(ids), since, start, "Europe/Amsterdam");
  EXPECT_TRUE(plant) << (plant ? "" : plant.error().message);
  return std::move(plant.value());
}

// The register a client reads, decoded as the edge does.
double decode(const RegisterBank& bank, RegisterId id) {
  const auto& def = reg(id);
  std::array<std::uint16_t, 2> w{};
  for (std::uint16_t i = 0; i < def.words; ++i)
    w[i] = bank.word(def.table, static_cast<std::uint16_t>(def.doc + i)).value();
  return static_cast<double>(words::raw_value(def.type, std::span{w}.first(def.words))) /
         def.divisor;
}

RegisterBank bank_of(const Plant& p, std::size_t i) {
  const auto& h = p.household(i);
  return RegisterBank::encode(h.state(), h.local_time(), p.unit(i).config, {}, {}, p.view(i));
}

// A one-unit plant is the single-inverter simulator as it always was: the same steps, the same
// state to the last bit, and a standalone view.
TEST(Plant, OneUnitIsTheLoneHouseholdStepForStep) {
  const auto since = at("2026-06-18T07:13:00Z");
  const auto start = at("2026-06-21T10:00:02.5Z");
  const auto plant = make_plant({1}, since, start);
  auto lone = Household::create({}, 1, since, "Europe/Amsterdam").value();
  lone.advance_to(start);
  const auto& a = plant.household(0).state();
  const auto& b = lone.state();
  EXPECT_EQ(a.time, b.time);
  EXPECT_EQ(a.pv_w, b.pv_w);
  EXPECT_EQ(a.battery_soc, b.battery_soc);
  EXPECT_EQ(a.totals.grid_import, b.totals.grid_import);
  EXPECT_EQ(a.today.battery_charge, b.today.battery_charge);
  EXPECT_EQ(plant.view(0).role, PlantRole::standalone);
}

TEST(Plant, SlavesHaveTheirOwnDeterministicInstallations) {
  EXPECT_NE(slave_config(2).battery_capacity_wh, HouseholdConfig{}.battery_capacity_wh);
  EXPECT_NE(slave_config(2).battery_capacity_wh, slave_config(3).battery_capacity_wh);
  EXPECT_NE(slave_config(2).pv_peak_w, slave_config(3).pv_peak_w);
  const auto start = at("2026-06-21T10:00:00Z");
  const auto a = make_plant({1, 2, 3}, start, start);
  const auto b = make_plant({1, 2, 3}, start, start);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(a.household(i).state().battery_soc, b.household(i).state().battery_soc) << i;
    EXPECT_EQ(a.household(i).state().load_w, b.household(i).state().load_w) << i;
  }
  // Same sky and grid (the master's seed), different roofs and loads.
  EXPECT_EQ(a.household(0).state().grid_hz, a.household(1).state().grid_hz);
  EXPECT_NE(a.household(0).state().pv_w, a.household(1).state().pv_w);
  EXPECT_NE(a.household(0).state().load_w, a.household(1).state().load_w);
  EXPECT_EQ(a.view(0).role, PlantRole::master);
  EXPECT_EQ(a.view(1).role, PlantRole::slave);
  EXPECT_EQ(a.view(2).role, PlantRole::slave);
}

// The master's meter is the plant balance to the watt of the registers: plant load − Σ PV − Σ
// battery, each unit rounded to whole watts as its own registers show it. Its export register is
// its own AC output less the plant load, so it differs from −meter by the slaves' AC output.
TEST(Plant, MasterMeterIsThePlantBalanceAndSlavesHaveNoMeter) {
  auto plant = make_plant({1, 2}, at("2026-06-21T00:00:00Z"), at("2026-06-21T05:00:00Z"));
  int slave_ac_seen = 0;
  for (int hour = 0; hour < 19; ++hour) {
    plant.advance_to(plant.time() + 1h);
    const auto master = bank_of(plant, 0);
    const auto slave = bank_of(plant, 1);
    const auto pv_sum =
        decode(master, RegisterId::total_dc_power) + decode(slave, RegisterId::total_dc_power);
    const auto battery_sum =
        decode(master, RegisterId::battery_power) + decode(slave, RegisterId::battery_power);
    const auto load = decode(master, RegisterId::load_power);
    const auto meter = decode(master, RegisterId::meter_power);
    EXPECT_EQ(meter, load - pv_sum - battery_sum) << hour;
    EXPECT_EQ(decode(master, RegisterId::export_power),
              decode(master, RegisterId::total_active_power) - load)
        << hour;
    const auto slave_ac = decode(slave, RegisterId::total_active_power);
    EXPECT_EQ(-meter - decode(master, RegisterId::export_power), slave_ac) << hour;
    if (slave_ac != 0) ++slave_ac_seen;
    // The slave: meter "not available" (0xFFFF 0x7FFF), load and export 0, no grid counters.
    EXPECT_EQ(slave.word(RegisterTable::input, 5601), 0xFFFF);
    EXPECT_EQ(slave.word(RegisterTable::input, 5602), 0x7FFF);
    EXPECT_EQ(decode(slave, RegisterId::load_power), 0);
    EXPECT_EQ(decode(slave, RegisterId::export_power), 0);
    EXPECT_EQ(decode(slave, RegisterId::grid_import_total), 0);
    EXPECT_EQ(decode(slave, RegisterId::grid_export_today), 0);
    EXPECT_EQ(static_cast<unsigned>(decode(slave, RegisterId::power_flow)) & 0x38U, 0U);
    EXPECT_GT(decode(slave, RegisterId::pv_energy_total), 0);
    EXPECT_EQ(decode(slave, RegisterId::battery_capacity), 16.0);
    EXPECT_EQ(decode(master, RegisterId::battery_capacity), 9.6);
  }
  EXPECT_GT(slave_ac_seen, 10);  // the two views really differ most of the day
}

// Over a stretch of simulated time, the master's import/export counters grow by the integral of
// the plant's grid flow, and each unit's PV and battery counters by the integral of its own.
// Stepping by max_step (5 s) makes every call one step, whose held powers are the state after it.
TEST(Plant, CountersIntegrateThePlantAndEachUnitItsOwn) {
  const auto start = at("2026-06-21T15:00:00Z");  // PV fading, load rising: both directions
  auto plant = make_plant({1, 2}, start, start);
  const auto before_master = plant.view(0).meter;
  const auto own_before = plant.household(0).state().totals;
  const auto slave_before = plant.household(1).state().totals;
  double import_wh = 0, export_wh = 0, slave_pv_wh = 0, slave_charge_wh = 0;
  for (int i = 0; i < 6 * 720; ++i) {  // six hours
    plant.advance_to(plant.time() + 5s);
    double grid = 0;
    for (std::size_t u = 0; u < plant.size(); ++u) grid += plant.household(u).state().grid_w;
    import_wh += std::max(grid, 0.0) * 5 / 3600;
    export_wh += std::max(-grid, 0.0) * 5 / 3600;
    slave_pv_wh += plant.household(1).state().pv_w * 5 / 3600;
    slave_charge_wh += std::max(-plant.household(1).state().battery_w, 0.0) * 5 / 3600;
  }
  const auto after_master = plant.view(0).meter;
  EXPECT_NEAR(after_master.import_total_wh - before_master.import_total_wh, import_wh, 1e-6);
  EXPECT_NEAR(after_master.export_total_wh - before_master.export_total_wh, export_wh, 1e-6);
  EXPECT_GT(import_wh + export_wh, 100.0);  // something flowed
  const auto& slave_after = plant.household(1).state().totals;
  EXPECT_NEAR(slave_after.pv - slave_before.pv, slave_pv_wh, 1e-6);
  EXPECT_NEAR(slave_after.battery_charge - slave_before.battery_charge, slave_charge_wh, 1e-6);
  // The master's own household would have counted differently: the plant flow is not its own.
  const auto& own_after = plant.household(0).state().totals;
  EXPECT_GT(std::abs((own_after.grid_import - own_before.grid_import) - import_wh) +
                std::abs((own_after.grid_export - own_before.grid_export) - export_wh),
            1.0);
}

TEST(Plant, MastersDailyGridCountersResetAtLocalMidnight) {
  auto plant = make_plant({1, 2}, at("2026-06-21T18:00:00Z"), at("2026-06-21T21:59:55Z"));
  EXPECT_GT(plant.view(0).meter.import_today_wh + plant.view(0).meter.export_today_wh, 0);
  plant.advance_to(at("2026-06-21T22:00:00Z"));  // midnight in Amsterdam (CEST)
  EXPECT_EQ(plant.view(0).meter.import_today_wh, 0);
  EXPECT_EQ(plant.view(0).meter.export_today_wh, 0);
  EXPECT_GT(plant.view(0).meter.import_total_wh, 0);
}

TEST(Plant, RejectsAnEmptyPlantAndUnknownZones) {
  EXPECT_FALSE(Plant::create({}, at("2026-06-21T10:00:00Z"), at("2026-06-21T10:00:00Z"), "UTC"));
  EXPECT_FALSE(Plant::create(units({1, 2}), at("2026-06-21T10:00:00Z"), at("2026-06-21T10:00:00Z"),
                             "Nowhere/Special"));
}

}  // namespace
}  // namespace sungrow::sim
