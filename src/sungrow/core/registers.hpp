// The SH4.0RS register map as data, from Sungrow's "Communication Protocol of Residential Hybrid
// Inverter" (the protocol) and what WiNet-S dongles were seen to answer.
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <span>
#include <string_view>

namespace sungrow {

enum class RegisterTable : std::uint8_t { input, holding };  // Modbus FC 0x04 / FC 0x03
enum class RegisterType : std::uint8_t { u16, s16, u32, s32, utf8 };

// One name per register we read. The order is the order of kRegisters.
enum class RegisterId : std::uint8_t {
  serial_number,
  device_type,
  nominal_power,
  output_type,
  daily_output_energy,
  total_output_energy,
  inverter_temperature,
  mppt1_voltage,
  mppt1_current,
  mppt2_voltage,
  mppt2_current,
  total_dc_power,
  phase_a_voltage,
  grid_frequency_legacy,
  battery_power,
  grid_frequency,
  meter_power,
  battery_current,
  running_state,
  power_flow,
  pv_energy_today,
  pv_energy_total,
  load_power,
  export_power,
  battery_voltage,
  battery_current_legacy,
  battery_power_legacy,
  battery_soc,
  battery_soh,
  battery_temperature,
  battery_discharge_today,
  battery_discharge_total,
  total_active_power,
  grid_import_today,
  grid_import_total,
  battery_capacity,
  battery_charge_today,
  battery_charge_total,
  grid_export_today,
  grid_export_total,
};

// A contiguous block read with one request. `once` groups hold static device facts.
struct ReadGroup {
  std::string_view name;
  RegisterTable table;
  std::uint16_t first_doc;  // 1-based document number of the first register
  std::uint16_t count;      // registers, ≤ kMaxRegistersPerRead
  bool once;

  constexpr std::uint16_t first_wire() const { return static_cast<std::uint16_t>(first_doc - 1); }
};

struct RegisterDef {
  RegisterId id;
  std::string_view name;
  std::uint16_t doc;  // document number, 1-based; the wire address is doc − 1 (protocol §1.2)
  RegisterTable table;
  RegisterType type;
  std::uint8_t words;     // 1 for 16-bit, 2 for 32-bit, N for strings
  std::uint16_t divisor;  // physical value = raw / divisor
  std::string_view unit;
  double min;  // valid physical range after scaling; outside → null with a warning
  double max;
  std::uint8_t group;  // index into kReadGroups

  constexpr std::uint16_t wire() const { return static_cast<std::uint16_t>(doc - 1); }
};

inline constexpr std::uint16_t kMaxRegistersPerRead = 100;
inline constexpr double kNoLimit = std::numeric_limits<double>::infinity();

// Groups avoid every range that failed over WiNet-S — see kWinetUnsafeRanges.
inline constexpr std::array kReadGroups{
    ReadGroup{"device_info", RegisterTable::input, 4990, 13, true},       // 0: SN, type, rating
    ReadGroup{"output", RegisterTable::input, 5003, 6, false},            // 1: stops before 5009
    ReadGroup{"mppt", RegisterTable::input, 5011, 4, false},              // 2
    ReadGroup{"dc_power", RegisterTable::input, 5017, 3, false},          // 3
    ReadGroup{"frequency_legacy", RegisterTable::input, 5036, 1, false},  // 4: fallback for 5242
    ReadGroup{"battery_power", RegisterTable::input, 5214, 2, false},     // 5
    ReadGroup{"frequency", RegisterTable::input, 5242, 1, false},         // 6
    ReadGroup{"meter", RegisterTable::input, 5601, 2, false},             // 7
    ReadGroup{"battery_current", RegisterTable::input, 5631, 1, false},   // 8
    ReadGroup{"state", RegisterTable::input, 13000, 50, false},           // 9: 13000–13049
};

// The inverter's own clock: holding registers 5000–5005 = year, month, day, hour, minute, second of
// its local time (FC 0x03). Not a poll group: a WiNet-S does not support frequent periodic reads
// of holding registers, so the edge reads it rarely and on its own (edge/clock).
inline constexpr ReadGroup kInverterClockRegisters{"inverter_clock", RegisterTable::holding, 5000,
                                                   6, false};

// Document-number ranges (inclusive, input table) that failed or upset a WiNet-S; never read.
struct DocRange {
  std::uint16_t first;
  std::uint16_t last;
};
inline constexpr std::array kWinetUnsafeRanges{
    DocRange{5009, 5010}, DocRange{5015, 5016}, DocRange{5022, 5024}, DocRange{5031, 5032},
    DocRange{5038, 5043}, DocRange{5045, 5045}, DocRange{5049, 5049}, DocRange{5071, 5071},
    DocRange{5077, 5104}, DocRange{5113, 5113}, DocRange{5115, 5124}, DocRange{5128, 5137},
    DocRange{5144, 5148}, DocRange{5150, 5151}, DocRange{5216, 5219}, DocRange{5639, 5639},
    DocRange{5723, 5726}, DocRange{6100, 6826}, DocRange{7013, 7036}, DocRange{13100, 13100},
};

namespace detail {
using enum RegisterId;
using enum RegisterType;
constexpr auto in = RegisterTable::input;
}  // namespace detail

// clang-format off
inline constexpr std::array kRegisters{
  //          id                        name                       doc    table      type  words div unit   min      max     group
  RegisterDef{detail::serial_number,          "serial_number",          4990, detail::in, detail::utf8, 10, 1,  "",     0,        0,        0},
  RegisterDef{detail::device_type,            "device_type",            5000, detail::in, detail::u16,  1,  1,  "",     0,        65535,    0},
  RegisterDef{detail::nominal_power,          "nominal_power",          5001, detail::in, detail::u16,  1,  10, "kW",   0,        100,      0},
  RegisterDef{detail::output_type,            "output_type",            5002, detail::in, detail::u16,  1,  1,  "",     0,        2,        0},
  RegisterDef{detail::daily_output_energy,    "daily_output_energy",    5003, detail::in, detail::u16,  1,  10, "kWh",  0,        1000,     1},
  RegisterDef{detail::total_output_energy,    "total_output_energy",    5004, detail::in, detail::u32,  2,  10, "kWh",  0,        1e7,      1},
  RegisterDef{detail::inverter_temperature,   "inverter_temperature",   5008, detail::in, detail::s16,  1,  10, "°C",   -40,      120,      1},
  RegisterDef{detail::mppt1_voltage,          "mppt1_voltage",          5011, detail::in, detail::u16,  1,  10, "V",    0,        1000,     2},
  RegisterDef{detail::mppt1_current,          "mppt1_current",          5012, detail::in, detail::u16,  1,  10, "A",    0,        40,       2},
  RegisterDef{detail::mppt2_voltage,          "mppt2_voltage",          5013, detail::in, detail::u16,  1,  10, "V",    0,        1000,     2},
  RegisterDef{detail::mppt2_current,          "mppt2_current",          5014, detail::in, detail::u16,  1,  10, "A",    0,        40,       2},
  RegisterDef{detail::total_dc_power,         "total_dc_power",         5017, detail::in, detail::u32,  2,  1,  "W",    0,        20000,    3},
  RegisterDef{detail::phase_a_voltage,        "phase_a_voltage",        5019, detail::in, detail::u16,  1,  10, "V",    0,        300,      3},
  RegisterDef{detail::grid_frequency_legacy,  "grid_frequency_legacy",  5036, detail::in, detail::u16,  1,  10, "Hz",   40,       70,       4},
  RegisterDef{detail::battery_power,          "battery_power",          5214, detail::in, detail::s32,  2,  1,  "W",    -15000,   15000,    5},
  RegisterDef{detail::grid_frequency,         "grid_frequency",         5242, detail::in, detail::u16,  1,  100,"Hz",   40,       70,       6},
  RegisterDef{detail::meter_power,            "meter_power",            5601, detail::in, detail::s32,  2,  1,  "W",    -30000,   30000,    7},
  RegisterDef{detail::battery_current,        "battery_current",        5631, detail::in, detail::s16,  1,  10, "A",    -100,     100,      8},
  RegisterDef{detail::running_state,          "running_state",          13000,detail::in, detail::u16,  1,  1,  "",     0,        65535,    9},
  RegisterDef{detail::power_flow,             "power_flow",             13001,detail::in, detail::u16,  1,  1,  "",     0,        65535,    9},
  RegisterDef{detail::pv_energy_today,        "pv_energy_today",        13002,detail::in, detail::u16,  1,  10, "kWh",  0,        1000,     9},
  RegisterDef{detail::pv_energy_total,        "pv_energy_total",        13003,detail::in, detail::u32,  2,  10, "kWh",  0,        1e7,      9},
  RegisterDef{detail::load_power,             "load_power",             13008,detail::in, detail::s32,  2,  1,  "W",    -30000,   30000,    9},
  RegisterDef{detail::export_power,           "export_power",           13010,detail::in, detail::s32,  2,  1,  "W",    -30000,   30000,    9},
  RegisterDef{detail::battery_voltage,        "battery_voltage",        13020,detail::in, detail::u16,  1,  10, "V",    0,        1000,     9},
  RegisterDef{detail::battery_current_legacy, "battery_current_legacy", 13021,detail::in, detail::s16,  1,  10, "A",    -100,     100,      9},
  RegisterDef{detail::battery_power_legacy,   "battery_power_legacy",   13022,detail::in, detail::s16,  1,  1,  "W",    -15000,   15000,    9},
  RegisterDef{detail::battery_soc,            "battery_soc",            13023,detail::in, detail::u16,  1,  10, "%",    0,        100,      9},
  RegisterDef{detail::battery_soh,            "battery_soh",            13024,detail::in, detail::u16,  1,  10, "%",    0,        100,      9},
  RegisterDef{detail::battery_temperature,    "battery_temperature",    13025,detail::in, detail::s16,  1,  10, "°C",   -40,      100,      9},
  RegisterDef{detail::battery_discharge_today,"battery_discharge_today",13026,detail::in, detail::u16,  1,  10, "kWh",  0,        1000,     9},
  RegisterDef{detail::battery_discharge_total,"battery_discharge_total",13027,detail::in, detail::u32,  2,  10, "kWh",  0,        1e7,      9},
  RegisterDef{detail::total_active_power,     "total_active_power",     13034,detail::in, detail::s32,  2,  1,  "W",    -30000,   30000,    9},
  RegisterDef{detail::grid_import_today,      "grid_import_today",      13036,detail::in, detail::u16,  1,  10, "kWh",  0,        1000,     9},
  RegisterDef{detail::grid_import_total,      "grid_import_total",      13037,detail::in, detail::u32,  2,  10, "kWh",  0,        1e7,      9},
  RegisterDef{detail::battery_capacity,       "battery_capacity",       13039,detail::in, detail::u16,  1,  10, "kWh",  0,        100,      9},
  RegisterDef{detail::battery_charge_today,   "battery_charge_today",   13040,detail::in, detail::u16,  1,  10, "kWh",  0,        1000,     9},
  RegisterDef{detail::battery_charge_total,   "battery_charge_total",   13041,detail::in, detail::u32,  2,  10, "kWh",  0,        1e7,      9},
  RegisterDef{detail::grid_export_today,      "grid_export_today",      13045,detail::in, detail::u16,  1,  10, "kWh",  0,        1000,     9},
  RegisterDef{detail::grid_export_total,      "grid_export_total",      13046,detail::in, detail::u32,  2,  10, "kWh",  0,        1e7,      9},
};
// clang-format on

constexpr const RegisterDef& reg(RegisterId id) {
  return kRegisters[static_cast<std::size_t>(id)];
}

// Compile-time checks of the table's shape; the unit tests check the rest (overlaps, safety).
static_assert([] {
  for (std::size_t i = 0; i < kRegisters.size(); ++i) {
    if (static_cast<std::size_t>(kRegisters[i].id) != i) return false;
    const auto& g = kReadGroups[kRegisters[i].group];
    if (kRegisters[i].table != g.table) return false;
    if (kRegisters[i].doc < g.first_doc ||
        kRegisters[i].doc + kRegisters[i].words > g.first_doc + g.count)
      return false;
  }
  for (const auto& g : kReadGroups)
    if (g.count == 0 || g.count > kMaxRegistersPerRead) return false;
  return true;
}());

}  // namespace sungrow
