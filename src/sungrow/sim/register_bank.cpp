// Encoding of the simulated state into registers, and the read rules of the simulated unit.
#include "sungrow/sim/register_bank.hpp"

#include <date/date.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

#include "sungrow/core/words.hpp"

namespace sungrow::sim {

namespace {

// Input ranges: the map's read groups plus the neighbours a real SH-RS fills. The ranges a WiNet-S
// was seen to refuse (5009–5010, 5015–5016, …, kWinetUnsafeRanges) are deliberately left out.
constexpr std::array kInputRanges{
    DocRange{4990, 5008},   DocRange{5011, 5014}, DocRange{5017, 5021}, DocRange{5033, 5036},
    DocRange{5214, 5215},   DocRange{5242, 5242}, DocRange{5601, 5602}, DocRange{5622, 5623},
    DocRange{5628, 5628},   DocRange{5631, 5631}, DocRange{5635, 5636}, DocRange{5639, 5639},
    DocRange{13000, 13099},
};
// Holding: the clock (5000–5005), EMS mode (13050), max/min SoC (13058–13059).
constexpr std::array kHoldingRanges{DocRange{5000, 5005}, DocRange{13050, 13050},
                                    DocRange{13058, 13059}};

constexpr DocRange kBatteryPowerRegister{5214, 5215};
constexpr DocRange kClockRegisters{5000, 5005};

constexpr std::array kLifetimeCounters{
    RegisterId::pv_energy_total, RegisterId::battery_discharge_total, RegisterId::grid_import_total,
    RegisterId::battery_charge_total, RegisterId::grid_export_total};

bool covers(const RegisterDef& def, std::uint16_t first_doc, std::size_t count) {
  return def.doc >= first_doc && def.doc + def.words <= first_doc + count;
}

bool contains(std::span<const DocRange> ranges, std::uint32_t doc) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [&](const DocRange& r) { return doc >= r.first && doc <= r.last; });
}

bool overlaps(const DocRange& r, std::uint32_t first_doc, std::uint32_t last_doc) {
  return first_doc <= r.last && last_doc >= r.first;
}

template <class T>
std::int64_t clamp_to(double raw) {
  const double lo = static_cast<double>(std::numeric_limits<T>::min());
  const double hi = static_cast<double>(std::numeric_limits<T>::max());
  if (!std::isfinite(raw)) return 0;
  return static_cast<std::int64_t>(std::clamp(std::round(raw), lo, hi));
}

// The integer watts every power register is built from, so that balances hold exactly on the wire.
// `load` and `grid` are what this unit's meter sees: its own household when standalone, the whole
// plant at a master, nothing at a slave.
struct WholeWatts {
  std::int64_t pv, battery, load, grid;
  WholeWatts(const HouseholdState& s, const UnitView& view)
      : pv(std::lround(s.pv_w)), battery(std::lround(s.battery_w)), load(0), grid(0) {
    switch (view.role) {
      case PlantRole::standalone:
        load = std::lround(s.load_w);
        grid = load - pv - battery;
        break;
      case PlantRole::master:
        load = view.meter.load_w;
        grid = view.meter.grid_w;
        break;
      case PlantRole::slave:
        break;
    }
  }
};

// The state as this unit's counters show it: a master's grid counters integrate the plant's meter,
// a slave has no grid counters (nor PV export: it has no meter to tell export from load).
HouseholdState as_metered(HouseholdState s, const UnitView& view) {
  switch (view.role) {
    case PlantRole::standalone:
      break;
    case PlantRole::master:
      s.totals.grid_import = view.meter.import_total_wh;
      s.totals.grid_export = view.meter.export_total_wh;
      s.today.grid_import = view.meter.import_today_wh;
      s.today.grid_export = view.meter.export_today_wh;
      break;
    case PlantRole::slave:
      s.totals.grid_import = s.totals.grid_export = s.totals.pv_export = 0;
      s.today.grid_import = s.today.grid_export = s.today.pv_export = 0;
      break;
  }
  return s;
}

double kwh(double wh) {
  return wh / 1000.0;
}

// The physical value (in the register's unit) of each numeric register of the map.
double physical_value(RegisterId id, const HouseholdState& s, const WholeWatts& w,
                      const HouseholdConfig& c, const DeviceIdentity& identity,
                      const Faults& faults, PlantRole role) {
  switch (id) {
    case RegisterId::serial_number:
      return 0;  // utf8, encoded separately
    case RegisterId::device_type:
      return identity.device_type;
    case RegisterId::nominal_power:
      return identity.nominal_power / 10.0;
    case RegisterId::output_type:
      return 0;  // single phase
    case RegisterId::daily_output_energy:
      return kwh(s.today.output);
    case RegisterId::total_output_energy:
      return kwh(s.totals.output);
    case RegisterId::inverter_temperature:
      return s.inverter_temp_c;
    case RegisterId::mppt1_voltage:
      return s.mppt1_v;
    case RegisterId::mppt1_current:
      return s.mppt1_a;
    case RegisterId::mppt2_voltage:
      return s.mppt2_v;
    case RegisterId::mppt2_current:
      return s.mppt2_a;
    case RegisterId::total_dc_power:
      return static_cast<double>(w.pv);
    case RegisterId::phase_a_voltage:
      return s.grid_v;
    case RegisterId::grid_frequency_legacy:
    case RegisterId::grid_frequency:
      return s.grid_hz;
    case RegisterId::battery_power:
      return static_cast<double>(w.battery);
    case RegisterId::meter_power:
      return role == PlantRole::slave ? kNoMeterS32 : static_cast<double>(w.grid);
    case RegisterId::battery_current:
    case RegisterId::battery_current_legacy:
      return s.battery_a;
    case RegisterId::running_state:
      return s.standby ? kRunningStateStandby : kRunningStateRunning;
    case RegisterId::power_flow:
      return faults.flow_bits_stuck ? 0 : power_flow_bits(w.pv, w.battery, w.load, w.grid);
    case RegisterId::pv_energy_today:
      return kwh(s.today.pv);
    case RegisterId::pv_energy_total:
      return kwh(s.totals.pv);
    case RegisterId::load_power:
      return static_cast<double>(w.load);
    case RegisterId::export_power:
      // > 0 exporting: this inverter's AC output less the load it serves. Standalone that is the
      // meter's opposite; at a master it leaves out what the slaves feed in, so it differs from
      // the meter by their AC output (as real master/slave plants read). A slave reads 0.
      return role == PlantRole::slave ? 0.0 : static_cast<double>(w.pv + w.battery - w.load);
    case RegisterId::battery_voltage:
      return s.battery_v;
    case RegisterId::battery_power_legacy:
      return static_cast<double>(std::abs(w.battery));  // magnitude only, like real firmware
    case RegisterId::battery_soc:
      return s.battery_soc * 100.0;
    case RegisterId::battery_soh:
      return s.battery_soh * 100.0;
    case RegisterId::battery_temperature:
      return s.battery_temp_c;
    case RegisterId::battery_discharge_today:
      return kwh(s.today.battery_discharge);
    case RegisterId::battery_discharge_total:
      return kwh(s.totals.battery_discharge);
    case RegisterId::total_active_power:
      return static_cast<double>(w.pv + w.battery);
    case RegisterId::grid_import_today:
      return kwh(s.today.grid_import);
    case RegisterId::grid_import_total:
      return kwh(s.totals.grid_import);
    case RegisterId::battery_capacity:
      return kwh(c.battery_capacity_wh);
    case RegisterId::battery_charge_today:
      return kwh(s.today.battery_charge);
    case RegisterId::battery_charge_total:
      return kwh(s.totals.battery_charge);
    case RegisterId::grid_export_today:
      return kwh(s.today.grid_export);
    case RegisterId::grid_export_total:
      return kwh(s.totals.grid_export);
  }
  return 0;
}

}  // namespace

std::span<const DocRange> implemented_ranges(RegisterTable table) {
  if (table == RegisterTable::input) return kInputRanges;
  return kHoldingRanges;
}

std::vector<std::uint16_t> encode_value(RegisterType type, std::uint16_t divisor, double physical) {
  const double raw = physical * divisor;
  switch (type) {
    case RegisterType::u16:
      return {static_cast<std::uint16_t>(clamp_to<std::uint16_t>(raw))};
    case RegisterType::s16:
      return {words::from_s16(static_cast<std::int16_t>(clamp_to<std::int16_t>(raw)))};
    case RegisterType::u32: {
      const auto a = words::from_u32(static_cast<std::uint32_t>(clamp_to<std::uint32_t>(raw)));
      return {a.begin(), a.end()};
    }
    case RegisterType::s32: {
      const auto a = words::from_s32(static_cast<std::int32_t>(clamp_to<std::int32_t>(raw)));
      return {a.begin(), a.end()};
    }
    case RegisterType::utf8:
      break;
  }
  return {};
}

void RegisterBank::put(RegisterTable table, std::uint16_t doc, std::span<const std::uint16_t> w) {
  auto& bank = table == RegisterTable::input ? input_ : holding_;
  for (std::size_t i = 0; i < w.size(); ++i) bank[static_cast<std::uint16_t>(doc + i)] = w[i];
}

RegisterBank RegisterBank::encode(const HouseholdState& state,
                                  std::chrono::local_time<std::chrono::milliseconds> local_now,
                                  const HouseholdConfig& c, const DeviceIdentity& identity,
                                  const Faults& faults, const UnitView& view) {
  RegisterBank bank;
  const HouseholdState s = as_metered(state, view);
  const WholeWatts w{s, view};
  constexpr auto in = RegisterTable::input;

  for (const auto& def : kRegisters) {
    if (def.type == RegisterType::utf8) {
      std::vector<std::uint16_t> text(def.words, 0);
      for (std::size_t i = 0; i < identity.serial.size() && i / 2 < text.size(); ++i) {
        const auto byte = static_cast<std::uint8_t>(identity.serial[i]);
        text[i / 2] = static_cast<std::uint16_t>(text[i / 2] | (i % 2 == 0 ? byte << 8U : byte));
      }
      bank.put(def.table, def.doc, text);
      continue;
    }
    bank.put(def.table, def.doc,
             encode_value(def.type, def.divisor,
                          physical_value(def.id, s, w, c, identity, faults, view.role)));
  }

  // Registers outside the edge's map, filled so that wider reads look like a real unit.
  const auto put_value = [&](std::uint16_t doc, RegisterType type, std::uint16_t divisor,
                             double value) {
    bank.put(in, doc, encode_value(type, divisor, value));
  };
  using enum RegisterType;
  put_value(5020, u16, 1, 0xFFFF);  // phase B/C voltage: n/a on a single-phase unit
  put_value(5021, u16, 1, 0xFFFF);
  put_value(5033, s32, 1,
            w.pv + w.battery != 0 ? -0.02 * static_cast<double>(w.pv + w.battery) : 0);
  put_value(5035, s16, 1000, w.pv + w.battery != 0 ? 0.999 : 1.0);
  put_value(5622, u16, 100, 0.0);  // feed-in limitation range, kW
  put_value(5623, u16, 100, c.inverter_ac_limit_w / 1000.0);
  put_value(5628, u16, 10, c.battery_max_charge_w / 1000.0);  // BDC rated power
  put_value(5635, u16, 1, 25);                                // BMS charge/discharge current limits
  put_value(5636, u16, 1, 25);
  put_value(5639, u16, 100, kwh(c.battery_capacity_wh));
  put_value(13005, u16, 10, kwh(s.today.pv_export));
  put_value(13006, u32, 10, kwh(s.totals.pv_export));
  put_value(13012, u16, 10, kwh(s.today.pv_battery_charge));
  put_value(13013, u32, 10, kwh(s.totals.pv_battery_charge));
  put_value(13017, u16, 10, kwh(s.today.direct_consumption));
  put_value(13018, u32, 10, kwh(s.totals.direct_consumption));
  const double self_use =
      s.today.pv > 0 ? 100.0 * std::clamp(1.0 - s.today.pv_export / s.today.pv, 0.0, 1.0) : 0.0;
  put_value(13029, u16, 10, self_use);
  put_value(13031, s16, 10, static_cast<double>(w.pv + w.battery) / s.grid_v);  // phase A current
  put_value(13043, u16, 1, 255);  // DRM state: none (as captured on real units)

  // Holding: the inverter's clock in local time, EMS self-consumption, SoC window.
  constexpr auto hold = RegisterTable::holding;
  const auto clock_now = local_now.time_since_epoch() + faults.clock_offset;
  const auto day = date::floor<date::days>(date::local_time<std::chrono::milliseconds>{clock_now});
  const date::year_month_day ymd{day};
  const date::hh_mm_ss hms{date::floor<std::chrono::seconds>(clock_now - day.time_since_epoch())};
  std::array<std::uint16_t, 6> clock{static_cast<std::uint16_t>(static_cast<int>(ymd.year())),
                                     static_cast<std::uint16_t>(static_cast<unsigned>(ymd.month())),
                                     static_cast<std::uint16_t>(static_cast<unsigned>(ymd.day())),
                                     static_cast<std::uint16_t>(hms.hours().count()),
                                     static_cast<std::uint16_t>(hms.minutes().count()),
                                     static_cast<std::uint16_t>(hms.seconds().count())};
  if (faults.clock_fault == ClockFault::garbage) clock.fill(0xFFFF);
  bank.put(hold, kClockRegisters.first, clock);
  bank.put(hold, 13050, encode_value(u16, 1, 0));  // self-consumption mode
  bank.put(hold, 13058, encode_value(u16, 10, c.battery_max_soc * 100.0));
  bank.put(hold, 13059, encode_value(u16, 10, c.battery_min_soc * 100.0));
  return bank;
}

std::optional<std::uint16_t> RegisterBank::word(RegisterTable table, std::uint16_t doc) const {
  if (!contains(implemented_ranges(table), doc)) return std::nullopt;
  const auto& bank = table == RegisterTable::input ? input_ : holding_;
  const auto it = bank.find(doc);
  return it == bank.end() ? std::uint16_t{0} : it->second;
}

bool touches_clock(std::uint16_t first_doc, std::size_t count) {
  if (count == 0) return false;
  const auto last = std::min<std::size_t>(std::size_t{first_doc} + count - 1, 0xFFFF);
  return overlaps(kClockRegisters, first_doc, static_cast<std::uint32_t>(last));
}

bool covers_lifetime_counter(std::uint16_t first_doc, std::size_t count) {
  return std::any_of(kLifetimeCounters.begin(), kLifetimeCounters.end(),
                     [&](RegisterId id) { return covers(reg(id), first_doc, count); });
}

void glitch_lifetime_counters(std::span<std::uint16_t> words, std::uint16_t first_doc,
                              CounterGlitch glitch) {
  for (const auto id : kLifetimeCounters) {
    const auto& def = reg(id);
    if (!covers(def, first_doc, words.size())) continue;
    const auto w = words.subspan(static_cast<std::size_t>(def.doc - first_doc), 2);
    switch (glitch) {
      case CounterGlitch::zero:
        w[0] = w[1] = 0;
        break;
      case CounterGlitch::low_word_ffff:
        w[0] = 0xFFFF;
        w[1] = 0;
        break;
      case CounterGlitch::high_word_ffff:
        w[1] = 0xFFFF;
        break;
      case CounterGlitch::spike: {
        const auto raised = words::u32(w[0], w[1]) + 1'000U * def.divisor;
        const auto spiked = words::from_u32(raised);
        w[0] = spiked[0];
        w[1] = spiked[1];
        break;
      }
    }
  }
}

ReadReply answer_read(const RegisterBank& bank, const Faults& faults, RegisterTable table,
                      std::uint16_t first_wire, std::uint16_t count) {
  if (count == 0 || count > kMaxServedRegisters) return ModbusException::illegal_data_value;
  const std::uint32_t first_doc = std::uint32_t{first_wire} + 1;
  const std::uint32_t last_doc = first_doc + count - 1;
  if (last_doc > 0xFFFF) return ModbusException::illegal_data_address;

  if (table == RegisterTable::input) {
    for (const auto& r : faults.exception_ranges)
      if (overlaps(r, first_doc, last_doc)) return ModbusException::illegal_data_address;
    if (faults.no_battery_power_register && overlaps(kBatteryPowerRegister, first_doc, last_doc))
      return ModbusException::illegal_data_address;
  } else if (faults.clock_fault == ClockFault::unsupported &&
             overlaps(kClockRegisters, first_doc, last_doc)) {
    return ModbusException::illegal_data_address;
  }

  std::vector<std::uint16_t> out;
  out.reserve(count);
  for (std::uint32_t doc = first_doc; doc <= last_doc; ++doc) {
    const auto w = bank.word(table, static_cast<std::uint16_t>(doc));
    if (w) {
      out.push_back(*w);
    } else if (faults.ffff_unsupported) {
      out.push_back(0xFFFF);
    } else {
      return ModbusException::illegal_data_address;
    }
  }
  return out;
}

}  // namespace sungrow::sim
