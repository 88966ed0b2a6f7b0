// Frame aggregation and query-time energy attribution.
#include "sungrow/server/rollup/series.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>

namespace sungrow::rollup {

double round_to(double value, double step) {
  // Divided by the step's inverse (an exact integer), not multiplied by the step: 1.9 comes out
  // as the double nearest 1.9, which prints as "1.9", not 1.9000000000000001.
  const double per_unit = std::round(1.0 / step);
  return std::round(value * per_unit) / per_unit;
}

namespace {

// Each counter's chain carried over the bucket's end readings; what they add. Only counters the
// bucket has readings of get an energy value (null means "no reading", not 0).
void add_counter_steps(const BaseBucket& bucket, CounterCarry& carry,
                       std::array<std::optional<double>, kCounterCount>& energy,
                       std::int64_t& anomalies) {
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    const auto ends = readings(bucket.counters[i]);
    if (ends.size == 0) continue;
    ChainStep total;
    for (const auto& r : ends) total += advance(carry[i], r, kCounters[i]);
    energy[i] = energy[i].value_or(0.0) + total.kwh;
    anomalies += total.anomalies;
  }
}

// Span version: the span carries each chain exactly as its base buckets would (span.hpp).
void add_counter_steps(const Span& piece, CounterCarry& carry,
                       std::array<std::optional<double>, kCounterCount>& energy,
                       std::int64_t& anomalies) {
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    if (!piece.counters[i].first) continue;
    const auto total = apply(carry[i], piece.counters[i], kCounters[i]);
    energy[i] = energy[i].value_or(0.0) + total.kwh;
    anomalies += total.anomalies;
  }
}

// Pieces outside every range still move the chains (what they add belongs to no bucket).
template <class Piece>
void seed_carry(const Piece& piece, CounterCarry& carry) {
  std::array<std::optional<double>, kCounterCount> ignored_energy{};
  std::int64_t ignored_anomalies = 0;
  add_counter_steps(piece, carry, ignored_energy, ignored_anomalies);
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

EnergyBalance energy_balance(const SeriesBucket& bucket) {
  const auto energy = [&](Counter c) { return bucket.energy_kwh[static_cast<std::size_t>(c)]; };
  const auto pv = energy(Counter::pv);
  const auto import = energy(Counter::grid_import);
  const auto exported = energy(Counter::grid_export);
  const auto charge = energy(Counter::battery_charge);
  const auto discharge = energy(Counter::battery_discharge);
  EnergyBalance out;
  if (pv && import && exported && charge && discharge) {
    out.consumption_kwh = round_to(*import + *pv + *discharge - *exported - *charge, kKwhStep);
  }
  if (pv && exported) out.self_consumed_pv_kwh = round_to(std::max(0.0, *pv - *exported), kKwhStep);
  if (import && out.consumption_kwh && *out.consumption_kwh > 0) {
    out.self_sufficiency_pct =
        round_to(100.0 * (1.0 - std::min(1.0, *import / *out.consumption_kwh)), kPercentStep);
  }
  if (out.self_consumed_pv_kwh && pv && *pv > 0) {
    out.self_consumption_pct = round_to(100.0 * *out.self_consumed_pv_kwh / *pv, kPercentStep);
  }
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
