// The sample: one poll of the inverter, in physical units (wire contract v1, docs/api.md).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sungrow/core/time.hpp"

namespace sungrow {

// Which source the grid power came from; `estimate` = load − pv − battery.
enum class GridPowerSource { meter, inverter, estimate };

std::string_view to_string(GridPowerSource s);
std::optional<GridPowerSource> grid_power_source_from_string(std::string_view s);

// Where a sample's `ts` came from, so a consumer can tell a trusted time from a best guess.
//   ntp      the edge's clock, synchronized (the kernel says so)
//   inverter the edge's clock was not synchronized: ts is the inverter's own clock, converted to
//            UTC with the offset last measured while the edge's clock was synchronized
//   unsynced the edge's clock, not synchronized and not checked against anything
//   bumped   no clock's reading: the clock went back, so the spool set ts 1 ms after the
//            previous sample to keep ts strictly rising
enum class TsSource { ntp, inverter, unsynced, bumped };

std::string_view to_string(TsSource s);
std::optional<TsSource> ts_source_from_string(std::string_view s);

// ts_adjust_ms beyond this (about 100 years) is no clock correction but corrupted input.
inline constexpr std::int64_t kMaxTsAdjustMs = 3'155'760'000'000;

// Bits of register 13001 (Sungrow's hybrid inverter protocol, Appendix 3), decoded.
struct PowerFlow {
  bool pv = false;
  bool charging = false;
  bool discharging = false;
  bool load = false;
  bool exporting = false;
  bool importing = false;
  // Bit 7: the load side delivers power (negative load power), as on retrofit and AC-coupled
  // plants where another inverter feeds the house behind this one.
  bool negative_load = false;

  static PowerFlow from_bits(std::uint16_t bits);
  // The register word these flags decode from (the documented bits only).
  std::uint16_t bits() const;
  bool operator==(const PowerFlow&) const = default;
};

// The bits as data, in wire-contract order: the codec and Home Assistant iterate this list, so a
// bit added to PowerFlow needs only its line here.
struct PowerFlowBit {
  std::string_view key;  // JSON member of "power_flow"
  std::uint16_t mask;
  bool PowerFlow::*member;
  std::string_view label;  // for people
};

inline constexpr std::array kPowerFlowBits{
    PowerFlowBit{"pv", 0x01, &PowerFlow::pv, "PV generating"},
    PowerFlowBit{"charging", 0x02, &PowerFlow::charging, "Battery charging"},
    PowerFlowBit{"discharging", 0x04, &PowerFlow::discharging, "Battery discharging"},
    PowerFlowBit{"load", 0x08, &PowerFlow::load, "Load powered"},
    PowerFlowBit{"exporting", 0x10, &PowerFlow::exporting, "Exporting to grid"},
    PowerFlowBit{"importing", 0x20, &PowerFlow::importing, "Importing from grid"},
    PowerFlowBit{"negative_load", 0x80, &PowerFlow::negative_load, "Negative load power"},
};

// Every measurement is optional: null when unread, a sentinel, or outside its physical range.
// Sign convention: positive = power flowing into the home (grid import, battery discharge).
struct Sample {
  std::string device_id;
  Timestamp ts{};
  std::int64_t seq = 0;  // assigned by the spool at enqueue; 0 before that

  std::optional<double> pv_power_w;
  std::optional<double> mppt1_voltage_v;
  std::optional<double> mppt1_current_a;
  std::optional<double> mppt2_voltage_v;
  std::optional<double> mppt2_current_a;
  std::optional<double> load_power_w;
  std::optional<double> grid_power_w;
  std::optional<GridPowerSource> grid_power_source;
  std::optional<double> battery_power_w;
  std::optional<double> grid_voltage_v;
  std::optional<double> grid_frequency_hz;
  std::optional<double> inverter_temperature_c;

  std::optional<double> battery_soc_pct;
  std::optional<double> battery_soh_pct;
  std::optional<double> battery_voltage_v;
  std::optional<double> battery_current_a;
  std::optional<double> battery_temperature_c;
  // Usable capacity as the inverter reports it (register 13039): weighs each battery's SoC in a
  // site's combined SoC.
  std::optional<double> battery_capacity_kwh;

  std::optional<double> pv_energy_today_kwh;
  std::optional<double> pv_energy_total_kwh;
  std::optional<double> grid_import_today_kwh;
  std::optional<double> grid_import_total_kwh;
  std::optional<double> grid_export_today_kwh;
  std::optional<double> grid_export_total_kwh;
  std::optional<double> battery_charge_today_kwh;
  std::optional<double> battery_charge_total_kwh;
  std::optional<double> battery_discharge_today_kwh;
  std::optional<double> battery_discharge_total_kwh;
  std::optional<double> load_energy_today_kwh;

  std::optional<std::uint16_t> running_state;
  std::optional<PowerFlow> power_flow;
  // Register 13001 exactly as read, every bit kept (power_flow decodes the documented ones).
  std::optional<std::uint16_t> power_flow_raw;

  // How ts was obtained (null: not said, e.g. an edge from before this field).
  std::optional<TsSource> ts_source;
  // What was added to the edge clock's reading to give ts (inverter: the correction; bumped: the
  // correction plus the bump), so ts − ts_adjust_ms is what the edge's clock said. Set only with
  // ts_source inverter or bumped.
  std::optional<std::int64_t> ts_adjust_ms;

  bool operator==(const Sample&) const = default;
};

// The numeric measurements as data, so codecs and stores iterate instead of repeating names.
struct MeasurementField {
  std::string_view name;
  std::optional<double> Sample::*member;
};

inline constexpr std::array kMeasurementFields{
    MeasurementField{"pv_power_w", &Sample::pv_power_w},
    MeasurementField{"mppt1_voltage_v", &Sample::mppt1_voltage_v},
    MeasurementField{"mppt1_current_a", &Sample::mppt1_current_a},
    MeasurementField{"mppt2_voltage_v", &Sample::mppt2_voltage_v},
    MeasurementField{"mppt2_current_a", &Sample::mppt2_current_a},
    MeasurementField{"load_power_w", &Sample::load_power_w},
    MeasurementField{"grid_power_w", &Sample::grid_power_w},
    MeasurementField{"battery_power_w", &Sample::battery_power_w},
    MeasurementField{"grid_voltage_v", &Sample::grid_voltage_v},
    MeasurementField{"grid_frequency_hz", &Sample::grid_frequency_hz},
    MeasurementField{"inverter_temperature_c", &Sample::inverter_temperature_c},
    MeasurementField{"battery_soc_pct", &Sample::battery_soc_pct},
    MeasurementField{"battery_soh_pct", &Sample::battery_soh_pct},
    MeasurementField{"battery_voltage_v", &Sample::battery_voltage_v},
    MeasurementField{"battery_current_a", &Sample::battery_current_a},
    MeasurementField{"battery_temperature_c", &Sample::battery_temperature_c},
    MeasurementField{"battery_capacity_kwh", &Sample::battery_capacity_kwh},
    MeasurementField{"pv_energy_today_kwh", &Sample::pv_energy_today_kwh},
    MeasurementField{"pv_energy_total_kwh", &Sample::pv_energy_total_kwh},
    MeasurementField{"grid_import_today_kwh", &Sample::grid_import_today_kwh},
    MeasurementField{"grid_import_total_kwh", &Sample::grid_import_total_kwh},
    MeasurementField{"grid_export_today_kwh", &Sample::grid_export_today_kwh},
    MeasurementField{"grid_export_total_kwh", &Sample::grid_export_total_kwh},
    MeasurementField{"battery_charge_today_kwh", &Sample::battery_charge_today_kwh},
    MeasurementField{"battery_charge_total_kwh", &Sample::battery_charge_total_kwh},
    MeasurementField{"battery_discharge_today_kwh", &Sample::battery_discharge_today_kwh},
    MeasurementField{"battery_discharge_total_kwh", &Sample::battery_discharge_total_kwh},
    MeasurementField{"load_energy_today_kwh", &Sample::load_energy_today_kwh},
};

// Human text for a running-state code (the protocol's Appendix 2); "unknown (0x….)" for codes
// not listed.
std::string running_state_text(std::uint16_t code);
// Every text running_state_text gives for a listed code, each once, in table order.
std::vector<std::string_view> running_state_texts();

// `[A-Za-z0-9._:-]{1,64}`
bool is_valid_device_id(std::string_view id);

// The name of the first measurement holding NaN or an infinity (JSON cannot carry them, so a
// store would read back null — a silently different value), nullopt when all are finite.
std::optional<std::string> first_non_finite_field(const Sample& s);

}  // namespace sungrow
