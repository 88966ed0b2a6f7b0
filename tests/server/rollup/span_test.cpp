// Spans: a series read through precomputed hour/day spans equals the one read from base buckets,
// for random data across DST changes and half-/quarter-hour zones; plan_spans and append.
#include "sungrow/server/rollup/span.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "random_series.hpp"
#include "sungrow/server/rollup/series.hpp"

namespace sungrow::rollup {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

Timestamp utc(int y, unsigned m, unsigned d, int h = 0, int min = 0) {
  return Timestamp{std::chrono::duration_cast<milliseconds>(
      (date::sys_days{date::year{y} / date::month{m} / date::day{d}} + std::chrono::hours{h} +
       std::chrono::minutes{min})
          .time_since_epoch())};
}

const date::time_zone* zone(const char* name) {
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

void expect_same_series(const std::vector<SeriesBucket>& spans,
                        const std::vector<SeriesBucket>& base, const std::string& what) {
  ASSERT_EQ(spans.size(), base.size()) << what;
  for (std::size_t i = 0; i < spans.size(); ++i) {
    const auto& a = spans[i];
    const auto& b = base[i];
    SCOPED_TRACE(what + " bucket " + a.range.local_start);
    ASSERT_EQ(a.range, b.range);
    EXPECT_EQ(a.samples, b.samples);
    EXPECT_EQ(a.coverage, b.coverage);
    EXPECT_EQ(a.power, b.power);
    EXPECT_EQ(a.soc, b.soc);
    EXPECT_EQ(a.counter_anomalies, b.counter_anomalies);
    for (std::size_t c = 0; c < kCounterCount; ++c) {
      ASSERT_EQ(a.energy_kwh[c].has_value(), b.energy_kwh[c].has_value()) << c;
      if (a.energy_kwh[c]) {
        EXPECT_NEAR(*a.energy_kwh[c], *b.energy_kwh[c], 1e-9) << c;
      }
    }
  }
}

TEST(Spans, AggregatingThroughSpansEqualsAggregatingBaseBuckets) {
  const char* zones[] = {"UTC", "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu",
                         "America/St_Johns"};
  // Each window holds the zones' DST changes: spring (St John's Mar 8, Berlin Mar 29) and
  // autumn (Berlin Oct 25, St John's Nov 1).
  const std::pair<Timestamp, Timestamp> windows[] = {
      {utc(2026, 3, 1, 7, 35), utc(2026, 4, 6, 3)},
      {utc(2026, 10, 18, 13, 5), utc(2026, 11, 9, 21)},
  };
  std::uint32_t seed = 1;
  std::size_t compared = 0;
  std::int64_t anomalies = 0;
  for (const auto& [from, to] : windows) {
    for (const char* name : zones) {
      const auto* tz = zone(name);
      const Stored stored(test::random_samples(seed++, "dev", from, to, tz));
      ASSERT_GT(stored.base.size(), 1000U);
      for (const auto frame : {Frame::five_minutes, Frame::hour, Frame::day, Frame::month}) {
        // The whole window, and a part starting mid-data (so the carry comes from before it).
        for (const auto& [q_from, q_to] :
             {std::pair{from - 2h, to + 1h}, std::pair{from + 3 * 24h + 17min, to - 5 * 24h}}) {
          const auto ranges = buckets(frame, tz, q_from, q_to);
          ASSERT_FALSE(ranges.empty());
          const auto base =
              aggregate_series(stored.base_range(ranges.front().start, ranges.back().end), ranges);
          const auto via_spans = aggregate_spans(stored.pieces(ranges), ranges);
          expect_same_series(via_spans, base,
                             std::string(name) + " " + std::string(to_string(frame)));
          if (::testing::Test::HasFatalFailure()) return;
          compared += base.size();
          for (const auto& b : base) anomalies += b.counter_anomalies;
        }
      }
    }
  }
  EXPECT_GT(compared, 50'000U);
  EXPECT_GT(anomalies, 0) << "the data must exercise resets and glitches";
}

TEST(Spans, AppendingPiecesEqualsSummarisingThemAtOnce) {
  const auto from = utc(2026, 6, 1);
  const Stored stored(test::random_samples(99, "dev", from, from + 24h, zone("Europe/Berlin")));
  std::vector<Span> pieces;
  for (const auto& [start, bucket] : stored.base) pieces.push_back(to_span(bucket));
  const auto whole = summarize(pieces, from, from + 24h);
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->samples,
            static_cast<std::int64_t>(
                test::random_samples(99, "dev", from, from + 24h, zone("UTC")).size()));
  // Summarising the hours into the day gives the same day, counters included (up to float
  // summation order).
  const auto& day = stored.days.at(from);
  EXPECT_EQ(day.samples, whole->samples);
  EXPECT_EQ(day.power, whole->power);
  EXPECT_EQ(day.soc, whole->soc);
  for (std::size_t c = 0; c < kCounterCount; ++c) {
    EXPECT_EQ(day.counters[c].first, whole->counters[c].first);
    EXPECT_EQ(day.counters[c].last, whole->counters[c].last);
    EXPECT_EQ(day.counters[c].inner_anomalies, whole->counters[c].inner_anomalies);
    EXPECT_NEAR(day.counters[c].inner_kwh, whole->counters[c].inner_kwh, 1e-9);
  }
  EXPECT_FALSE(summarize({}, from, from + 1h));
}

TEST(Spans, PlanUsesDaysAndHoursInsideBucketsAndBaseBucketsAtUnalignedEdges) {
  using I = SpanInterval;
  // A UTC day: one day span.
  auto plan = plan_spans(buckets(Frame::day, zone("UTC"), utc(2026, 3, 1), utc(2026, 3, 2)));
  EXPECT_EQ(plan, (std::vector<I>{{SpanLevel::day, utc(2026, 3, 1), utc(2026, 3, 2)}}));
  // A Berlin day (23:00Z–23:00Z): no UTC day fits, 24 hours do.
  plan = plan_spans(
      buckets(Frame::day, zone("Europe/Berlin"), utc(2026, 2, 28, 23), utc(2026, 3, 1, 23)));
  EXPECT_EQ(plan, (std::vector<I>{{SpanLevel::hour, utc(2026, 2, 28, 23), utc(2026, 3, 1, 23)}}));
  // A Kathmandu (+05:45) day: base buckets to the first whole hour, hours, base buckets.
  plan = plan_spans(buckets(Frame::day, zone("Asia/Kathmandu"), utc(2026, 2, 28, 18, 15),
                            utc(2026, 3, 1, 18, 15)));
  EXPECT_EQ(plan,
            (std::vector<I>{{SpanLevel::base, utc(2026, 2, 28, 18, 15), utc(2026, 2, 28, 19)},
                            {SpanLevel::hour, utc(2026, 2, 28, 19), utc(2026, 3, 1, 18)},
                            {SpanLevel::base, utc(2026, 3, 1, 18), utc(2026, 3, 1, 18, 15)}}));
  // A Kolkata (+05:30) hour: base buckets only.
  plan = plan_spans(
      buckets(Frame::hour, zone("Asia/Kolkata"), utc(2026, 3, 1, 0, 30), utc(2026, 3, 1, 1, 30)));
  EXPECT_EQ(plan,
            (std::vector<I>{{SpanLevel::base, utc(2026, 3, 1, 0, 30), utc(2026, 3, 1, 1, 30)}}));
  // A Berlin month: hours up to the first UTC midnight, days, hours after the last one.
  plan = plan_spans(buckets(Frame::month, zone("Europe/Berlin"), utc(2026, 4, 1), utc(2026, 4, 2)));
  EXPECT_EQ(plan, (std::vector<I>{{SpanLevel::hour, utc(2026, 3, 31, 22), utc(2026, 4, 1)},
                                  {SpanLevel::day, utc(2026, 4, 1), utc(2026, 4, 30)},
                                  {SpanLevel::hour, utc(2026, 4, 30), utc(2026, 4, 30, 22)}}));
}

TEST(Spans, ABaseBucketSpanCountsItsInnerStep) {
  Sample a;
  a.device_id = "d";
  a.ts = utc(2026, 3, 1, 0, 0);
  a.pv_energy_total_kwh = 10.0;
  Sample b = a;
  b.ts += 60s;
  b.pv_energy_total_kwh = 10.1;
  auto bucket = from_sample(a);
  merge(bucket, from_sample(b));
  const auto span = to_span(bucket);
  EXPECT_EQ(span.end - span.start, kBaseBucketWidth);
  EXPECT_NEAR(span.counters[0].inner_kwh, 0.1, 1e-12);
  EXPECT_EQ(span.counters[0].first->value, 10.0);
  EXPECT_EQ(span.counters[0].last->value, 10.1);
  EXPECT_FALSE(span.counters[1].first);
}

}  // namespace
}  // namespace sungrow::rollup
