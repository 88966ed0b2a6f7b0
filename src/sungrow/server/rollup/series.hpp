// Rolling base buckets up into the frame buckets of a series response.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "sungrow/server/rollup/base_bucket.hpp"
#include "sungrow/server/rollup/frames.hpp"
#include "sungrow/server/rollup/span.hpp"

namespace sungrow::rollup {

// Response precision: 0.1 W for averages, 1 Wh for energy (the counters resolve 100 Wh),
// 1e-4 for coverage (better than one sample in a day), 0.01 for percentages.
inline constexpr double kWattStep = 0.1;
inline constexpr double kKwhStep = 0.001;
inline constexpr double kCoverageStep = 0.0001;
inline constexpr double kPercentStep = 0.01;

// `value` to a multiple of `step`, as the nearest double to that decimal.
double round_to(double value, double step);

// The edge polls every 5 s; coverage is measured against that.
inline constexpr std::chrono::seconds kSampleInterval{5};

struct PowerSummary {
  std::optional<double> avg;  // all nullopt when the bucket has no non-null value
  std::optional<double> min;
  std::optional<double> max;

  bool operator==(const PowerSummary&) const = default;
};

struct SocSummary {
  std::optional<double> min;
  std::optional<double> max;
  std::optional<double> last;

  bool operator==(const SocSummary&) const = default;
};

struct SeriesBucket {
  BucketRange range;
  std::int64_t samples = 0;
  double coverage = 0;  // samples / (duration / 5 s), at most 1
  std::array<PowerSummary, kPowerFieldCount> power{};
  SocSummary soc;
  // kWh per counter (kCounters order); nullopt when the bucket holds no reading of that counter.
  std::array<std::optional<double>, kCounterCount> energy_kwh{};
  // Steps zeroed because a lifetime total dropped or a counter rose implausibly fast.
  std::int64_t counter_anomalies = 0;

  bool operator==(const SeriesBucket&) const = default;
};

// The household's energy balance over a bucket, from its (rounded) counter energies, so every
// reader gets the same numbers. Each is null when an input is null or its denominator is not
// positive.
struct EnergyBalance {
  std::optional<double> consumption_kwh;       // import + PV + discharge − export − charge
  std::optional<double> self_sufficiency_pct;  // 100·(1 − min(1, import / consumption))
  std::optional<double> self_consumption_pct;  // 100·max(0, PV − export) / PV
  std::optional<double> self_consumed_pv_kwh;  // max(0, PV − export)

  bool operator==(const EnergyBalance&) const = default;
};
EnergyBalance energy_balance(const SeriesBucket& bucket);

// Each counter's chain (energy.hpp) before the buckets being aggregated: where the next step
// starts.
using CounterCarry = std::array<CounterChain, kCounterCount>;

// Attribution: a counter's energy goes to the bucket holding the reading that observed it. Per base
// bucket the chain steps from its carry through the bucket's end readings, so the step across a
// bucket boundary (and any gap without data, or an isolated glitch the chain held back) belongs to
// the later bucket, and the total over consecutive buckets equals the counter's reset-safe
// progress — nothing is lost or counted twice.
//
// Rolls `base_in_order` (sorted by start, all inside `range`) into one frame bucket and advances
// `carry` past them, so consecutive calls chain.
SeriesBucket aggregate(std::span<const BaseBucket> base_in_order, const BucketRange& range,
                       CounterCarry& carry);

// The whole series: `base_in_order` sorted by start; buckets before the first range only seed the
// carry (a store passes the last base bucket before `from` this way), buckets after are ignored.
std::vector<SeriesBucket> aggregate_series(std::span<const BaseBucket> base_in_order,
                                           std::span<const BucketRange> ranges);

// The same over precomputed spans (rollup/span.hpp): `pieces_in_order` sorted by start, each lying
// wholly inside one range or outside all of them (those only move the carry, like the preceding
// piece a store passes first). Gives what aggregate_series gives over the underlying base buckets
// (energy up to float summation order, ~1e-12 kWh before rounding; everything else exactly).
SeriesBucket aggregate(std::span<const Span> pieces_in_order, const BucketRange& range,
                       CounterCarry& carry);
std::vector<SeriesBucket> aggregate_spans(std::span<const Span> pieces_in_order,
                                          std::span<const BucketRange> ranges);

}  // namespace sungrow::rollup
