// Frame aggregation and query-time energy attribution.
#include "sungrow/server/rollup/series.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace sungrow::rollup {
namespace {

double round_to(double value, double step) {
  return std::round(value / step) * step;
}

// Response precision: 0.1 W for averages, 1 Wh for energy (the counters resolve 100 Wh),
// 1e-4 for coverage (better than one sample in a day).
constexpr double kWattStep = 0.1;
constexpr double kKwhStep = 0.001;
constexpr double kCoverageStep = 0.0001;

void add_counter_steps(const BaseBucket& bucket, CounterCarry& carry,
                       std::array<std::optional<double>, kCounterCount>& energy,
                       std::int64_t& anomalies) {
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    const auto& ends = bucket.counters[i];
    if (!ends.first || !ends.last) continue;
    const auto& spec = kCounters[i];
    double kwh = energy[i].value_or(0.0);
    const auto count = [&](const Reading& previous, const Reading& current) {
      const auto step = energy_delta(previous.value, current.value, current.ts - previous.ts,
                                     spec.max_power_w, spec.kind);
      kwh += step.kwh;
      if (step.verdict == StepVerdict::dropped || step.verdict == StepVerdict::glitch) ++anomalies;
    };
    if (carry[i]) count(*carry[i], *ends.first);
    count(*ends.first, *ends.last);
    energy[i] = kwh;
    carry[i] = ends.last;
  }
}

// Span version: step(carry → first) + the span's inner steps, in that order, so a base-level
// span (inner = step(first → last)) adds exactly what add_counter_steps adds for its bucket.
void add_counter_steps(const Span& piece, CounterCarry& carry,
                       std::array<std::optional<double>, kCounterCount>& energy,
                       std::int64_t& anomalies) {
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    const auto& c = piece.counters[i];
    if (!c.first || !c.last) continue;
    const auto& spec = kCounters[i];
    double kwh = energy[i].value_or(0.0);
    if (carry[i]) {
      const auto step = energy_delta(carry[i]->value, c.first->value, c.first->ts - carry[i]->ts,
                                     spec.max_power_w, spec.kind);
      kwh += step.kwh;
      if (step.verdict == StepVerdict::dropped || step.verdict == StepVerdict::glitch) ++anomalies;
    }
    kwh += c.inner_kwh;
    anomalies += c.inner_anomalies;
    energy[i] = kwh;
    carry[i] = c.last;
  }
}

void seed_carry(const BaseBucket& bucket, CounterCarry& carry) {
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    if (bucket.counters[i].last) carry[i] = bucket.counters[i].last;
  }
}

void seed_carry(const Span& piece, CounterCarry& carry) {
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    if (piece.counters[i].last) carry[i] = piece.counters[i].last;
  }
}

// The response fields from the merged statistics of the bucket's pieces.
void finish(SeriesBucket& out, const BaseBucket& total, const BucketRange& range) {
  out.range = range;
  out.samples = total.samples;
  const auto expected = std::chrono::duration<double>(range.end - range.start) /
                        std::chrono::duration<double>(kSampleInterval);
  if (expected > 0) {
    out.coverage =
        round_to(std::min(1.0, static_cast<double>(total.samples) / expected), kCoverageStep);
  }
  for (std::size_t i = 0; i < kPowerFieldCount; ++i) {
    const auto& stats = total.power[i];
    if (stats.count == 0) continue;
    const double avg_w =
        static_cast<double>(stats.sum_mw) / 1000.0 / static_cast<double>(stats.count);
    out.power[i] = {.avg = round_to(avg_w, kWattStep), .min = stats.min, .max = stats.max};
  }
  out.soc = {.min = total.soc.min,
             .max = total.soc.max,
             .last = total.soc.last ? std::optional{total.soc.last->value} : std::nullopt};
  for (auto& kwh : out.energy_kwh) {
    if (kwh) kwh = round_to(*kwh, kKwhStep);
  }
}

}  // namespace

SeriesBucket aggregate(std::span<const BaseBucket> base_in_order, const BucketRange& range,
                       CounterCarry& carry) {
  SeriesBucket out;
  BaseBucket total;
  total.start = range.start;
  for (const auto& bucket : base_in_order) {
    assert(bucket.start >= range.start && bucket.start < range.end);
    BaseBucket rebased = bucket;
    rebased.start = range.start;
    merge(total, rebased);
    add_counter_steps(bucket, carry, out.energy_kwh, out.counter_anomalies);
  }
  finish(out, total, range);
  return out;
}

SeriesBucket aggregate(std::span<const Span> pieces_in_order, const BucketRange& range,
                       CounterCarry& carry) {
  SeriesBucket out;
  BaseBucket total;
  total.start = range.start;
  for (const auto& piece : pieces_in_order) {
    assert(piece.start >= range.start && piece.end <= range.end);
    BaseBucket stats;
    stats.start = range.start;
    stats.samples = piece.samples;
    stats.power = piece.power;
    stats.soc = piece.soc;
    merge(total, stats);
    add_counter_steps(piece, carry, out.energy_kwh, out.counter_anomalies);
  }
  finish(out, total, range);
  return out;
}

std::vector<SeriesBucket> aggregate_series(std::span<const BaseBucket> base_in_order,
                                           std::span<const BucketRange> ranges) {
  assert(std::is_sorted(base_in_order.begin(), base_in_order.end(),
                        [](const auto& a, const auto& b) { return a.start < b.start; }));
  std::vector<SeriesBucket> out;
  out.reserve(ranges.size());
  CounterCarry carry{};
  auto next = base_in_order.begin();
  const auto end = base_in_order.end();
  if (!ranges.empty()) {
    for (; next != end && next->start < ranges.front().start; ++next) seed_carry(*next, carry);
  }
  for (const auto& range : ranges) {
    // Base buckets in a gap between ranges still move the carry, so no energy is misplaced.
    for (; next != end && next->start < range.start; ++next) seed_carry(*next, carry);
    const auto first = next;
    while (next != end && next->start < range.end) ++next;
    out.push_back(aggregate(std::span<const BaseBucket>{first, next}, range, carry));
  }
  return out;
}

std::vector<SeriesBucket> aggregate_spans(std::span<const Span> pieces_in_order,
                                          std::span<const BucketRange> ranges) {
  assert(std::is_sorted(pieces_in_order.begin(), pieces_in_order.end(),
                        [](const auto& a, const auto& b) { return a.start < b.start; }));
  std::vector<SeriesBucket> out;
  out.reserve(ranges.size());
  CounterCarry carry{};
  auto next = pieces_in_order.begin();
  const auto end = pieces_in_order.end();
  for (const auto& range : ranges) {
    for (; next != end && next->start < range.start; ++next) seed_carry(*next, carry);
    const auto first = next;
    while (next != end && next->start < range.end) ++next;
    out.push_back(aggregate(std::span<const Span>{first, next}, range, carry));
  }
  return out;
}

}  // namespace sungrow::rollup
