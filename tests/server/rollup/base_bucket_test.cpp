// Base buckets: construction, and merges that give identical results in any order.
#include "sungrow/server/rollup/base_bucket.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <map>
#include <random>

namespace sungrow::rollup {
namespace {

using namespace std::chrono_literals;

const Timestamp kT0 = *parse_rfc3339("2026-10-25T00:00:00Z");

Sample sample_at(Timestamp ts, double pv_w, double soc, double pv_total) {
  Sample s;
  s.device_id = "dev";
  s.ts = ts;
  s.pv_power_w = pv_w;
  s.battery_soc_pct = soc;
  s.pv_energy_total_kwh = pv_total;
  return s;
}

TEST(BaseBucket, FloorsToFiveMinutesUtc) {
  EXPECT_EQ(base_bucket_start(kT0 + 4min + 59s + 999ms), kT0);
  EXPECT_EQ(base_bucket_start(kT0 + 5min), kT0 + 5min);
  EXPECT_EQ(base_bucket_start(kT0 - 1ms), kT0 - 5min);
}

TEST(BaseBucket, FromSampleCountsOnlyPresentValues) {
  auto s = sample_at(kT0 + 7min, 1234.5, 55.0, 100.2);
  s.grid_power_w = -800;
  const auto b = from_sample(s);
  EXPECT_EQ(b.start, kT0 + 5min);
  EXPECT_EQ(b.samples, 1);
  EXPECT_EQ(b.power[0], (PowerStats{1, 1'234'500, 1234.5, 1234.5}));
  EXPECT_EQ(b.power[1].count, 0);  // load is null
  EXPECT_EQ(b.power[2].sum_mw, -800'000);
  EXPECT_EQ(b.soc.last, (Reading{kT0 + 7min, 55.0}));
  EXPECT_EQ(b.counters[0].first, (Reading{kT0 + 7min, 100.2}));
  EXPECT_FALSE(b.counters[1].first);  // load today is null
}

// Random samples with nulls and fractional watts over ~83 minutes (17 base buckets).
std::vector<Sample> random_samples(std::mt19937_64& rng, int n) {
  std::uniform_real_distribution<double> watts{-5000.0, 5000.0};
  std::uniform_int_distribution<int> coin{0, 4};
  std::vector<Sample> out;
  double total = 5000;
  for (int i = 0; i < n; ++i) {
    total += static_cast<double>(coin(rng)) / 10.0;
    auto s = sample_at(kT0 + i * 5s, watts(rng), watts(rng) / 100.0 + 50.0, total);
    s.load_power_w = watts(rng) + 0.001;
    s.grid_power_w = watts(rng);
    s.battery_power_w = watts(rng);
    if (coin(rng) == 0) s.pv_power_w.reset();
    if (coin(rng) == 0) s.battery_soc_pct.reset();
    if (coin(rng) == 0) s.pv_energy_total_kwh.reset();
    out.push_back(s);
  }
  return out;
}

using Buckets = std::map<Timestamp, BaseBucket>;

void add(Buckets& buckets, const BaseBucket& b) {
  auto [it, inserted] = buckets.try_emplace(b.start, b);
  if (!inserted) merge(it->second, b);
}

TEST(BaseBucket, MergeIsCommutative) {
  std::mt19937_64 rng{7};
  const auto samples = random_samples(rng, 60);  // all in kT0's bucket … the next few
  for (std::size_t i = 0; i + 1 < samples.size(); ++i) {
    auto a = from_sample(samples[i]);
    auto b = from_sample(samples[i + 1]);
    b.start = a.start;  // same bucket for the check
    auto ab = a;
    merge(ab, b);
    auto ba = b;
    merge(ba, a);
    ASSERT_EQ(ab, ba) << i;
  }
}

TEST(BaseBucket, AnyArrivalOrderAndGroupingGivesIdenticalBuckets) {
  std::mt19937_64 rng{20261025};
  auto samples = random_samples(rng, 1000);
  Buckets reference;
  for (const auto& s : samples) add(reference, from_sample(s));
  ASSERT_EQ(reference.size(), 17u);

  for (int round = 0; round < 50; ++round) {
    std::shuffle(samples.begin(), samples.end(), rng);
    // Associativity: merge random runs into partial buckets first, then the partials.
    Buckets result;
    std::uniform_int_distribution<std::size_t> run_length{1, 40};
    std::vector<BaseBucket> partials;
    for (std::size_t i = 0; i < samples.size();) {
      const auto end = std::min(samples.size(), i + run_length(rng));
      Buckets run;
      for (; i < end; ++i) add(run, from_sample(samples[i]));
      for (auto& [start, bucket] : run) partials.push_back(bucket);
    }
    std::shuffle(partials.begin(), partials.end(), rng);
    for (const auto& p : partials) add(result, p);
    ASSERT_EQ(result, reference) << "round " << round;
  }
}

// The most an in-range client can put into one bucket — a sample every millisecond for five
// minutes at the top of the power range — merged into a year: the sum stays exact.
TEST(BaseBucket, NoInRangeValueCanOverflowTheSums) {
  const auto full = [](Timestamp start) {
    BaseBucket b = from_sample(sample_at(start, 30'000.0, 50, 1));
    for (int i = 1; i < 300'000; i *= 2) {
      BaseBucket copy = b;
      copy.start = start;
      merge(b, copy);
    }
    return b;
  };
  const BaseBucket one = full(kT0);
  ASSERT_EQ(one.power[0].count, 524'288);  // more than 300,000: a margin
  BaseBucket year = one;
  for (int i = 1; i < 366 * 288; ++i) merge(year, one);
  const auto& pv = year.power[0];
  EXPECT_EQ(pv.count, 524'288LL * 366 * 288);
  EXPECT_EQ(pv.sum_mw, 524'288LL * 366 * 288 * 30'000'000LL);
  EXPECT_EQ(static_cast<double>(pv.sum_mw) / 1000.0 / static_cast<double>(pv.count), 30'000.0);
}

// Rows stored before ingest checked ranges may hold anything: sums saturate instead of wrapping
// into a negative average.
TEST(BaseBucket, OutOfRangeStoredValuesSaturateInsteadOfWrapping) {
  for (const double watts : {1e17, 9e15, 1e300}) {
    BaseBucket b = from_sample(sample_at(kT0, watts, 50, 1));
    for (int i = 0; i < 20; ++i) merge(b, from_sample(sample_at(kT0 + 1s, watts, 50, 1)));
    EXPECT_GT(b.power[0].sum_mw, 0) << watts;
    EXPECT_GT(static_cast<double>(b.power[0].sum_mw) / static_cast<double>(b.power[0].count), 0)
        << watts;
  }
  BaseBucket negative = from_sample(sample_at(kT0, -1e300, 50, 1));
  merge(negative, from_sample(sample_at(kT0 + 1s, -1e300, 50, 1)));
  EXPECT_EQ(negative.power[0].sum_mw, std::numeric_limits<std::int64_t>::min());
}

TEST(BaseBucket, ALateSampleUpdatesItsBucket) {
  Buckets buckets;
  for (int i = 1; i < 60; ++i) {
    add(buckets, from_sample(sample_at(kT0 + i * 5s, 100, 40 + i * 0.1, 500 + i * 0.1)));
  }
  const auto before = buckets.at(kT0);
  // The sample at kT0 arrives last (spooled on the edge during an outage).
  add(buckets, from_sample(sample_at(kT0, 4000, 10.0, 499.9)));
  const auto& after = buckets.at(kT0);
  EXPECT_EQ(after.samples, before.samples + 1);
  EXPECT_EQ(after.power[0].max, 4000);
  EXPECT_EQ(after.soc.min, 10.0);
  EXPECT_EQ(after.soc.last, before.soc.last);  // older than the bucket's latest reading
  EXPECT_EQ(after.counters[0].first, (Reading{kT0, 499.9}));
  EXPECT_EQ(after.counters[0].last, before.counters[0].last);
  EXPECT_EQ(buckets.size(), 1u);
}

}  // namespace
}  // namespace sungrow::rollup
