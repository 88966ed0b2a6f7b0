// The physical range of every measurement field: the edge's normalizer nulls values outside it,
// the server's ingest refuses them. One table, so the two can never disagree.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>

#include "sungrow/core/registers.hpp"
#include "sungrow/core/sample.hpp"

namespace sungrow {

// The closed interval every non-null value of a measurement field lies in. Fields read from one
// register take that register's range; derived fields are checked against the range listed here.
struct FieldRange {
  std::optional<double> Sample::*member;
  double min;
  double max;
};

namespace detail {
constexpr FieldRange range_of(std::optional<double> Sample::*member, RegisterId id) {
  return {member, reg(id).min, reg(id).max};
}
}  // namespace detail

inline constexpr std::array kFieldRanges{
    detail::range_of(&Sample::pv_power_w, RegisterId::total_dc_power),
    detail::range_of(&Sample::mppt1_voltage_v, RegisterId::mppt1_voltage),
    detail::range_of(&Sample::mppt1_current_a, RegisterId::mppt1_current),
    detail::range_of(&Sample::mppt2_voltage_v, RegisterId::mppt2_voltage),
    detail::range_of(&Sample::mppt2_current_a, RegisterId::mppt2_current),
    detail::range_of(&Sample::load_power_w, RegisterId::load_power),
    // meter, −export or estimate: the estimate is held to the meter's range too
    detail::range_of(&Sample::grid_power_w, RegisterId::meter_power),
    detail::range_of(&Sample::battery_power_w, RegisterId::battery_power),
    detail::range_of(&Sample::grid_voltage_v, RegisterId::phase_a_voltage),
    detail::range_of(&Sample::grid_frequency_hz, RegisterId::grid_frequency),
    detail::range_of(&Sample::inverter_temperature_c, RegisterId::inverter_temperature),
    detail::range_of(&Sample::battery_soc_pct, RegisterId::battery_soc),
    detail::range_of(&Sample::battery_soh_pct, RegisterId::battery_soh),
    detail::range_of(&Sample::battery_voltage_v, RegisterId::battery_voltage),
    detail::range_of(&Sample::battery_current_a, RegisterId::battery_current),
    detail::range_of(&Sample::battery_temperature_c, RegisterId::battery_temperature),
    detail::range_of(&Sample::battery_capacity_kwh, RegisterId::battery_capacity),
    detail::range_of(&Sample::pv_energy_today_kwh, RegisterId::pv_energy_today),
    detail::range_of(&Sample::pv_energy_total_kwh, RegisterId::pv_energy_total),
    detail::range_of(&Sample::grid_import_today_kwh, RegisterId::grid_import_today),
    detail::range_of(&Sample::grid_import_total_kwh, RegisterId::grid_import_total),
    detail::range_of(&Sample::grid_export_today_kwh, RegisterId::grid_export_today),
    detail::range_of(&Sample::grid_export_total_kwh, RegisterId::grid_export_total),
    detail::range_of(&Sample::battery_charge_today_kwh, RegisterId::battery_charge_today),
    detail::range_of(&Sample::battery_charge_total_kwh, RegisterId::battery_charge_total),
    detail::range_of(&Sample::battery_discharge_today_kwh, RegisterId::battery_discharge_today),
    detail::range_of(&Sample::battery_discharge_total_kwh, RegisterId::battery_discharge_total),
    // derived from today's counters; a household day is held to the same bound as they are
    detail::range_of(&Sample::load_energy_today_kwh, RegisterId::pv_energy_today),
};

// Position of a field in kFieldRanges; kFieldRanges.size() when it has none.
constexpr std::size_t field_range_index(std::optional<double> Sample::*member) {
  for (std::size_t i = 0; i < kFieldRanges.size(); ++i)
    if (kFieldRanges[i].member == member) return i;
  return kFieldRanges.size();
}

static_assert(std::ranges::all_of(kMeasurementFields,
                                  [](const auto& f) {
                                    return field_range_index(f.member) < kFieldRanges.size();
                                  }),
              "every measurement field needs a range");

constexpr const FieldRange* field_range(std::optional<double> Sample::*member) {
  const auto i = field_range_index(member);
  return i < kFieldRanges.size() ? &kFieldRanges[i] : nullptr;
}

}  // namespace sungrow
