// Building, appending and planning spans.
#include "sungrow/server/rollup/span.hpp"

#include <algorithm>
#include <cassert>

namespace sungrow::rollup {
namespace {

using std::chrono::milliseconds;

// The state a chain is in after the span's readings, given the outcome it ended in.
CounterChain state_after(const CounterSpan& span, bool ends_pending) {
  if (ends_pending) return CounterChain{.carry = span.penultimate, .pending = span.last};
  return CounterChain{.carry = span.last, .pending = std::nullopt};
}

// apply() for a chain that has already taken the span's first reading.
ChainStep apply_after_first(CounterChain& chain, const CounterSpan& span, const CounterSpec& spec) {
  if (!span.second) return {};
  ChainStep total = advance(chain, *span.second, spec);
  // After two consecutive readings a chain holds (second) or (first, pending second), whatever it
  // held before: the outcome is all it needs to know about its past.
  const auto& after = span.after_head[chain.pending ? 1 : 0];
  total += ChainStep{.kwh = after.kwh, .anomalies = after.anomalies};
  chain = state_after(span, after.ends_pending);
  return total;
}

// The counter span of `a` followed by `b`.
CounterSpan join(const CounterSpan& a, const CounterSpan& b, const CounterSpec& spec) {
  if (!a.first) return b;
  if (!b.first) return a;
  CounterSpan out;
  out.first = a.first;
  out.second = a.second ? a.second : b.first;
  out.last = b.last;
  out.penultimate = b.second ? b.penultimate : a.last;
  for (const int branch : {0, 1}) {
    CounterChain chain;
    ChainStep total;
    if (a.second) {
      const auto& after = a.after_head[static_cast<std::size_t>(branch)];
      total = ChainStep{.kwh = after.kwh, .anomalies = after.anomalies};
      chain = state_after(a, after.ends_pending);
      total += apply(chain, b, spec);
    } else {
      // `a` is one reading: the joint head is a's reading and b's first.
      chain = branch == 0 ? CounterChain{.carry = b.first, .pending = std::nullopt}
                          : CounterChain{.carry = a.first, .pending = b.first};
      total = apply_after_first(chain, b, spec);
    }
    out.after_head[static_cast<std::size_t>(branch)] = {
        .kwh = total.kwh, .anomalies = total.anomalies, .ends_pending = chain.pending.has_value()};
  }
  return out;
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

CounterSpan counter_span(std::span<const Reading> readings_in_order, const CounterSpec& spec) {
  CounterSpan out;
  const auto n = readings_in_order.size();
  if (n == 0) return out;
  out.first = readings_in_order.front();
  out.last = readings_in_order.back();
  if (n == 1) return out;
  out.second = readings_in_order[1];
  out.penultimate = readings_in_order[n - 2];
  for (const int branch : {0, 1}) {
    CounterChain chain = branch == 0 ? CounterChain{.carry = out.second, .pending = std::nullopt}
                                     : CounterChain{.carry = out.first, .pending = out.second};
    ChainStep total;
    for (std::size_t k = 2; k < n; ++k) total += advance(chain, readings_in_order[k], spec);
    out.after_head[static_cast<std::size_t>(branch)] = {
        .kwh = total.kwh, .anomalies = total.anomalies, .ends_pending = chain.pending.has_value()};
  }
  return out;
}

ChainStep apply(CounterChain& chain, const CounterSpan& span, const CounterSpec& spec) {
  if (!span.first) return {};
  ChainStep total = advance(chain, *span.first, spec);
  total += apply_after_first(chain, span, spec);
  return total;
}

Span to_span(const BaseBucket& bucket) {
  Span out;
  out.start = bucket.start;
  out.end = bucket.start + kBaseBucketWidth;
  out.samples = bucket.samples;
  out.power = bucket.power;
  out.soc = bucket.soc;
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    const auto ends = readings(bucket.counters[i]);
    out.counters[i] =
        counter_span(std::span<const Reading>(ends.begin(), ends.end()), kCounters[i]);
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
    into.counters[i] = join(into.counters[i], next.counters[i], kCounters[i]);
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
