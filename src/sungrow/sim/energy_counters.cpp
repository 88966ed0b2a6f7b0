// Integration of power flows into the inverter's energy counters.
#include "sungrow/sim/energy_counters.hpp"

#include <algorithm>

namespace sungrow::sim {

namespace {

void add(EnergyTotals& e, const EnergyTotals& d) {
  e.pv += d.pv;
  e.output += d.output;
  e.grid_import += d.grid_import;
  e.grid_export += d.grid_export;
  e.battery_charge += d.battery_charge;
  e.battery_discharge += d.battery_discharge;
  e.load += d.load;
  e.direct_consumption += d.direct_consumption;
  e.pv_export += d.pv_export;
  e.pv_battery_charge += d.pv_battery_charge;
}

}  // namespace

void EnergyCounters::integrate(const PowerFlows& f, double seconds) {
  if (seconds <= 0) return;
  const double h = seconds / 3600.0;
  const double pv = std::max(f.pv_w, 0.0);
  const double load = std::max(f.load_w, 0.0);
  const double charge = std::max(-f.battery_w, 0.0);
  const double discharge = std::max(f.battery_w, 0.0);
  const double grid_import = std::max(f.grid_w, 0.0);
  const double grid_export = std::max(-f.grid_w, 0.0);
  // PV serves the load first, then the battery, and only the rest leaves the house.
  const double direct = std::min(pv, load);
  const double pv_charge = std::min(pv - direct, charge);
  const double pv_export = std::min(std::max(pv - direct - pv_charge, 0.0), grid_export);

  const EnergyTotals d{.pv = pv * h,
                       .output = (pv + discharge) * h,
                       .grid_import = grid_import * h,
                       .grid_export = grid_export * h,
                       .battery_charge = charge * h,
                       .battery_discharge = discharge * h,
                       .load = load * h,
                       .direct_consumption = direct * h,
                       .pv_export = pv_export * h,
                       .pv_battery_charge = pv_charge * h};
  add(totals_, d);
  add(today_, d);
}

}  // namespace sungrow::sim
