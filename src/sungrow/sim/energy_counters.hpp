// Energy counters of the simulated inverter: integrate power flows over simulated time.
#pragma once

namespace sungrow::sim {

// Cumulative energies in Wh. Doubles, because steps integrate fractions of a watt-hour.
struct EnergyTotals {
  double pv = 0;
  double output = 0;  // PV + battery discharge (registers 5003/5004, as the protocol defines them)
  double grid_import = 0;
  double grid_export = 0;
  double battery_charge = 0;
  double battery_discharge = 0;
  double load = 0;
  double direct_consumption = 0;  // PV straight into the load (13017/13018)
  double pv_export = 0;           // PV straight to the grid (13005/13006)
  double pv_battery_charge = 0;   // PV into the battery (13012/13013)

  // An installation some years old, so clients see realistic non-zero totals.
  static constexpr EnergyTotals plausible_install() {
    return {.pv = 9'812'400,
            .output = 11'290'700,
            .grid_import = 4'105'300,
            .grid_export = 5'020'100,
            .battery_charge = 1'530'200,
            .battery_discharge = 1'478'300,
            .load = 8'940'600,
            .direct_consumption = 3'310'800,
            .pv_export = 4'973'500,
            .pv_battery_charge = 1'481'900};
  }
};

// The same quantities since local midnight.
using EnergyToday = EnergyTotals;

// One step's average powers in W, with the model's signs (battery + discharging, grid + import).
struct PowerFlows {
  double pv_w = 0;
  double load_w = 0;
  double battery_w = 0;
  double grid_w = 0;
};

class EnergyCounters {
 public:
  explicit EnergyCounters(EnergyTotals initial = {}) : totals_(initial) {}

  // Adds `flows` held for `seconds`. Each counter only ever grows (flows are split by sign).
  void integrate(const PowerFlows& flows, double seconds);
  void reset_today() { today_ = {}; }

  const EnergyTotals& totals() const { return totals_; }
  const EnergyToday& today() const { return today_; }

 private:
  EnergyTotals totals_;
  EnergyToday today_;
};

}  // namespace sungrow::sim
