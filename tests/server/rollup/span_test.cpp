// Spans: a series read through precomputed hour/day spans equals the one read from base buckets,
// for random data across DST changes and half-/quarter-hour zones; plan_spans and append.
#include "sungrow/server/rollup/span.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "random_series.hpp"
#include "stored_series.hpp"
#include "sungrow/server/rollup/series.hpp"

namespace sungrow::rollup {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using test::Stored;
using test::utc;
using test::zone;

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
    const auto& a = day.counters[c];
    const auto& b = whole->counters[c];
    EXPECT_EQ(a.first, b.first);
    EXPECT_EQ(a.second, b.second);
    EXPECT_EQ(a.penultimate, b.penultimate);
    EXPECT_EQ(a.last, b.last);
    for (std::size_t branch = 0; branch < 2; ++branch) {
      EXPECT_EQ(a.after_head[branch].anomalies, b.after_head[branch].anomalies);
      EXPECT_EQ(a.after_head[branch].ends_pending, b.after_head[branch].ends_pending);
      EXPECT_NEAR(a.after_head[branch].kwh, b.after_head[branch].kwh, 1e-9);
    }
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
  EXPECT_EQ(span.counters[0].first->value, 10.0);
  EXPECT_EQ(span.counters[0].second->value, 10.1);
  EXPECT_EQ(span.counters[0].last->value, 10.1);
  EXPECT_FALSE(span.counters[1].first);
  // Carried over by a chain that arrives at 9.9, the span adds both steps.
  CounterChain chain{.carry = Reading{a.ts - 60s, 9.9}, .pending = std::nullopt};
  const auto added = apply(chain, span.counters[0], kCounters[0]);
  EXPECT_NEAR(added.kwh, 0.2, 1e-12);
  EXPECT_EQ(added.anomalies, 0);
  EXPECT_EQ(chain.carry, span.counters[0].last);
}

}  // namespace
}  // namespace sungrow::rollup
