// sungrow-sim as a library: a Modbus TCP server that behaves like an SH4.0RS behind a WiNet-S.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sungrow/core/registers.hpp"
#include "sungrow/core/result.hpp"
#include "sungrow/core/time.hpp"

namespace sungrow::sim {

// How the inverter's own clock (holding registers 5000–5005) misbehaves, if at all.
enum class ClockFault : std::uint8_t {
  none,
  unsupported,   // every read touching 5000–5005 answers exception 02
  intermittent,  // every second such read answers exception 02 (as seen through a WiNet-S)
  garbage,       // the six registers read 0xFFFF
};

std::string_view to_string(ClockFault f);
std::optional<ClockFault> clock_fault_from_string(std::string_view s);

// Faults switchable by flag; all off by default.
struct Faults {
  std::uint32_t drop_every = 0;             // close the connection on every Nth request
  std::vector<DocRange> exception_ranges;   // answer exception 02 for reads touching these
  bool malformed_exception = false;         // WiNet-S style: MBAP length 2, then 3 bytes
  std::chrono::milliseconds slow_reply{0};  // delay before every reply
  bool ffff_unsupported = false;            // unknown registers read 0xFFFF instead of exception
  bool refuse_second_client = false;        // a second concurrent client is closed at once
  bool flow_bits_stuck = false;             // register 13001 always 0
  bool no_battery_power_register = false;   // old firmware: 5214–5215 raise exception 02
  // Every Nth read of the lifetime energy counters returns them glitched (see CounterGlitch).
  std::uint32_t counter_glitch_every = 0;
  std::chrono::seconds clock_offset{
      0};  // the inverter's clock runs this far from the simulated time
  ClockFault clock_fault = ClockFault::none;
  bool no_reply = false;       // every request is ignored, as for an unknown unit id (timeouts)
  bool exception_all = false;  // every read answers exception 0x0B (gateway: target failed)
};

// How far back `since` may lie: the household is simulated from there at start-up (10 years).
inline constexpr int kMaxSinceDays = 3660;

// What the nameplate says unless told otherwise: 11 characters, like real SH-RS units.
inline constexpr std::string_view kDefaultSerial = "A2350415770";

struct SimOptions {
  std::string listen = "127.0.0.1";
  std::uint16_t port = 502;  // 0 = pick a free port (see SimServer::port())
  int unit_id = 1;           // requests for any other unit id get no reply at all
  // More inverters on the same port (and connection): unit_id is then the master, which owns the
  // grid meter, and these its slaves (sungrow-registers.md §2), each with its own PV and battery.
  std::vector<int> slave_units;
  double time_scale = 1.0;         // simulated seconds per real second
  std::optional<Timestamp> start;  // simulated start time; default now
  // When the household began (its counters and battery integrate from the local midnight of that
  // day), so a live simulator continues a history generated from that instant: same counters,
  // same SoC. Default: the start's own day. Not after start, at most kMaxSinceDays before it.
  std::optional<Timestamp> since;
  std::string tz = "Europe/Amsterdam";  // for daily counter resets at local midnight
  std::uint64_t seed = 1;
  std::string serial{kDefaultSerial};  // registers 4990–4999: 1–20 printable ASCII characters
  Faults faults;
  // When set, `faults` apply to requests for this unit only. Connection-level behaviour stays
  // port-wide: refuse_second_client always, and drop_every closes the connection every unit
  // shares (counting only this unit's requests).
  std::optional<int> fault_unit;
};

// Counters since start. `requests` counts every frame received (also ignored ones);
// `exceptions` counts exception replies sent (proper or malformed); `dropped` connections
// closed by drop_every; `refused` connections closed at once (second client / too many).
struct SimStats {
  std::uint64_t connections = 0;
  std::uint64_t requests = 0;
  std::uint64_t exceptions = 0;
  std::uint64_t dropped = 0;
  std::uint64_t refused = 0;
};

// Serves on a background thread from construction until stop() or destruction.
class SimServer {
 public:
  static Result<std::unique_ptr<SimServer>> start(SimOptions options);
  virtual ~SimServer() = default;
  virtual std::uint16_t port() const = 0;
  virtual SimStats stats() const = 0;
  virtual void stop() = 0;
  // The simulated clock: start + (real elapsed) × time_scale.
  virtual Timestamp sim_time() const = 0;
};

// Checks options without starting anything (unit ids 1–247 and distinct, fault unit among them,
// time scale, time zone, ranges, serial, listen address). start() runs the same checks; the CLI
// uses this to tell flag errors apart.
Result<void> validate(const SimOptions& options);

}  // namespace sungrow::sim
