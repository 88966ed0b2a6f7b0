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

// A counter across a span, enough to carry a series' CounterChain over it exactly as over the
// readings themselves: the first two and last two readings, and the chain's result over the
// readings after the first two. Whatever state a chain arrives in, once it has taken the span's
// first two readings it holds either (carry second) or (carry first, pending second) — so those
// two outcomes are precomputed, and the span composes with anything before or after it.
struct CounterSpan {
  std::optional<Reading> first;
  std::optional<Reading> second;  // absent with one reading
  std::optional<Reading> penultimate;
  std::optional<Reading> last;

  struct AfterHead {
    double kwh = 0;
    std::int64_t anomalies = 0;
    bool ends_pending = false;  // the chain ends holding `last` pending (carry `penultimate`)

    bool operator==(const AfterHead&) const = default;
  };
  // [0]: the chain took `second` (carry second); [1]: it holds `second` pending (carry first).
  std::array<AfterHead, 2> after_head{};

  bool operator==(const CounterSpan&) const = default;
};

// The counter span of readings in ts order.
CounterSpan counter_span(std::span<const Reading> readings_in_order, const CounterSpec& spec);

// Carries `chain` over the span's readings, as advance() would over each of them.
ChainStep apply(CounterChain& chain, const CounterSpan& span, const CounterSpec& spec);

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

// One base bucket as a span (its counters from their end readings).
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
