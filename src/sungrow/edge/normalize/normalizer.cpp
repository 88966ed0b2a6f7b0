// The normalizer: decodes a register image into a Sample with the wire contract's sign conventions
// (positive = power into the home: grid import, battery discharge).
#include "sungrow/edge/normalize/normalizer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <span>

#include "sungrow/core/words.hpp"

namespace sungrow::edge {
namespace {

using Warnings = std::vector<std::string>;
using enum RegisterId;

// Register 13001, bit 1: "battery charging" (Sungrow's hybrid inverter protocol, Appendix 3).
constexpr std::uint16_t kFlowChargingBit = 0x02;
// No grid runs above this; a larger 5036 reading is the old WiNet-S 0.01 Hz encoding.
constexpr double kMaxPlausibleHz = 100.0;

static_assert(std::ranges::all_of(kRegisters, [](const RegisterDef& d) { return d.divisor > 0; }));
// The fallbacks must not widen the field ranges the fuzzer checks against.
static_assert(reg(battery_power_legacy).min >= reg(battery_power).min &&
              reg(battery_power_legacy).max <= reg(battery_power).max);
static_assert(reg(battery_current_legacy).min >= reg(battery_current).min &&
              reg(battery_current_legacy).max <= reg(battery_current).max);
static_assert(reg(grid_frequency_legacy).min >= reg(grid_frequency).min &&
              reg(grid_frequency_legacy).max <= reg(grid_frequency).max);
static_assert(reg(export_power).min >= -reg(meter_power).max &&
              reg(export_power).max <= -reg(meter_power).min);
// load_energy_today is computed in the counters' resolution, so they must share it.
static_assert(reg(pv_energy_today).divisor == reg(grid_import_today).divisor &&
              reg(pv_energy_today).divisor == reg(grid_export_today).divisor &&
              reg(pv_energy_today).divisor == reg(battery_charge_today).divisor &&
              reg(pv_energy_today).divisor == reg(battery_discharge_today).divisor);

std::string_view field_name(std::optional<double> Sample::*member) {
  for (const auto& f : kMeasurementFields)
    if (f.member == member) return f.name;
  return "?";
}

// Avoids -0.0, which would serialise as "-0" for a register that read 0.
constexpr double negated(double v) {
  return v == 0.0 ? 0.0 : -v;
}

// The raw integer of a register when all its words were read and it is not a sentinel.
std::optional<std::int64_t> raw(const RegisterImage& image, RegisterId id) {
  const auto& def = reg(id);
  std::array<std::uint16_t, 2> buf{};
  if (def.words > buf.size() || !image.read(def, buf)) return std::nullopt;
  const std::span<const std::uint16_t> w(buf.data(), def.words);
  if (words::is_sentinel(def.type, w)) return std::nullopt;
  return words::raw_value(def.type, w);
}

std::optional<double> in_range(const RegisterDef& def, std::int64_t raw_value, double v,
                               Warnings& warnings) {
  if (v >= def.min && v <= def.max) return v;
  warnings.push_back(fmt::format("{} (doc {}): raw {} = {}{}{} outside [{}, {}]; set to null",
                                 def.name, def.doc, raw_value, v, def.unit.empty() ? "" : " ",
                                 def.unit, def.min, def.max));
  return std::nullopt;
}

// Physical value of a register: missing or sentinel → null; out of range → null + warning.
std::optional<double> value(const RegisterImage& image, RegisterId id, Warnings& warnings) {
  const auto r = raw(image, id);
  if (!r) return std::nullopt;
  const auto& def = reg(id);
  // Divide rather than multiply by 0.1 so 2345 gives exactly the double nearest 234.5.
  return in_range(def, *r, static_cast<double>(*r) / def.divisor, warnings);
}

// Range check for derived values, which have no register to name.
template <std::optional<double> Sample::*Member>
std::optional<double> checked(std::string_view how, double v, Warnings& warnings) {
  // an index past the end (no entry for Member) fails to compile
  static constexpr FieldRange range = kFieldRanges[field_range_index(Member)];
  if (v >= range.min && v <= range.max) return v;
  warnings.push_back(fmt::format("{} ({}): {} outside [{}, {}]; set to null", field_name(Member),
                                 how, v, range.min, range.max));
  return std::nullopt;
}

std::optional<std::uint16_t> word(const RegisterImage& image, RegisterId id) {
  const auto r = raw(image, id);
  if (!r) return std::nullopt;
  return static_cast<std::uint16_t>(*r);
}

// Battery current with the firmware's own sign: 5631 preferred, legacy 13021 (S16 on SH-RS).
std::optional<double> battery_current_as_read(const RegisterImage& image, Warnings& warnings) {
  if (auto c = value(image, battery_current, warnings)) return c;
  return value(image, battery_current_legacy, warnings);
}

// + discharging, − charging. 5214 (S32, signed by the protocol) first, else legacy 13022 with a
// derived sign.
std::optional<double> battery_power_w(const RegisterImage& image, std::optional<std::uint16_t> flow,
                                      std::optional<double> current_as_read,
                                      std::optional<double> pv_w, Warnings& warnings) {
  if (auto p = value(image, battery_power, warnings)) return p;
  const auto legacy = value(image, battery_power_legacy, warnings);
  if (!legacy) return std::nullopt;
  const double v = *legacy;
  // Signed firmware already reports charging as negative; negating it again would show every
  // charge as a discharge.
  if (v <= 0.0) return v;
  // Magnitude-only firmware (seen on an SH8.0RT-20): charging when the flow word's charging bit is
  // set or the battery current is negative.
  const bool charging_bit = flow && (*flow & kFlowChargingBit) != 0;
  const bool current_negative = current_as_read && *current_as_read < 0.0;
  if (charging_bit || current_negative) return -v;
  // Flow bits can be stuck at 0 (some WiNet-S and firmware versions), and a non-negative current
  // proves nothing (+2.8 A on 5631 was seen while charging), so compare AC output with PV DC
  // power: above it, the battery is discharging.
  if (!flow || *flow == 0) {
    const auto ac_w = value(image, total_active_power, warnings);
    if (ac_w && pv_w) return *ac_w > *pv_w ? v : -v;
  }
  return v;
}

// Same sign as battery power (the wire contract); the current's own sign on 5631 depends on the
// firmware.
std::optional<double> battery_current_a(std::optional<double> current_as_read,
                                        std::optional<double> power_w) {
  if (!current_as_read || !power_w || *power_w == 0.0 || *current_as_read == 0.0)
    return current_as_read;
  return std::copysign(std::abs(*current_as_read), *power_w);
}

struct GridPower {
  std::optional<double> w;
  std::optional<GridPowerSource> source;
};

// + import, − export: meter 5601 (>0 buy), else 13010 (>0 export: the opposite sign),
// else the balance load − pv − battery.
// A meter reading of exactly 0 while the inverter reports a flow is taken as "no meter": an
// unsupported register can read 0 inside a multi-register block.
GridPower grid_power(const RegisterImage& image, const Sample& s, Warnings& warnings) {
  const auto meter = value(image, meter_power, warnings);
  const auto exported = value(image, export_power, warnings);
  const bool meter_absent = meter && *meter == 0.0 && exported && *exported != 0.0;
  if (meter && !meter_absent) return {meter, GridPowerSource::meter};
  if (exported) return {negated(*exported), GridPowerSource::inverter};
  if (!s.load_power_w || !s.pv_power_w || !s.battery_power_w) return {};
  const auto est = checked<&Sample::grid_power_w>(
      "estimate", *s.load_power_w - *s.pv_power_w - *s.battery_power_w, warnings);
  if (!est) return {};
  return {est, GridPowerSource::estimate};
}

// 5242 (0.01 Hz) first; 5036 only as a fallback, with the resolution quirk of old WiNet-S firmware.
std::optional<double> grid_frequency_hz(const RegisterImage& image, Warnings& warnings) {
  if (auto f = value(image, grid_frequency, warnings)) return f;
  const auto r = raw(image, grid_frequency_legacy);
  if (!r) return std::nullopt;
  const auto& def = reg(grid_frequency_legacy);
  double hz = static_cast<double>(*r) / def.divisor;
  // Old WiNet-S firmware sends 0.01 Hz resolution here (4994 for 49.94 Hz).
  if (hz > kMaxPlausibleHz) hz = static_cast<double>(*r) / (10.0 * def.divisor);
  return in_range(def, *r, hz, warnings);
}

// The map has no load-energy register, so today's load is today's balance:
// pv + import + discharge − export − charge. Clamped at 0 because the counters are not read
// atomically and may reset at slightly different moments around midnight.
std::optional<double> load_energy_today_kwh(const Sample& s, Warnings& warnings) {
  if (!s.pv_energy_today_kwh || !s.grid_import_today_kwh || !s.battery_discharge_today_kwh ||
      !s.grid_export_today_kwh || !s.battery_charge_today_kwh)
    return std::nullopt;
  const double balance = *s.pv_energy_today_kwh + *s.grid_import_today_kwh +
                         *s.battery_discharge_today_kwh - *s.grid_export_today_kwh -
                         *s.battery_charge_today_kwh;
  // Back to the counters' resolution: a sum of tenths is not exact in binary (0.1 + 0.2).
  const double step = reg(pv_energy_today).divisor;
  const double rounded = std::round(balance * step) / step;
  return checked<&Sample::load_energy_today_kwh>("derived", rounded > 0.0 ? rounded : 0.0,
                                                 warnings);
}

}  // namespace

Normalized normalize(const RegisterImage& image, Timestamp ts, std::string_view device_id) {
  Normalized out;
  auto& s = out.sample;
  auto& w = out.warnings;
  s.device_id = std::string(device_id);
  s.ts = ts;

  s.pv_power_w = value(image, total_dc_power, w);
  s.mppt1_voltage_v = value(image, mppt1_voltage, w);
  s.mppt1_current_a = value(image, mppt1_current, w);
  s.mppt2_voltage_v = value(image, mppt2_voltage, w);
  s.mppt2_current_a = value(image, mppt2_current, w);
  s.load_power_w = value(image, load_power, w);
  s.grid_voltage_v = value(image, phase_a_voltage, w);
  s.inverter_temperature_c = value(image, inverter_temperature, w);

  s.battery_soc_pct = value(image, battery_soc, w);
  s.battery_soh_pct = value(image, battery_soh, w);
  s.battery_voltage_v = value(image, battery_voltage, w);
  s.battery_temperature_c = value(image, battery_temperature, w);
  s.battery_capacity_kwh = value(image, battery_capacity, w);

  s.pv_energy_today_kwh = value(image, pv_energy_today, w);
  s.pv_energy_total_kwh = value(image, pv_energy_total, w);
  s.grid_import_today_kwh = value(image, grid_import_today, w);
  s.grid_import_total_kwh = value(image, grid_import_total, w);
  s.grid_export_today_kwh = value(image, grid_export_today, w);
  s.grid_export_total_kwh = value(image, grid_export_total, w);
  s.battery_charge_today_kwh = value(image, battery_charge_today, w);
  s.battery_charge_total_kwh = value(image, battery_charge_total, w);
  s.battery_discharge_today_kwh = value(image, battery_discharge_today, w);
  s.battery_discharge_total_kwh = value(image, battery_discharge_total, w);
  s.load_energy_today_kwh = load_energy_today_kwh(s, w);

  s.running_state = word(image, running_state);
  const auto flow = word(image, power_flow);
  if (flow) {
    s.power_flow = PowerFlow::from_bits(*flow);
    s.power_flow_raw = *flow;
  }

  const auto current = battery_current_as_read(image, w);
  s.battery_power_w = battery_power_w(image, flow, current, s.pv_power_w, w);
  s.battery_current_a = battery_current_a(current, s.battery_power_w);

  const auto grid = grid_power(image, s, w);
  s.grid_power_w = grid.w;
  s.grid_power_source = grid.source;
  s.grid_frequency_hz = grid_frequency_hz(image, w);
  return out;
}

}  // namespace sungrow::edge
