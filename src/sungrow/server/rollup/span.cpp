// Building, appending and planning spans.
#include "sungrow/server/rollup/span.hpp"

#include <algorithm>
#include <cassert>

namespace sungrow::rollup {
namespace {

using std::chrono::milliseconds;

void count_step(CounterSpan& into, std::size_t counter, const Reading& previous,
                const Reading& current) {
  const auto& spec = kCounters[counter];
  const auto step = energy_delta(previous.value, current.value, current.ts - previous.ts,
                                 spec.max_power_w, spec.kind);
  into.inner_kwh += step.kwh;
  if (step.verdict == StepVerdict::dropped || step.verdict == StepVerdict::glitch) {
    ++into.inner_anomalies;
  }
}

// The end of `level` holding `ts`, or `ts` itself when on a boundary.
Timestamp level_ceil(SpanLevel level, Timestamp ts) {
  const Timestamp floor = level_floor(level, ts);
  return floor == ts ? ts : floor + width(level);
}

void add_interval(std::vector<SpanInterval>& out, SpanLevel level, Timestamp from, Timestamp to) {
  if (from >= to) return;
  if (!out.empty() && out.back().level == level && out.back().to == from) {
    out.back().to = to;
    return;
  }
  out.push_back({level, from, to});
}

}  // namespace

milliseconds width(SpanLevel level) {
  switch (level) {
    case SpanLevel::base:
      return kBaseBucketWidth;
    case SpanLevel::hour:
      return std::chrono::hours{1};
    case SpanLevel::day:
      return std::chrono::hours{24};
  }
  return kBaseBucketWidth;
}

Timestamp level_floor(SpanLevel level, Timestamp ts) {
  const auto w = width(level).count();
  const auto ms = ts.time_since_epoch().count();
  const auto rem = ((ms % w) + w) % w;
  return Timestamp{milliseconds{ms - rem}};
}

Span to_span(const BaseBucket& bucket) {
  Span out;
  out.start = bucket.start;
  out.end = bucket.start + kBaseBucketWidth;
  out.samples = bucket.samples;
  out.power = bucket.power;
  out.soc = bucket.soc;
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    const auto& ends = bucket.counters[i];
    auto& c = out.counters[i];
    c.first = ends.first;
    c.last = ends.last;
    if (ends.first && ends.last) count_step(c, i, *ends.first, *ends.last);
  }
  return out;
}

void append(Span& into, const Span& next) {
  assert(next.start >= into.end);
  into.end = next.end;
  into.samples += next.samples;
  // Power and SoC through merge(), so their arithmetic has one definition.
  BaseBucket stats;
  stats.power = into.power;
  stats.soc = into.soc;
  BaseBucket more;
  more.power = next.power;
  more.soc = next.soc;
  merge(stats, more);
  into.power = stats.power;
  into.soc = stats.soc;
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    auto& c = into.counters[i];
    const auto& n = next.counters[i];
    if (!n.first || !n.last) continue;
    if (!c.first || !c.last) {
      c = n;
      continue;
    }
    count_step(c, i, *c.last, *n.first);
    c.inner_kwh += n.inner_kwh;
    c.inner_anomalies += n.inner_anomalies;
    c.last = n.last;
  }
}

std::optional<Span> summarize(std::span<const Span> pieces_in_order, Timestamp start,
                              Timestamp end) {
  if (pieces_in_order.empty()) return std::nullopt;
  Span out;
  out.start = out.end = start;
  for (const auto& piece : pieces_in_order) {
    assert(piece.start >= start && piece.end <= end);
    append(out, piece);
  }
  out.end = end;
  return out;
}

std::vector<SpanInterval> plan_spans(std::span<const BucketRange> ranges) {
  std::vector<SpanInterval> out;
  for (const auto& r : ranges) {
    const Timestamp first_hour = level_ceil(SpanLevel::hour, r.start);
    const Timestamp hours_end = level_floor(SpanLevel::hour, r.end);
    if (first_hour >= hours_end) {  // no whole hour inside
      add_interval(out, SpanLevel::base, r.start, r.end);
      continue;
    }
    add_interval(out, SpanLevel::base, r.start, first_hour);
    const Timestamp first_day = level_ceil(SpanLevel::day, first_hour);
    const Timestamp days_end = level_floor(SpanLevel::day, hours_end);
    if (first_day < days_end) {
      add_interval(out, SpanLevel::hour, first_hour, first_day);
      add_interval(out, SpanLevel::day, first_day, days_end);
      add_interval(out, SpanLevel::hour, days_end, hours_end);
    } else {
      add_interval(out, SpanLevel::hour, first_hour, hours_end);
    }
    add_interval(out, SpanLevel::base, hours_end, r.end);
  }
  return out;
}

}  // namespace sungrow::rollup
