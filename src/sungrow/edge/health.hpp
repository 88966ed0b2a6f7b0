// The health file: a small JSON status rewritten atomically every cycle for supervisors and humans.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "sungrow/core/result.hpp"
#include "sungrow/core/sample.hpp"
#include "sungrow/core/time.hpp"
#include "sungrow/edge/clock/edge_clock.hpp"

namespace sungrow::edge {

enum class HealthStatus { ok, degraded, failing };

struct DeviceHealth;

struct HealthState {
  std::optional<Timestamp> last_poll_at;
  bool last_poll_ok = false;
  std::uint32_t consecutive_poll_failures = 0;
  std::string last_poll_error;
  std::size_t unsupported_registers = 0;

  std::optional<Timestamp> last_upload_at;
  bool last_upload_ok = false;
  std::uint32_t consecutive_upload_failures = 0;
  std::string last_upload_error;

  std::uint64_t spool_depth = 0;
  std::uint64_t pending_in_memory = 0;  // samples the disk refused; kept in RAM, retried
  std::optional<Timestamp> oldest_unsent;
  std::uint64_t dead_letters = 0;
  std::uint64_t lost_in_memory = 0;
  std::string spool_error;

  ClockHealth clock;
  // How the last spooled sample's ts was obtained (after the spool's own rule).
  std::optional<TsSource> last_ts_source;
  std::optional<std::int64_t> last_ts_adjust_ms;

  // One entry per device, written as "devices" when not empty. With several devices the fields
  // above sum them up (see summarize_devices).
  std::vector<DeviceHealth> devices;
  std::size_t failing_devices = 0;  // devices whose polls fail (≥ 3 in a row)
};

// One inverter's part of the health file (several devices per edge): its polls, its uploads (its
// own token), its share of the spool and its clock, in the edge-wide shape.
struct DeviceHealth {
  std::string device_id;
  HealthState state;  // its own `devices` stays empty
  std::int64_t last_seq = 0;
};

// A device's own status, by the rules of classify() below.
HealthStatus classify(const DeviceHealth& device);

// Fills the edge-wide poll, upload, spool and clock fields from `devices`: one device's are its
// own (the single-inverter health file as before); with several, a poll failure of one device is
// the edge's "degraded" and names it, and "failing" means no device is captured at all.
void summarize_devices(HealthState& state);

// failing: nothing is being captured (≥ 3 poll failures in a row) or samples are not durable;
// degraded: captured but not delivered (upload failing), dead letters, a poll just failed, or one
// of several devices is failing; ok: otherwise.
HealthStatus classify(const HealthState& state);
std::string_view to_string(HealthStatus status);

std::string health_json(const HealthState& state, Timestamp now);

// Writes to a temporary file in the same directory, then renames it over `path`, so a
// reader never sees a half-written file.
Result<void> write_health_file(const std::filesystem::path& path, const HealthState& state,
                               Timestamp now);

}  // namespace sungrow::edge
