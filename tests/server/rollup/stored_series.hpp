// What a store holds for a set of samples (base buckets, hour and day spans summarised from them)
// and how it answers a series, built in memory for the rollup's property tests.
#pragma once

#include <date/tz.h>

#include <chrono>
#include <iterator>
#include <map>
#include <span>
#include <vector>

#include "sungrow/server/rollup/base_bucket.hpp"
#include "sungrow/server/rollup/frames.hpp"
#include "sungrow/server/rollup/span.hpp"

namespace sungrow::rollup::test {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

inline Timestamp utc(int y, unsigned m, unsigned d, int h = 0, int min = 0) {
  return Timestamp{std::chrono::duration_cast<milliseconds>(
      (date::sys_days{date::year{y} / date::month{m} / date::day{d}} + std::chrono::hours{h} +
       std::chrono::minutes{min})
          .time_since_epoch())};
}

inline const date::time_zone* zone(const char* name) {
  return find_zone(name).value();
}

// What a store holds for a set of samples: base buckets, and hour/day spans summarised from them.
struct Stored {
  std::map<Timestamp, BaseBucket> base;
  std::map<Timestamp, Span> hours;
  std::map<Timestamp, Span> days;

  explicit Stored(const std::vector<Sample>& samples) {
    for (const auto& s : samples) {
      const auto bucket = from_sample(s);
      auto [it, fresh] = base.try_emplace(bucket.start, bucket);
      if (!fresh) merge(it->second, bucket);
    }
    std::map<Timestamp, std::vector<Span>> by_hour;
    for (const auto& [start, bucket] : base) {
      by_hour[level_floor(SpanLevel::hour, start)].push_back(to_span(bucket));
    }
    for (const auto& [start, pieces] : by_hour)
      hours[start] = *summarize(pieces, start, start + 1h);
    std::map<Timestamp, std::vector<Span>> by_day;
    for (const auto& [start, span] : hours) {
      by_day[level_floor(SpanLevel::day, start)].push_back(span);
    }
    for (const auto& [start, pieces] : by_day) days[start] = *summarize(pieces, start, start + 24h);
  }

  // As SampleStore::base_buckets: the last bucket before `from`, then [from, to).
  std::vector<BaseBucket> base_range(Timestamp from, Timestamp to) const {
    std::vector<BaseBucket> out;
    auto it = base.lower_bound(from);
    if (it != base.begin()) out.push_back(std::prev(it)->second);
    for (; it != base.end() && it->first < to; ++it) out.push_back(it->second);
    return out;
  }

  // As SampleStore::series_spans.
  std::vector<Span> pieces(std::span<const BucketRange> ranges) const {
    std::vector<Span> out;
    auto it = base.lower_bound(ranges.front().start);
    if (it != base.begin()) out.push_back(to_span(std::prev(it)->second));
    for (const auto& interval : plan_spans(ranges)) {
      if (interval.level == SpanLevel::base) {
        for (auto b = base.lower_bound(interval.from); b != base.end() && b->first < interval.to;
             ++b) {
          out.push_back(to_span(b->second));
        }
        continue;
      }
      const auto& level = interval.level == SpanLevel::hour ? hours : days;
      for (auto s = level.lower_bound(interval.from); s != level.end() && s->first < interval.to;
           ++s) {
        out.push_back(s->second);
      }
    }
    return out;
  }
};

}  // namespace sungrow::rollup::test
