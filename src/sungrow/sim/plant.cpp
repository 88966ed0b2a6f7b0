// The plant: lockstep stepping of its households, and the master's view of the plant's grid.
#include "sungrow/sim/plant.hpp"

#include <array>
#include <cmath>

namespace sungrow::sim {

HouseholdConfig slave_config(int unit_id) {
  // Real SBR battery sizes other than the master's SBR096 (9.6 kWh), so capacities always differ.
  constexpr std::array kCapacitiesWh{16'000.0, 6'400.0, 12'800.0};
  const auto k = static_cast<std::size_t>(unit_id);
  HouseholdConfig c;
  c.pv_peak_w = 3'000.0 + 400.0 * static_cast<double>(k % 5);
  c.panel_tilt_deg = 20.0 + 5.0 * static_cast<double>(k % 4);
  c.mppt1_share = 0.5;
  c.battery_capacity_wh = kCapacitiesWh[(k + 1) % kCapacitiesWh.size()];  // 2: 16.0 kWh, 3: 6.4
  c.initial_soc = 0.2 + 0.1 * static_cast<double>(k % 5);
  c.load_scale = 0.6;
  c.load_stream = k;
  // A younger installation than the master's: smaller lifetime totals.
  const auto& m = EnergyTotals::plausible_install();
  c.initial_totals = {.pv = m.pv / 3,
                      .output = m.output / 3,
                      .grid_import = 0,
                      .grid_export = 0,
                      .battery_charge = m.battery_charge / 3,
                      .battery_discharge = m.battery_discharge / 3,
                      .load = m.load / 3,
                      .direct_consumption = m.direct_consumption / 3,
                      .pv_export = 0,
                      .pv_battery_charge = m.pv_battery_charge / 3};
  return c;
}

Plant::Plant(std::vector<PlantUnit> units, std::vector<Household> households)
    : units_(std::move(units)),
      households_(std::move(households)),
      grid_(units_.front().config.initial_totals) {}

Result<Plant> Plant::create(std::vector<PlantUnit> units, Timestamp since, Timestamp start,
                            const std::string& tz) {
  if (units.empty()) return fail("a plant needs at least one unit");
  for (const auto& u : units)
    if (u.config.max_step != units.front().config.max_step)
      return fail("every unit of a plant must step alike (max_step)");
  const auto midnight = local_midnight(since, tz);
  if (!midnight) return midnight.error();
  std::vector<Household> households;
  for (const auto& u : units) {
    auto h = Household::create(u.config, u.seed, midnight.value(), tz);
    if (!h) return h.error();
    households.push_back(std::move(h.value()));
  }
  Plant plant{std::move(units), std::move(households)};
  // Through `since` first, as Household::create(since) then advance_to(start) would step.
  plant.advance_to(since);
  plant.advance_to(start);
  return plant;
}

void Plant::advance_to(Timestamp t) {
  auto& master = households_.front();
  while (master.state().time < t) {
    const auto from = master.state().time;
    const auto midnight = master.next_midnight();
    const auto to = master.next_step_end(t);
    PowerFlows plant;
    for (auto& h : households_) {
      h.advance_to(to);  // exactly one step: every unit shares max_step, zone and time
      const auto& s = h.state();
      plant.pv_w += s.pv_w;
      plant.load_w += s.load_w;
      plant.battery_w += s.battery_w;
      plant.grid_w += s.grid_w;
    }
    grid_.integrate(plant, static_cast<double>((to - from).count()) / 1000.0);
    if (to == midnight) grid_.reset_today();
  }
}

UnitView Plant::view(std::size_t i) const {
  if (households_.size() == 1) return {};
  if (i != 0) return {.role = PlantRole::slave, .meter = {}};
  PlantMeter m;
  std::int64_t pv = 0, battery = 0;
  for (const auto& h : households_) {
    const auto& s = h.state();
    // Whole watts per unit, as each unit's own registers round them, so the plant balance holds
    // exactly against the registers a client reads.
    pv += std::lround(s.pv_w);
    battery += std::lround(s.battery_w);
    m.load_w += std::lround(s.load_w);
  }
  m.grid_w = m.load_w - pv - battery;
  m.import_total_wh = grid_.totals().grid_import;
  m.export_total_wh = grid_.totals().grid_export;
  m.import_today_wh = grid_.today().grid_import;
  m.export_today_wh = grid_.today().grid_export;
  return {.role = PlantRole::master, .meter = m};
}

}  // namespace sungrow::sim
