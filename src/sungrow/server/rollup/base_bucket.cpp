// Building and merging base buckets.
#include "sungrow/server/rollup/base_bucket.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <tuple>

namespace sungrow::rollup {
namespace {

// Ingest keeps powers within ±30 kW (core/field_ranges.hpp), so these sums cannot overflow: a
// 5-minute bucket holds at most 300,000 distinct millisecond timestamps, 9e12 mW at 30 kW, and a
// year of such buckets stays below 1e18 < 9.2e18. Rows stored before that check existed may hold
// anything, so both conversion and addition saturate instead of overflowing (undefined behaviour,
// and a negative average out of a huge positive sum).
constexpr double kMaxMilliwatts = 9.0e18;

std::int64_t to_milliwatts(double watts) {
  const double mw = watts * 1000.0;
  if (std::isnan(mw)) return 0;
  return static_cast<std::int64_t>(std::llround(std::clamp(mw, -kMaxMilliwatts, kMaxMilliwatts)));
}

std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  std::int64_t sum = 0;
  if (!__builtin_add_overflow(a, b, &sum)) return sum;
  return b > 0 ? std::numeric_limits<std::int64_t>::max()
               : std::numeric_limits<std::int64_t>::min();
}

bool earlier(const Reading& a, const Reading& b) {
  return std::tie(a.ts, a.value) < std::tie(b.ts, b.value);
}

void merge_power(PowerStats& into, const PowerStats& other) {
  if (other.count == 0) return;
  if (into.count == 0) {
    into = other;
    return;
  }
  into.count = saturating_add(into.count, other.count);
  into.sum_mw = saturating_add(into.sum_mw, other.sum_mw);
  into.min = std::min(into.min, other.min);
  into.max = std::max(into.max, other.max);
}

void keep_min(std::optional<double>& into, const std::optional<double>& other) {
  if (other && (!into || *other < *into)) into = other;
}

void keep_max(std::optional<double>& into, const std::optional<double>& other) {
  if (other && (!into || *other > *into)) into = other;
}

void keep_last(std::optional<Reading>& into, const std::optional<Reading>& other) {
  if (other && (!into || earlier(*into, *other))) into = other;
}

// The two earliest and two latest of both sides' end readings: a selection, so any merge order
// gives the same ends.
void merge_ends(CounterEnds& into, const CounterEnds& other) {
  std::array<Reading, 8> all{};
  std::size_t n = 0;
  for (const CounterEnds* ends : {static_cast<const CounterEnds*>(&into), &other}) {
    for (const auto& r : readings(*ends)) all[n++] = r;
  }
  if (n == 0) return;
  // At most eight: an insertion sort, then one reading per ts (a device has one sample per ts, so
  // equal ts are the same reading).
  for (std::size_t i = 1; i < n; ++i) {
    for (std::size_t j = i; j > 0 && earlier(all[j], all[j - 1]); --j)
      std::swap(all[j], all[j - 1]);
  }
  std::size_t kept = 1;
  for (std::size_t i = 1; i < n; ++i) {
    if (all[i].ts != all[kept - 1].ts) all[kept++] = all[i];
  }
  n = kept;
  into.first = all[0];
  into.last = all[n - 1];
  into.second = n > 1 ? std::optional{all[1]} : std::nullopt;
  into.penultimate = n > 1 ? std::optional{all[n - 2]} : std::nullopt;
}

}  // namespace

EndReadings readings(const CounterEnds& ends) {
  EndReadings out;
  for (const auto* r : {&ends.first, &ends.second, &ends.penultimate, &ends.last}) {
    if (!*r) continue;
    if (out.size > 0 && (*r)->ts <= out.items[out.size - 1].ts) continue;  // already listed
    out.items[out.size++] = **r;
  }
  return out;
}

Timestamp base_bucket_start(Timestamp ts) {
  using FiveMinutes = std::chrono::duration<std::int64_t, std::ratio<300>>;
  static_assert(FiveMinutes{1} == kBaseBucketWidth);
  return std::chrono::floor<FiveMinutes>(ts);
}

BaseBucket from_sample(const Sample& sample) {
  BaseBucket bucket;
  bucket.start = base_bucket_start(sample.ts);
  bucket.samples = 1;
  for (std::size_t i = 0; i < kPowerFields.size(); ++i) {
    if (const auto& value = sample.*kPowerFields[i].member) {
      bucket.power[i] = {.count = 1, .sum_mw = to_milliwatts(*value), .min = *value, .max = *value};
    }
  }
  if (sample.battery_soc_pct) {
    bucket.soc = {.min = sample.battery_soc_pct,
                  .max = sample.battery_soc_pct,
                  .last = Reading{sample.ts, *sample.battery_soc_pct}};
  }
  for (std::size_t i = 0; i < kCounters.size(); ++i) {
    if (const auto& value = sample.*kCounters[i].member) {
      bucket.counters[i].first = bucket.counters[i].last = Reading{sample.ts, *value};
    }
  }
  return bucket;
}

void merge(BaseBucket& into, const BaseBucket& other) {
  assert(into.start == other.start);
  into.samples += other.samples;
  for (std::size_t i = 0; i < kPowerFieldCount; ++i) merge_power(into.power[i], other.power[i]);
  keep_min(into.soc.min, other.soc.min);
  keep_max(into.soc.max, other.soc.max);
  keep_last(into.soc.last, other.soc.last);
  for (std::size_t i = 0; i < kCounterCount; ++i) merge_ends(into.counters[i], other.counters[i]);
}

}  // namespace sungrow::rollup
