// Simulated history: the household's past read the way the edge reads it, as a series of Samples.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "sungrow/core/register_image.hpp"
#include "sungrow/core/result.hpp"
#include "sungrow/core/sample.hpp"
#include "sungrow/core/time.hpp"
#include "sungrow/edge/normalize/load_energy_hold.hpp"
#include "sungrow/sim/household.hpp"
#include "sungrow/sim/register_bank.hpp"

namespace sungrow::sim {

struct HistoryOptions {
  std::string device_id;
  Timestamp end{};  // exclusive: the history stops just before the live edge takes over
  int days = 30;
  std::chrono::seconds step{60};        // poll interval of the simulated edge
  std::string tz = "Europe/Amsterdam";  // the inverter's zone: daily counters reset at its midnight
  std::uint64_t seed = 1;               // the simulator's default, so history and live agree
};

// Ten years: far more than a demo needs, and the samples are generated lazily, one at a time.
inline constexpr int kMaxHistoryDays = 3660;
// The edge never polls faster than this (WiNet-S safety), so history never does either.
inline constexpr std::chrono::seconds kMinHistoryStep{5};

// Device id pattern, days 1..kMaxHistoryDays, a step ≥ 5 s that divides a day (so every day holds
// the same number of samples and count = days × 86400 / step), a known time zone.
Result<void> validate(const HistoryOptions& options);

// The register image one poll of the edge would read from `bank`: every read group of the map,
// answered by the simulated unit's own read rules (no faults).
RegisterImage read_image(const RegisterBank& bank);

// Yields the samples of [end − days, end) on a grid of `step` (aligned to multiples of the step
// since the Unix epoch, so re-runs with a later end repeat the same timestamps), oldest first,
// seq 1..N. Each sample is household state → register bank → the edge's normalizer, exactly what
// a poll of the Modbus server at that simulated instant returns. Deterministic in the options.
class HistoryGenerator {
 public:
  static Result<HistoryGenerator> create(HistoryOptions options);

  // nullopt once all total() samples were produced.
  std::optional<Sample> next();

  std::size_t total() const { return total_; }
  std::size_t produced() const { return produced_; }
  Timestamp first_ts() const { return first_; }
  // Normalizer warnings so far (values it nulled); a consistent model produces none.
  std::size_t warnings() const { return warnings_; }
  const HistoryOptions& options() const { return options_; }

 private:
  HistoryGenerator(HistoryOptions options, Household household, Timestamp first, std::size_t total);

  HistoryOptions options_;
  HouseholdConfig config_;  // the defaults the Modbus server runs with
  DeviceIdentity identity_;
  Household household_;
  Timestamp first_;
  std::size_t total_;
  std::size_t produced_ = 0;
  std::size_t warnings_ = 0;
  edge::LoadEnergyHold load_hold_;
};

}  // namespace sungrow::sim
