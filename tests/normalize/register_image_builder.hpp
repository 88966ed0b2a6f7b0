// put, image_of, full_image: RegisterImages from raw register values, encoded as the inverter does.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <utility>

#include "sungrow/core/register_image.hpp"
#include "sungrow/core/registers.hpp"
#include "sungrow/core/words.hpp"

namespace sungrow::test {

// Encodes `raw` the way the inverter would for the register's type (words.hpp, low word first).
inline void put(RegisterImage& image, RegisterId id, std::int64_t raw) {
  const auto& def = reg(id);
  switch (def.type) {
    case RegisterType::u16:
    case RegisterType::s16:
      image.set(def.table, def.wire(), static_cast<std::uint16_t>(raw & 0xFFFF));
      return;
    case RegisterType::u32:
      image.set_block(def.table, def.wire(), words::from_u32(static_cast<std::uint32_t>(raw)));
      return;
    case RegisterType::s32:
      image.set_block(def.table, def.wire(), words::from_s32(static_cast<std::int32_t>(raw)));
      return;
    case RegisterType::utf8:
      return;
  }
}

// `values` put over `image` (empty by default).
inline RegisterImage image_of(std::initializer_list<std::pair<RegisterId, std::int64_t>> values,
                              RegisterImage image = {}) {
  for (const auto& [id, raw] : values) put(image, id, raw);
  return image;
}

// A sunny afternoon, exporting, battery charging: every register of the map present and valid,
// put over `image` (empty by default).
inline RegisterImage full_image(RegisterImage image = {}) {
  using enum RegisterId;
  return image_of({{device_type, 0x0D18},
                   {nominal_power, 40},
                   {output_type, 0},
                   {daily_output_energy, 123},
                   {total_output_energy, 732150},
                   {inverter_temperature, 412},
                   {mppt1_voltage, 3521},
                   {mppt1_current, 52},
                   {mppt2_voltage, 3380},
                   {mppt2_current, 41},
                   {total_dc_power, 3216},
                   {phase_a_voltage, 2345},
                   {grid_frequency_legacy, 500},
                   {battery_power, -1200},
                   {grid_frequency, 4998},
                   {meter_power, -1466},
                   {battery_current, -45},
                   {running_state, 0x0000},
                   {power_flow, 0x13},
                   {pv_energy_today, 183},
                   {pv_energy_total, 98765},
                   {load_power, 550},
                   {export_power, 1466},
                   {battery_voltage, 2652},
                   {battery_current_legacy, -45},
                   {battery_power_legacy, -1200},
                   {battery_soc, 655},
                   {battery_soh, 990},
                   {battery_temperature, 231},
                   {battery_discharge_today, 21},
                   {battery_discharge_total, 4321},
                   {total_active_power, 2016},
                   {grid_import_today, 32},
                   {grid_import_total, 12345},
                   {battery_capacity, 96},
                   {battery_charge_today, 45},
                   {battery_charge_total, 5432},
                   {grid_export_today, 99},
                   {grid_export_total, 23456}},
                  std::move(image));
}

}  // namespace sungrow::test
