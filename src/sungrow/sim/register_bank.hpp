// The household's state encoded as SH4.0RS registers, and how the unit answers a read of them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "sungrow/core/registers.hpp"
#include "sungrow/sim/household.hpp"
#include "sungrow/sim/sim_server.hpp"

namespace sungrow::sim {

// What the nameplate registers say.
struct DeviceIdentity {
  std::string serial{kDefaultSerial};
  std::uint16_t device_type = 0x0D18;  // SH4.0RS (the protocol's device type table)
  std::uint16_t nominal_power = 40;    // 0.1 kW
};

// The standard Modbus exception codes the simulated unit uses.
enum class ModbusException : std::uint8_t {
  illegal_function = 0x01,
  illegal_data_address = 0x02,
  illegal_data_value = 0x03,
  gateway_target_failed = 0x0B,  // a gateway's answer for a unit behind it that does not respond
};

// Where a unit sits in its plant (sungrow-registers.md §2): alone, the master that owns the grid
// meter, or a slave without one.
enum class PlantRole : std::uint8_t { standalone, master, slave };

// What the master's meter sees: the whole plant. Powers in whole watts, counters in Wh.
struct PlantMeter {
  std::int64_t load_w = 0;  // Σ of every unit's load share
  std::int64_t grid_w = 0;  // + import: load − Σ PV − Σ battery (meter register 5601)
  double import_total_wh = 0, export_total_wh = 0;
  double import_today_wh = 0, export_today_wh = 0;
};

// A unit's place in its plant; a standalone unit's meter sees its own household.
struct UnitView {
  PlantRole role = PlantRole::standalone;
  PlantMeter meter;  // master only
};

// The S32 "not available" word pair a unit without a meter reads in 5601–5602 (DOC §1.2 (5);
// the slave of a real master/slave plant reads 0xFFFF 0x7FFF there).
inline constexpr std::int32_t kNoMeterS32 = 0x7FFFFFFF;

// How a lifetime energy counter reads wrong now and then on real units: 0, 0xFFFF in its low
// word with the high word 0 (6553.5 kWh), 0xFFFF in its high word (beyond any plausible total),
// or a leap of +1,000 kWh. A glitched reply holds one of them for every lifetime counter it covers.
enum class CounterGlitch : std::uint8_t { zero, low_word_ffff, high_word_ffff, spike };
inline constexpr std::size_t kCounterGlitchKinds = 4;

// Whether a holding read of `count` (≥ 1) words from document number `first_doc` touches the
// clock registers 5000–5005.
bool touches_clock(std::uint16_t first_doc, std::size_t count);

// Whether a read of `count` words from document number `first_doc` covers a whole lifetime
// counter (PV, grid import/export, battery charge/discharge).
bool covers_lifetime_counter(std::uint16_t first_doc, std::size_t count);

// Rewrites every lifetime counter inside `words`, the reply to a read from `first_doc`.
void glitch_lifetime_counters(std::span<std::uint16_t> words, std::uint16_t first_doc,
                              CounterGlitch glitch);

// Modbus' own limit for FC 0x03/0x04 (the edge keeps to 100, a stricter WiNet-S habit).
inline constexpr std::uint16_t kMaxServedRegisters = 125;

// Standby code of the running-state register (new bit-style family, like 0x0000 = running).
inline constexpr std::uint16_t kRunningStateRunning = 0x0000;
inline constexpr std::uint16_t kRunningStateStandby = 0x0008;

// Document-number ranges the simulated unit implements; a read touching anything else fails
// (exception 02) like the real one. Reserved words inside these read 0.
std::span<const DocRange> implemented_ranges(RegisterTable table);

class RegisterBank {
 public:
  // Encodes every register of kRegisters (with its type and divisor, via words.hpp) plus the
  // other implemented registers a real unit fills. Of `faults`, `flow_bits_stuck`, `clock_offset`
  // and a garbage `clock_fault` matter here. `view` says whose grid the meter registers show.
  static RegisterBank encode(const HouseholdState& state,
                             std::chrono::local_time<std::chrono::milliseconds> local_now,
                             const HouseholdConfig& config, const DeviceIdentity& identity,
                             const Faults& faults, const UnitView& view = {});

  // The word at a document number, nullopt if the unit does not implement that register.
  std::optional<std::uint16_t> word(RegisterTable table, std::uint16_t doc) const;

 private:
  void put(RegisterTable table, std::uint16_t doc, std::span<const std::uint16_t> words);
  std::map<std::uint16_t, std::uint16_t> input_;  // by doc number; absent + implemented = 0
  std::map<std::uint16_t, std::uint16_t> holding_;
};

// Raw words for a register of `type` holding `physical` × `divisor`, rounded and clamped to the
// type's range (so an out-of-range value saturates instead of wrapping). Not for utf8.
std::vector<std::uint16_t> encode_value(RegisterType type, std::uint16_t divisor, double physical);

// The unit's answer to one read: the words, or an exception code.
using ReadReply = std::variant<std::vector<std::uint16_t>, ModbusException>;

// Applies the read rules (count limit, unimplemented registers, exception/ffff faults, missing
// 5214 on old firmware, an unsupported clock) to one FC 0x03/0x04 request at wire address
// `first_wire`.
ReadReply answer_read(const RegisterBank& bank, const Faults& faults, RegisterTable table,
                      std::uint16_t first_wire, std::uint16_t count);

}  // namespace sungrow::sim
