// The edge's clock rule: which time each poll is stamped with, checked against the inverter's
// clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include "sungrow/core/result.hpp"
#include "sungrow/core/sample.hpp"
#include "sungrow/core/time.hpp"

namespace sungrow::edge {

// The inverter's clock measured against a synchronized edge clock. Kept in the spool, so it
// outlives the restart that matters: a Raspberry Pi (no RTC) rebooting during an internet outage.
struct ClockReference {
  std::chrono::milliseconds inverter_offset{};  // the inverter's local time − UTC
  Timestamp measured_at{};                      // UTC, on the synchronized edge clock
  bool operator==(const ClockReference&) const = default;
};

// An instant's UTC offset in the edge's own zone; nullopt when unknown.
using ZoneOffset = std::function<std::optional<std::chrono::seconds>(Timestamp)>;

struct ClockSettings {
  std::chrono::seconds check_interval{600};  // between reads of the inverter clock; 0 = never
  std::chrono::seconds first_retry{60};      // after a failed read; doubles up to check_interval
  // When the inverter's offset matched this zone's at the measurement, the inverter is taken to
  // follow that zone, daylight saving time included. Empty: the offset is used as measured.
  ZoneOffset edge_zone;
};

// What one poll is stamped with (the sample's ts, ts_source and ts_adjust_ms).
struct ClockStamp {
  Timestamp ts{};
  TsSource source = TsSource::unsynced;
  std::optional<std::int64_t> adjust_ms;  // ts − the edge clock's reading; set for inverter only
};

// What the health file says about the clocks.
struct ClockHealth {
  bool synchronized = false;  // the kernel's word at the last poll
  bool checking = true;       // the inverter's clock is read at all (check_interval > 0)
  std::optional<Timestamp> inverter_read_at;  // edge clock at the last good read
  std::string inverter_reads;                 // its local time as read; empty before
  std::optional<std::chrono::milliseconds> inverter_minus_edge;  // at that read
  std::uint32_t consecutive_failures = 0;
  std::string last_error;  // of the last failed read or unusable reading; empty when fine
  std::optional<ClockReference> reference;
};

// The rule. With the edge clock synchronized, ts is that clock ("ntp"), and every read of the
// inverter's clock measures the inverter's offset from UTC (the reference). Without
// synchronization, and with a reference and a reading since this start, ts is the inverter's
// clock converted to UTC with the reference, carried between reads on the monotonic clock
// ("inverter"); otherwise ts is the unsynchronized edge clock, marked as such ("unsynced").
// Capturing never waits for a clock. Not thread-safe: owned by the poll loop.
class EdgeClock {
 public:
  using Steady = std::chrono::steady_clock::time_point;

  EdgeClock(ClockSettings settings, std::optional<ClockReference> reference);

  // Whether the inverter's clock is to be read now: on the first poll, then every check_interval
  // (sooner again after a failure, backing off). Never when check_interval is 0.
  bool read_due(Steady now) const;

  // The outcome of reading kInverterClockRegisters at `edge_now` / `steady_now`. A failure or an
  // invalid or implausible reading is counted and reported, and never used. Returns true when the
  // reference changed (to be kept).
  bool observe_read(const Result<std::vector<std::uint16_t>>& words, Timestamp edge_now,
                    Steady steady_now, bool synchronized);

  // The stamp of a poll made at `edge_now` / `steady_now` (the poll's start, which may precede a
  // read observed in the same cycle).
  ClockStamp stamp(Timestamp edge_now, Steady steady_now, bool synchronized);

  const std::optional<ClockReference>& reference() const { return health_.reference; }
  const ClockHealth& health() const { return health_; }

 private:
  struct Anchor {
    std::chrono::local_time<std::chrono::milliseconds> inverter_local;
    Steady steady;
  };
  void failed(std::string why, Steady now);
  Timestamp to_utc(std::chrono::local_time<std::chrono::milliseconds> local) const;

  ClockSettings settings_;
  ClockHealth health_;
  std::optional<Anchor> anchor_;  // the last usable reading, since this start
  std::optional<Steady> next_read_;
};

// The edge's zone from the system (/etc/localtime); empty when it cannot be determined.
ZoneOffset system_zone_offset();

}  // namespace sungrow::edge
