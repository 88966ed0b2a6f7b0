// The 5-minute base bucket per device: what ingest maintains and every series frame derives from.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "sungrow/core/sample.hpp"
#include "sungrow/core/time.hpp"
#include "sungrow/server/rollup/energy.hpp"

namespace sungrow::rollup {

inline constexpr std::chrono::minutes kBaseBucketWidth{5};

// The UTC 5-minute floor; every real zone's hour/day/month boundary is one of these instants.
Timestamp base_bucket_start(Timestamp ts);

enum class PowerField { pv, load, grid, battery };
inline constexpr std::size_t kPowerFieldCount = 4;

struct PowerFieldSpec {
  PowerField field;
  std::string_view name;
  std::optional<double> Sample::*member;
};

inline constexpr std::array<PowerFieldSpec, kPowerFieldCount> kPowerFields{{
    {PowerField::pv, "pv_power_w", &Sample::pv_power_w},
    {PowerField::load, "load_power_w", &Sample::load_power_w},
    {PowerField::grid, "grid_power_w", &Sample::grid_power_w},
    {PowerField::battery, "battery_power_w", &Sample::battery_power_w},
}};

// The sum is kept in integer milliwatts: integer addition is associative, so any merge order gives
// bit-identical buckets (a double sum would differ in the last bits). 1 mW is far below what the
// inverter resolves; int64 holds ~9.2e18 mW, centuries of 5-second samples at 100 kW (and sums
// saturate rather than wrap, see base_bucket.cpp).
struct PowerStats {
  std::int64_t count = 0;  // non-null values
  std::int64_t sum_mw = 0;
  double min = 0;  // meaningful only when count > 0
  double max = 0;

  bool operator==(const PowerStats&) const = default;
};

struct SocStats {
  std::optional<double> min;
  std::optional<double> max;
  std::optional<Reading> last;  // with its ts, so a merge keeps the latest

  bool operator==(const SocStats&) const = default;
};

// Only the ends of a counter: energy needs neighbours, which an order-independent merge cannot
// know, so it is computed at query time from consecutive buckets (see series.hpp). Energy is
// counted between consecutive readings and telescopes inside a bucket, so the readings between
// the ends do not matter (unless the counter resets inside the bucket: then the energy from the
// second reading to the reset is not seen); the second reading at each end lets a series step
// over an isolated implausible reading there (CounterChain) instead of losing the energy around
// it.
struct CounterEnds {
  std::optional<Reading> first;
  std::optional<Reading> second;       // the reading after first; absent with one reading
  std::optional<Reading> penultimate;  // the reading before last; absent with one reading
  std::optional<Reading> last;

  bool operator==(const CounterEnds&) const = default;
};

// A counter's distinct end readings in ts order (first, second, penultimate, last; 0 to 4).
struct EndReadings {
  std::array<Reading, 4> items{};
  std::size_t size = 0;

  const Reading* begin() const { return items.data(); }
  const Reading* end() const { return items.data() + size; }
};
EndReadings readings(const CounterEnds& ends);

struct BaseBucket {
  Timestamp start{};
  std::int64_t samples = 0;
  std::array<PowerStats, kPowerFieldCount> power{};
  SocStats soc;
  std::array<CounterEnds, kCounterCount> counters{};

  bool operator==(const BaseBucket&) const = default;
};

BaseBucket from_sample(const Sample& sample);

// Folds `other` into `into`; both must have the same start. Commutative and associative in every
// field (ties on ts are broken by value), so late and out-of-order samples land identically.
void merge(BaseBucket& into, const BaseBucket& other);

}  // namespace sungrow::rollup
