// The Modbus poller: one TCP connection to the inverter, the read plan, and WiNet-S-safe pacing.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include "sungrow/core/register_image.hpp"
#include "sungrow/core/result.hpp"
#include "sungrow/edge/modbus/modbus_link.hpp"

namespace sungrow::edge {

struct ModbusSettings {
  std::string host;
  std::uint16_t port = 502;
  int unit_id = 1;                                 // 1–247
  std::chrono::milliseconds inter_read_delay{20};  // ≥ this between two group reads
  std::chrono::milliseconds response_timeout{3'000};
  std::chrono::milliseconds backoff_base{1'000};  // reconnect backoff (sungrow::Backoff, jittered)
  std::chrono::milliseconds backoff_cap{300'000};
  std::uint32_t unsupported_after = 3;  // consecutive cycles with an exception → unsupported
};

struct PollStats {
  std::size_t groups_read = 0;     // whole groups that answered
  std::size_t registers_read = 0;  // registers read one by one after a group failed
  std::size_t registers_failed = 0;
  std::size_t requests = 0;  // requests sent this cycle (groups and single registers)
  bool reconnected = false;  // this cycle opened a new connection
};

// One register of `scan`: its words as read, or why not.
struct ScannedRegister {
  std::uint16_t doc = 0;
  std::optional<std::vector<std::uint16_t>> words;
  std::string error;  // empty when read
  bool unsupported = false;
};

// One unit id's poll plan and what was learnt about it, over a ModbusLink: its own (the
// single-inverter edge) or one shared by every unit behind the same host and port.
// Not thread-safe: owned by the poll thread.
class Poller {
 public:
  // The time source of the reconnect backoff window.
  using Now = std::function<std::chrono::steady_clock::time_point()>;

  explicit Poller(ModbusSettings settings, std::uint64_t seed = std::random_device{}());
  // As above, with the backoff window measured on `now` instead of steady_clock::now (a seam for
  // tests: pacing and response timeouts stay on the real clock).
  Poller(ModbusSettings settings, std::uint64_t seed, Now now);
  // Unit `unit_id` over a link shared with the other units of its host; the caller starts the
  // link's rounds (ModbusLink::begin_round) once per cycle over them all.
  Poller(std::shared_ptr<ModbusLink> link, int unit_id, std::uint32_t unsupported_after = 3);
  Poller(Poller&&) noexcept;
  Poller& operator=(Poller&&) noexcept;
  ~Poller();

  // One poll cycle: connects if needed (unless still inside the reconnect backoff, which returns
  // an error at once), reads every group with the inter-read delay, splits a group that answers
  // with an exception into single registers, and remembers registers that keep failing as
  // unsupported and groups whose registers all read alone as fragmented (read as runs from then).
  // Returns the image of what was read (partial is fine); an error only when nothing could be read.
  // Honors `stop` between reads.
  Result<RegisterImage> poll(std::stop_token stop = {});

  // One read outside the poll plan, e.g. the inverter's clock (kInverterClockRegisters), on the
  // same connection and with the same pacing as the poll's reads. Connects only when no backoff
  // window is open. An exception reply keeps the connection; a broken one is closed, to be opened
  // again by the next poll without a backoff (the link was fine a moment ago). Neither touches
  // the poll's bookkeeping of unsupported registers and fragmented groups.
  Result<std::vector<std::uint16_t>> read_extra(RegisterTable table, std::uint16_t first_doc,
                                                std::uint16_t count, std::stop_token stop = {});

  // Reads every register of the map one by one (for `sungrow-edge scan`).
  Result<std::vector<ScannedRegister>> scan(std::stop_token stop = {});

  const PollStats& last_stats() const;
  // Document numbers of registers no longer read because they kept failing.
  const std::set<std::uint16_t>& unsupported() const;
  // Groups (indexes into kReadGroups) read as runs of adjacent registers because the device
  // refused a word between their registers. Kept for the Poller's life, relearnt after a restart.
  const std::set<std::uint8_t>& fragmented_groups() const;
  bool connected() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sungrow::edge
