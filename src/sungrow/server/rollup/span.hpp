// Precomputed spans: a run of consecutive base buckets (a UTC hour or day) summarised so a series
// can read one span instead of its base buckets and still get the very same result.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "sungrow/server/rollup/base_bucket.hpp"
#include "sungrow/server/rollup/frames.hpp"

namespace sungrow::rollup {

// A counter across the span: its endpoints plus what the steps strictly inside the span add up to
// (between its base buckets and within each), computed with energy_delta exactly as aggregate
// does. A series then counts step(carry → first) + inner_kwh, as for one base bucket.
struct CounterSpan {
  std::optional<Reading> first;
  std::optional<Reading> last;
  double inner_kwh = 0;
  std::int64_t inner_anomalies = 0;

  bool operator==(const CounterSpan&) const = default;
};

// [start, end) on the UTC 5-minute grid; a base bucket is the 5-minute span.
struct Span {
  Timestamp start{};
  Timestamp end{};
  std::int64_t samples = 0;
  std::array<PowerStats, kPowerFieldCount> power{};
  SocStats soc;
  std::array<CounterSpan, kCounterCount> counters{};

  bool operator==(const Span&) const = default;
};

// Span granularities the stores precompute, finest first.
enum class SpanLevel { base, hour, day };
std::chrono::milliseconds width(SpanLevel level);
// The level's UTC boundary at or before `ts`.
Timestamp level_floor(SpanLevel level, Timestamp ts);

// One base bucket as a span: inner = step(first → last) per counter.
Span to_span(const BaseBucket& bucket);

// Extends `into` by `next`, which must start at or after into.end: the counter steps between
// them are counted inside, so appending the pieces of a run in order equals reading the run.
void append(Span& into, const Span& next);

// The span [start, end) from its pieces (sorted by start, all inside); nullopt when none.
std::optional<Span> summarize(std::span<const Span> pieces_in_order, Timestamp start,
                              Timestamp end);

// Which precomputed pieces answer `ranges` (consecutive frame buckets): per range, whole UTC days
// inside it, then whole UTC hours, and base buckets at the edges (zones like +05:45 and DST days
// give non-hour-aligned edges). Adjacent intervals of one level are joined.
struct SpanInterval {
  SpanLevel level;
  Timestamp from{};
  Timestamp to{};

  bool operator==(const SpanInterval&) const = default;
};
std::vector<SpanInterval> plan_spans(std::span<const BucketRange> ranges);

}  // namespace sungrow::rollup
