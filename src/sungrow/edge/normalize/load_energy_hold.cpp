// The high-water hold of the derived load energy (see load_energy_hold.hpp).
#include "sungrow/edge/normalize/load_energy_hold.hpp"

#include <algorithm>

namespace sungrow::edge {

void LoadEnergyHold::apply(Sample& sample) {
  if (!sample.load_energy_today_kwh || !sample.pv_energy_today_kwh ||
      !sample.grid_import_today_kwh || !sample.battery_discharge_today_kwh ||
      !sample.grid_export_today_kwh || !sample.battery_charge_today_kwh)
    return;
  const std::array<double, 5> counters{
      sample.pv_energy_today_kwh.value(), sample.grid_import_today_kwh.value(),
      sample.battery_discharge_today_kwh.value(), sample.grid_export_today_kwh.value(),
      sample.battery_charge_today_kwh.value()};
  bool new_day = false;
  if (previous_counters_) {
    for (std::size_t i = 0; i < counters.size(); ++i)
      new_day = new_day || counters[i] < (*previous_counters_)[i];
  }
  previous_counters_ = counters;
  const double load = sample.load_energy_today_kwh.value();
  if (!high_ || new_day || load >= *high_) {
    high_ = load;
    return;
  }
  sample.load_energy_today_kwh = *high_;
}

}  // namespace sungrow::edge
