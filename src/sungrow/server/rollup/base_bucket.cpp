// Building and merging base buckets.
#include "sungrow/server/rollup/base_bucket.hpp"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <tuple>

namespace sungrow::rollup {
namespace {

std::int64_t to_milliwatts(double watts) {
  return static_cast<std::int64_t>(std::llround(watts * 1000.0));
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
  into.count += other.count;
  into.sum_mw += other.sum_mw;
  into.min = std::min(into.min, other.min);
  into.max = std::max(into.max, other.max);
}

void keep_min(std::optional<double>& into, const std::optional<double>& other) {
  if (other && (!into || *other < *into)) into = other;
}

void keep_max(std::optional<double>& into, const std::optional<double>& other) {
  if (other && (!into || *other > *into)) into = other;
}

void keep_first(std::optional<Reading>& into, const std::optional<Reading>& other) {
  if (other && (!into || earlier(*other, *into))) into = other;
}

void keep_last(std::optional<Reading>& into, const std::optional<Reading>& other) {
  if (other && (!into || earlier(*into, *other))) into = other;
}

}  // namespace

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
  for (std::size_t i = 0; i < kCounterCount; ++i) {
    keep_first(into.counters[i].first, other.counters[i].first);
    keep_last(into.counters[i].last, other.counters[i].last);
  }
}

}  // namespace sungrow::rollup
