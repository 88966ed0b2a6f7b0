// Frame aggregation over synthetic 5-second data: counts, coverage, power stats and counter energy.
#include "sungrow/server/rollup/series.hpp"

#include <date/tz.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <tuple>

namespace sungrow::rollup {
namespace {

using namespace std::chrono_literals;

Timestamp at(const char* rfc3339) {
  return parse_rfc3339(rfc3339).value();
}

constexpr std::size_t kPv = 0;
constexpr std::size_t kLoad = 1;

// Registers resolve 0.1 kWh and truncate, like the inverter's.
double register_kwh(double kwh) {
  return std::floor(kwh * 10.0 + 1e-9) / 10.0;
}

struct Synth {
  double pv_w = 1200;
  double load_w = 600;
  double pv_total_kwh = 9812.4;
  double load_today_kwh = 0;
  std::function<void(Sample&)> tweak = [](Sample&) {};
};

// 5-second samples in [from, to); the load counter resets at local midnight of `zone`.
std::map<Timestamp, BaseBucket> simulate(Timestamp from, Timestamp to, Synth& s,
                                         const date::time_zone* zone) {
  std::map<Timestamp, BaseBucket> out;
  for (auto t = from; t < to; t += 5s) {
    Sample sample;
    sample.ts = t;
    sample.pv_power_w = s.pv_w;
    sample.load_power_w = s.load_w;
    sample.battery_soc_pct = 50.0;
    sample.pv_energy_total_kwh = register_kwh(s.pv_total_kwh);
    sample.load_energy_today_kwh = register_kwh(s.load_today_kwh);
    s.tweak(sample);
    const auto bucket = from_sample(sample);
    auto [it, inserted] = out.try_emplace(bucket.start, bucket);
    if (!inserted) merge(it->second, bucket);
    s.pv_total_kwh += s.pv_w * 5.0 / 3600.0 / 1000.0;
    const auto local_day = [&](Timestamp x) {
      return std::chrono::floor<std::chrono::days>(zone->to_local(x));
    };
    if (local_day(t + 5s) != local_day(t)) s.load_today_kwh = 0;
    s.load_today_kwh += s.load_w * 5.0 / 3600.0 / 1000.0;
  }
  return out;
}

std::vector<BaseBucket> in_order(const std::map<Timestamp, BaseBucket>& m) {
  std::vector<BaseBucket> v;
  for (const auto& [start, b] : m) v.push_back(b);
  return v;
}

TEST(Aggregate, AFullUtcDayOfFiveSecondSamples) {
  const auto* utc = find_zone("UTC").value();
  Synth synth;
  const auto base =
      in_order(simulate(at("2026-06-01T00:00:00Z"), at("2026-06-02T00:00:00Z"), synth, utc));
  const auto ranges =
      buckets(Frame::day, utc, at("2026-06-01T00:00:00Z"), at("2026-06-02T00:00:00Z"));
  const auto series = aggregate_series(base, ranges);
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(series[0].samples, 17'280);
  EXPECT_EQ(series[0].coverage, 1.0);
  EXPECT_EQ(series[0].power[kPv], (PowerSummary{1200.0, 1200.0, 1200.0}));
  EXPECT_EQ(series[0].soc, (SocSummary{50.0, 50.0, 50.0}));
  EXPECT_FALSE(series[0].power[2].avg);  // grid power never reported
  // Without a reading before the day, the first 5 s are unobserved: 28.8 kWh minus a register tick.
  EXPECT_NEAR(*series[0].energy_kwh[kPv], 28.8, 0.1 + 1e-9);
  EXPECT_FALSE(series[0].energy_kwh[2]);  // no grid import counter
  EXPECT_EQ(series[0].counter_anomalies, 0);
}

TEST(Aggregate, CounterEnergyEqualsTheIntegralOfConstantPower) {
  const auto* ams = find_zone("Europe/Amsterdam").value();
  Synth synth;
  // A day of history before the range seeds the carry, as a store's "previous bucket" would.
  const auto base = in_order(
      simulate(at("2026-06-01T00:00:00+02:00"), at("2026-06-05T00:00:00+02:00"), synth, ams));
  const auto ranges =
      buckets(Frame::day, ams, at("2026-06-02T00:00:00+02:00"), at("2026-06-05T00:00:00+02:00"));
  const auto series = aggregate_series(base, ranges);
  ASSERT_EQ(series.size(), 3u);
  double pv_sum = 0;
  for (const auto& day : series) {
    EXPECT_NEAR(*day.energy_kwh[kPv], 28.8, 0.1 + 1e-9) << day.range.local_start;
    EXPECT_NEAR(*day.energy_kwh[kLoad], 14.4, 0.1 + 1e-9) << day.range.local_start;
    pv_sum += *day.energy_kwh[kPv];
  }
  EXPECT_NEAR(pv_sum, 3 * 28.8, 0.1 + 1e-9);  // quantisation never accumulates across buckets

  const auto hours =
      aggregate_series(base, buckets(Frame::hour, ams, ranges[0].start, ranges[0].end));
  ASSERT_EQ(hours.size(), 24u);
  double hourly = 0;
  for (const auto& h : hours) {
    EXPECT_NEAR(*h.energy_kwh[kPv], 1.2, 0.1 + 1e-9);
    hourly += *h.energy_kwh[kPv];
  }
  EXPECT_NEAR(hourly, *series[0].energy_kwh[kPv], 1e-9);
}

TEST(Aggregate, DstDaysCountTheirRealLength) {
  const auto* ams = find_zone("Europe/Amsterdam").value();
  for (const auto& [day, next, samples, pv_kwh] :
       {std::tuple{"2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00", 16'560, 27.6},
        std::tuple{"2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00", 18'000, 30.0}}) {
    Synth synth;
    const auto base =
        in_order(simulate(at(day) - 1h, at(next), synth, ams));  // an hour before seeds the carry
    const auto series = aggregate_series(base, buckets(Frame::day, ams, at(day), at(next)));
    ASSERT_EQ(series.size(), 1u);
    EXPECT_EQ(series[0].samples, samples) << day;
    EXPECT_EQ(series[0].coverage, 1.0) << day;
    EXPECT_NEAR(*series[0].energy_kwh[kPv], pv_kwh, 0.1 + 1e-9) << day;
    EXPECT_EQ(series[0].range.local_start, std::string{day});
  }
}

TEST(Aggregate, CoverageReflectsMissingSamples) {
  const auto* utc = find_zone("UTC").value();
  Synth synth;
  auto base_map = simulate(at("2026-06-01T00:00:00Z"), at("2026-06-01T00:30:00Z"), synth, utc);
  const auto series = aggregate_series(
      in_order(base_map),
      buckets(Frame::hour, utc, at("2026-06-01T00:00:00Z"), at("2026-06-01T01:00:00Z")));
  ASSERT_EQ(series.size(), 1u);
  EXPECT_EQ(series[0].samples, 360);
  EXPECT_EQ(series[0].coverage, 0.5);
}

TEST(Aggregate, ResetsAndGlitchesNeverSpikeNorGoNegative) {
  const auto* utc = find_zone("UTC").value();
  const auto day = at("2026-06-02T00:00:00Z");
  const auto noon = at("2026-06-02T12:00:00Z");
  Synth synth;
  synth.tweak = [&](Sample& s) {
    if (s.ts >= noon) *s.pv_energy_total_kwh -= 9000.0;     // inverter replaced at noon
    if (s.ts == noon + 3h) s.pv_energy_total_kwh = 6553.5;  // one sentinel leaking through
    if (s.ts == noon + 4h) s.pv_energy_total_kwh = 0.0;     // one zero read
  };
  const auto base = in_order(simulate(day - 5min, day + 24h, synth, utc));
  const auto series = aggregate_series(base, buckets(Frame::day, utc, day, day + 24h));
  ASSERT_EQ(series.size(), 1u);
  // Each anomaly loses at most one 5-second step plus a register tick of energy.
  EXPECT_NEAR(*series[0].energy_kwh[kPv], 28.8, 0.5);
  EXPECT_GE(series[0].counter_anomalies, 3);

  const auto hours = aggregate_series(base, buckets(Frame::hour, utc, day, day + 24h));
  for (const auto& h : hours) {
    EXPECT_GE(*h.energy_kwh[kPv], 0.0) << h.range.local_start;
    EXPECT_LE(*h.energy_kwh[kPv], 1.3) << h.range.local_start;
  }
}

TEST(Aggregate, DailyLoadCounterResetsAtLocalMidnight) {
  const auto* kathmandu = find_zone("Asia/Kathmandu").value();
  Synth synth;
  const auto from = at("2026-06-01T00:00:00+05:45");
  const auto base = in_order(simulate(from, from + 72h, synth, kathmandu));
  const auto series =
      aggregate_series(base, buckets(Frame::day, kathmandu, from + 24h, from + 72h));
  ASSERT_EQ(series.size(), 2u);
  for (const auto& d : series) {
    EXPECT_NEAR(*d.energy_kwh[kLoad], 14.4, 0.1 + 1e-9) << d.range.local_start;
    EXPECT_EQ(d.counter_anomalies, 0);
  }
}

TEST(Aggregate, ALateSampleChangesOnlyItsFrameBucket) {
  const auto* kolkata = find_zone("Asia/Kolkata").value();
  const auto from = at("2026-06-01T00:00:00+05:30");
  Synth synth;
  synth.tweak = [&](Sample& s) {
    if (s.ts == from + 90min) s.pv_power_w.reset();
  };
  auto base_map = simulate(from, from + 3h, synth, kolkata);
  const auto ranges = buckets(Frame::hour, kolkata, from, from + 3h);
  const auto before = aggregate_series(in_order(base_map), ranges);

  Sample late;
  late.ts = from + 90min + 2s;  // between two regular polls
  late.pv_power_w = 5000;
  const auto bucket = from_sample(late);
  merge(base_map.at(bucket.start), bucket);
  const auto after = aggregate_series(in_order(base_map), ranges);

  ASSERT_EQ(after.size(), 3u);
  EXPECT_EQ(after[0], before[0]);
  EXPECT_EQ(after[2], before[2]);
  EXPECT_EQ(after[1].samples, before[1].samples + 1);
  EXPECT_EQ(after[1].power[kPv].max, 5000.0);
  EXPECT_EQ(after[1].power[kPv].avg, std::round((1200.0 * 719 + 5000) / 720 * 10) / 10);
}

TEST(Aggregate, EnergyOfAGapLandsInTheBucketAfterIt) {
  const auto* utc = find_zone("UTC").value();
  const auto day = at("2026-06-01T00:00:00Z");
  Synth synth;
  auto base_map = simulate(day, day + 4h, synth, utc);
  std::erase_if(base_map, [&](const auto& kv) {
    return kv.first >= day + 1h && kv.first < day + 2h;  // the edge was offline, nothing spooled
  });
  const auto hours = aggregate_series(in_order(base_map), buckets(Frame::hour, utc, day, day + 4h));
  ASSERT_EQ(hours.size(), 4u);
  EXPECT_FALSE(hours[1].energy_kwh[kPv]);
  EXPECT_EQ(hours[1].samples, 0);
  EXPECT_NEAR(*hours[2].energy_kwh[kPv], 2.4, 0.1 + 1e-9);
  EXPECT_NEAR(*hours[0].energy_kwh[kPv] + *hours[2].energy_kwh[kPv] + *hours[3].energy_kwh[kPv],
              4.8, 0.1 + 1e-9);
}

TEST(EnergyBalance, FollowsItsFormulasAndIsNullWithoutInputsOrDenominators) {
  SeriesBucket b;
  const auto set = [&](Counter c, std::optional<double> v) {
    b.energy_kwh[static_cast<std::size_t>(c)] = v;
  };
  set(Counter::pv, 7.4);
  set(Counter::grid_import, 3.0);
  set(Counter::grid_export, 1.2);
  set(Counter::battery_charge, 2.5);
  set(Counter::battery_discharge, 2.4);
  auto e = energy_balance(b);
  EXPECT_EQ(e.consumption_kwh, 9.1);  // 3.0 + 7.4 + 2.4 − 1.2 − 2.5
  EXPECT_EQ(e.self_consumed_pv_kwh, 6.2);
  EXPECT_EQ(e.self_sufficiency_pct, 67.03);  // 100·(1 − 3.0/9.1)
  EXPECT_EQ(e.self_consumption_pct, 83.78);  // 100·6.2/7.4
  set(Counter::pv, 0.0);
  set(Counter::grid_export, 0.0);
  e = energy_balance(b);
  EXPECT_EQ(e.self_consumed_pv_kwh, 0.0);
  EXPECT_FALSE(e.self_consumption_pct);    // no PV: no denominator
  EXPECT_EQ(e.self_sufficiency_pct, 0.0);  // 3.0 + 2.4 − 2.5 = 2.9 consumed, all of 3.0 imported
  set(Counter::battery_charge, std::nullopt);
  e = energy_balance(b);
  EXPECT_FALSE(e.consumption_kwh);
  EXPECT_FALSE(e.self_sufficiency_pct);
  EXPECT_EQ(e.self_consumed_pv_kwh, 0.0);
}

}  // namespace
}  // namespace sungrow::rollup
