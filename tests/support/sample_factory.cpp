// realistic_sample: deterministic, smooth functions of time so that payloads look like a real day.
#include "sample_factory.hpp"

#include <algorithm>
#include <cmath>

namespace sungrow::test {

Timestamp sample_epoch() {
  using namespace std::chrono;
  return Timestamp{sys_days{year{2026} / November / 20}.time_since_epoch()};
}

Sample realistic_sample(const std::string& device_id, std::int64_t i, Timestamp start) {
  constexpr double kPi = 3.14159265358979323846;
  Sample s;
  s.device_id = device_id;
  s.ts = start + std::chrono::seconds{5 * i};
  const double t = static_cast<double>(i) * 5.0;         // seconds since start
  const double day_frac = std::fmod(t / 86'400.0, 1.0);  // 0 = midnight
  const double sun = std::max(0.0, std::sin((day_frac - 0.25) * 2.0 * kPi));
  const double pv = std::round(3800.0 * sun * (0.85 + 0.15 * std::sin(t / 97.0)));
  const double load = std::round(350.0 + 250.0 * (1.0 + std::sin(t / 1800.0)));
  const double battery = std::clamp(load - pv, -2500.0, 2500.0);  // + discharging
  const double grid = load - pv - battery;                        // + import
  const double days = t / 86'400.0;

  s.pv_power_w = pv;
  s.mppt1_voltage_v = pv > 0 ? 310.0 + 20.0 * sun : 0.0;
  s.mppt1_current_a = std::round(pv * 0.55 / 330.0 * 10.0) / 10.0;
  s.mppt2_voltage_v = pv > 0 ? 290.0 + 18.0 * sun : 0.0;
  s.mppt2_current_a = std::round(pv * 0.45 / 300.0 * 10.0) / 10.0;
  s.load_power_w = load;
  s.grid_power_w = grid;
  s.grid_power_source = GridPowerSource::meter;
  s.battery_power_w = battery;
  s.grid_voltage_v = 230.0 + std::round(std::sin(t / 60.0) * 30.0) / 10.0;
  s.grid_frequency_hz = 50.0 + std::round(std::sin(t / 45.0) * 5.0) / 100.0;
  s.inverter_temperature_c = 28.0 + std::round(sun * 150.0) / 10.0;
  s.battery_soc_pct = std::round((55.0 + 35.0 * std::sin(t / 20'000.0)) * 10.0) / 10.0;
  s.battery_soh_pct = 98.0;
  s.battery_voltage_v = 51.2 + std::round(std::sin(t / 20'000.0) * 20.0) / 10.0;
  s.battery_current_a = std::round(battery / 51.2 * 10.0) / 10.0;
  s.battery_temperature_c = 21.5;
  s.pv_energy_today_kwh = std::round(day_frac * 14.0 * 10.0) / 10.0;
  s.pv_energy_total_kwh = std::round((4'321.0 + days * 12.5) * 10.0) / 10.0;
  s.grid_import_today_kwh = std::round(day_frac * 6.0 * 10.0) / 10.0;
  s.grid_import_total_kwh = std::round((2'100.0 + days * 5.5) * 10.0) / 10.0;
  s.grid_export_today_kwh = std::round(day_frac * 3.0 * 10.0) / 10.0;
  s.grid_export_total_kwh = std::round((1'050.0 + days * 2.9) * 10.0) / 10.0;
  s.battery_charge_today_kwh = std::round(day_frac * 4.0 * 10.0) / 10.0;
  s.battery_charge_total_kwh = std::round((900.0 + days * 3.8) * 10.0) / 10.0;
  s.battery_discharge_today_kwh = std::round(day_frac * 3.8 * 10.0) / 10.0;
  s.battery_discharge_total_kwh = std::round((870.0 + days * 3.6) * 10.0) / 10.0;
  s.load_energy_today_kwh = std::round(day_frac * 11.0 * 10.0) / 10.0;
  s.running_state = pv > 0 ? std::uint16_t{0x0002} : std::uint16_t{0x0040};
  s.power_flow = PowerFlow{.pv = pv > 0,
                           .charging = battery<0, .discharging = battery> 0,
                           .load = true,
                           .exporting = grid<0, .importing = grid> 0};
  return s;
}

}  // namespace sungrow::test
