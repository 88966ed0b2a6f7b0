// Energy around glitched counter readings: an isolated implausible reading (a 0, a 0xFFFF-derived
// value, a spike) costs no energy. Every hour, day and month total equals the series in which that
// reading is simply missing, through base buckets and through spans alike; the whole range equals
// the glitch-free truth; and a real reset is still a reset.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "stored_series.hpp"
#include "sungrow/server/rollup/series.hpp"

namespace sungrow::rollup {
namespace {

using namespace std::chrono_literals;
using test::Stored;
using test::utc;
using test::zone;

// Five days of a household polled every 5 s, with counters quantised to 0.1 kWh like the
// inverter's: lifetime totals that only grow, and a daily load counter restarting at midnight.
std::vector<Sample> clean_days(std::uint32_t seed, Timestamp from, int days,
                               const date::time_zone* tz) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  std::array<double, 5> totals{12'345.6, 2'000.0, 3'000.0, 400.0, 500.0};
  const std::array<double, 5> max_kw{4, 3, 3, 2.5, 2.5};
  double load_today = 0;
  const auto local_day = [&](Timestamp ts) {
    return date::floor<date::days>(tz->to_local(ts)).time_since_epoch().count();
  };
  std::vector<Sample> out;
  auto day = local_day(from);
  for (Timestamp ts = from; ts < from + std::chrono::days(days); ts += 5s) {
    if (local_day(ts) != day) {
      day = local_day(ts);
      load_today = 0;
    }
    const double hours = 5.0 / 3600.0;
    for (std::size_t i = 0; i < totals.size(); ++i) totals[i] += unit(rng) * max_kw[i] * hours;
    load_today += unit(rng) * 3 * hours;
    const auto tenth = [](double v) { return std::floor(v * 10.0) / 10.0; };
    Sample s;
    s.device_id = "dev";
    s.ts = ts;
    s.seq = static_cast<std::int64_t>(out.size()) + 1;
    s.pv_power_w = std::round(unit(rng) * 4000);
    s.pv_energy_total_kwh = tenth(totals[0]);
    s.grid_import_total_kwh = tenth(totals[1]);
    s.grid_export_total_kwh = tenth(totals[2]);
    s.battery_charge_total_kwh = tenth(totals[3]);
    s.battery_discharge_total_kwh = tenth(totals[4]);
    s.load_energy_today_kwh = tenth(load_today);
    out.push_back(std::move(s));
  }
  return out;
}

// The counters a glitch can hit, by their Sample member.
constexpr std::array kCounterMembers{
    &Sample::pv_energy_total_kwh,         &Sample::grid_import_total_kwh,
    &Sample::grid_export_total_kwh,       &Sample::battery_charge_total_kwh,
    &Sample::battery_discharge_total_kwh, &Sample::load_energy_today_kwh};

struct Glitched {
  std::vector<Sample> with_glitches;
  std::vector<Sample> with_gaps;  // the same readings missing instead
  int glitches = 0;
};

// `count` isolated glitches (no two within three samples of each other, so each has good
// neighbours) on random counters: 0, 6553.5 (a 0xFFFF word), or a spike far above rated power.
Glitched glitch(const std::vector<Sample>& clean, std::uint32_t seed, int count) {
  std::mt19937 rng(seed);
  Glitched out{clean, clean, 0};
  std::set<std::size_t> used;
  while (out.glitches < count) {
    const std::size_t at = 1 + rng() % (clean.size() - 2);
    bool near = false;
    for (const auto u : used) near = near || (u + 3 > at && at + 3 > u);
    if (near) continue;
    used.insert(at);
    const auto member = kCounterMembers[rng() % kCounterMembers.size()];
    const double truth = *(clean[at].*member);
    const double values[] = {0.0, 6553.5, truth + 5000.0, truth * 10.0 + 1000.0};
    out.with_glitches[at].*member = values[rng() % 4];
    out.with_gaps[at].*member = std::nullopt;
    ++out.glitches;
  }
  return out;
}

std::vector<SeriesBucket> series(const Stored& stored, Frame frame, const date::time_zone* tz,
                                 Timestamp from, Timestamp to, bool through_spans) {
  const auto ranges = buckets(frame, tz, from, to);
  if (through_spans) return aggregate_spans(stored.pieces(ranges), ranges);
  return aggregate_series(stored.base_range(from, to), ranges);
}

double total(const std::vector<SeriesBucket>& buckets, std::size_t counter) {
  double sum = 0;
  for (const auto& b : buckets) sum += b.energy_kwh[counter].value_or(0.0);
  return sum;
}

class GlitchProperty : public ::testing::TestWithParam<const char*> {};

TEST_P(GlitchProperty, IsolatedGlitchesLeaveEveryTotalAsIfTheReadingWereMissing) {
  const auto* tz = zone(GetParam());
  // Five days across the end of daylight saving time in Europe (2026-10-25).
  const Timestamp from = utc(2026, 10, 22);
  const Timestamp to = utc(2026, 10, 27);
  const auto clean = clean_days(7, from, 5, tz);
  const Stored truth(clean);
  for (const int count : {1, 5, 40}) {
    for (std::uint32_t seed = 1; seed <= 3; ++seed) {
      const auto g = glitch(clean, seed * 101 + static_cast<std::uint32_t>(count), count);
      const Stored glitched(g.with_glitches);
      const Stored gapped(g.with_gaps);
      for (const auto frame : {Frame::hour, Frame::day, Frame::month}) {
        for (const bool spans : {false, true}) {
          SCOPED_TRACE(std::string(GetParam()) + " frame " + std::to_string(int(frame)) +
                       (spans ? " spans" : " base") + " glitches " + std::to_string(count) +
                       " seed " + std::to_string(seed));
          const auto got = series(glitched, frame, tz, from, to, spans);
          const auto expected = series(gapped, frame, tz, from, to, spans);
          ASSERT_EQ(got.size(), expected.size());
          std::int64_t anomalies = 0;
          for (std::size_t i = 0; i < got.size(); ++i) {
            EXPECT_EQ(got[i].energy_kwh, expected[i].energy_kwh) << got[i].range.local_start;
            anomalies += got[i].counter_anomalies;
          }
          // A glitch inside a base bucket is never seen; one at a bucket's edge is one anomaly.
          EXPECT_LE(anomalies, g.glitches);
          // And the whole range gives exactly the energy of the glitch-free truth.
          const auto real = series(truth, frame, tz, from, to, spans);
          for (std::size_t c = 0; c < kCounterCount; ++c) {
            EXPECT_NEAR(total(got, c), total(real, c), 1e-6) << kCounters[c].energy_name;
          }
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Zones, GlitchProperty,
                         ::testing::Values("UTC", "Europe/Amsterdam", "Asia/Kolkata"));

// The case the old arithmetic lost: one lifetime reading of 0 between two good ones, at the end of
// an hour. The energy from the last good reading to the next one is counted, in full.
TEST(Glitches, AZeroBetweenGoodReadingsLosesNothing) {
  const Timestamp t0 = utc(2026, 3, 1);
  std::vector<Sample> samples;
  for (int i = 0; i < 3 * 720; ++i) {  // three hours, 5 s apart, 1.2 kW steady
    Sample s;
    s.device_id = "dev";
    s.ts = t0 + i * 5s;
    s.pv_energy_total_kwh = std::floor((1000.0 + 1.2 * i * 5.0 / 3600.0) * 10.0) / 10.0;
    samples.push_back(s);
  }
  auto glitched = samples;
  glitched[719].pv_energy_total_kwh = 0.0;  // the last reading of the first hour
  const Stored stored(glitched);
  const auto ranges = buckets(Frame::hour, zone("UTC"), t0, t0 + 3h);
  const auto result = aggregate_series(stored.base_range(t0, t0 + 3h), ranges);
  ASSERT_EQ(result.size(), 3U);
  const double first = *samples.front().pv_energy_total_kwh;
  const double last = *samples.back().pv_energy_total_kwh;
  EXPECT_NEAR(total(result, 0), last - first, 1e-9);
  EXPECT_EQ(result[0].counter_anomalies + result[1].counter_anomalies, 1);
  // Through spans too.
  const auto via_spans = aggregate_spans(stored.pieces(ranges), ranges);
  EXPECT_NEAR(total(via_spans, 0), last - first, 1e-9);
}

// Two implausible readings in a row are not a glitch: the counter really moved (a reset, a
// replaced inverter), and counting resumes from the new level.
TEST(Glitches, APersistentDropIsAResetNotAGlitch) {
  const Timestamp t0 = utc(2026, 3, 1);
  std::vector<Sample> samples;
  const std::vector<double> values{5000.0, 5000.1, 5000.2, 0.0, 0.1, 0.2, 0.3};
  for (std::size_t i = 0; i < values.size(); ++i) {
    Sample s;
    s.device_id = "dev";
    s.ts = t0 + static_cast<int>(i) * 5min;  // one base bucket each
    s.pv_energy_total_kwh = values[i];
    samples.push_back(s);
  }
  const Stored stored(samples);
  const auto ranges = buckets(Frame::hour, zone("UTC"), t0, t0 + 1h);
  const auto result = aggregate_series(stored.base_range(t0, t0 + 1h), ranges);
  ASSERT_EQ(result.size(), 1U);
  // 0.2 before the reset, 0.3 after it (0.0 → 0.1 → 0.2 → 0.3); the reset itself: one anomaly.
  EXPECT_NEAR(*result[0].energy_kwh[0], 0.5, 1e-9);
  EXPECT_EQ(result[0].counter_anomalies, 1);
}

}  // namespace
}  // namespace sungrow::rollup
