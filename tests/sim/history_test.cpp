// Unit tests of the history generator: the grid, seq, counters and midnight resets, validity.
#include "sungrow/sim/history.hpp"

#include <date/tz.h>
#include <gtest/gtest.h>

#include <vector>

#include "sungrow/core/sample_json.hpp"
#include "sungrow/server/ingest/ingest.hpp"

namespace sungrow::sim {
namespace {

using namespace std::chrono_literals;

HistoryOptions options(const char* end, int days, std::chrono::seconds step,
                       std::string tz = "Europe/Amsterdam") {
  HistoryOptions o;
  o.device_id = "sh4-history";
  o.end = parse_rfc3339(end).value();  // throws (fails the test) on a typo
  o.days = days;
  o.step = step;
  o.tz = std::move(tz);
  return o;
}

std::vector<Sample> generate(const HistoryOptions& o) {
  auto gen = HistoryGenerator::create(o);
  EXPECT_TRUE(gen.has_value()) << (gen ? "" : gen.error().message);
  std::vector<Sample> out;
  if (!gen) return out;
  while (auto s = gen.value().next()) out.push_back(std::move(s.value()));
  EXPECT_EQ(gen.value().warnings(), 0U);
  return out;
}

const std::vector<std::optional<double> Sample::*> kTotals{
    &Sample::pv_energy_total_kwh,         &Sample::grid_import_total_kwh,
    &Sample::grid_export_total_kwh,       &Sample::battery_charge_total_kwh,
    &Sample::battery_discharge_total_kwh,
};
const std::vector<std::optional<double> Sample::*> kDailies{
    &Sample::pv_energy_today_kwh,         &Sample::grid_import_today_kwh,
    &Sample::grid_export_today_kwh,       &Sample::battery_charge_today_kwh,
    &Sample::battery_discharge_today_kwh, &Sample::load_energy_today_kwh,
};

TEST(HistoryGenerator, CountIsDaysTimesStepsPerDayOnTheStepGridWithSeqOneToN) {
  // An unaligned end: the grid still holds exactly days × 86400 / step points before it.
  const auto o = options("2026-06-20T10:00:30.500Z", 2, 60s);
  const auto samples = generate(o);
  ASSERT_EQ(samples.size(), 2U * 86'400 / 60);
  EXPECT_GE(samples.front().ts, o.end - std::chrono::days{2});
  EXPECT_LT(samples.back().ts, o.end);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const auto& s = samples[i];
    EXPECT_EQ(s.seq, static_cast<std::int64_t>(i) + 1);
    EXPECT_EQ(s.device_id, "sh4-history");
    EXPECT_EQ(unix_millis(s.ts) % 60'000, 0) << format_rfc3339(s.ts);
    if (i > 0) {
      EXPECT_EQ(s.ts - samples[i - 1].ts, 60s) << i;
    }
  }
}

TEST(HistoryGenerator, CountForOtherSteps) {
  for (const auto step : {5s, 300s, 3600s}) {
    auto gen = HistoryGenerator::create(options("2026-01-10T00:00:00Z", 1, step));
    ASSERT_TRUE(gen.has_value());
    EXPECT_EQ(gen.value().total(), static_cast<std::size_t>(86'400 / step.count()));
    std::size_t n = 0;
    while (gen.value().next()) ++n;
    EXPECT_EQ(n, gen.value().total());
    EXPECT_FALSE(gen.value().next().has_value());
  }
}

TEST(HistoryGenerator, DeterministicInItsOptions) {
  const auto o = options("2026-06-20T00:00:00Z", 1, 300s);
  EXPECT_EQ(generate(o), generate(o));
  auto other_seed = o;
  other_seed.seed = 2;
  EXPECT_NE(generate(o), generate(other_seed));
}

// Windows around DST changes: a 23-hour day (Amsterdam, spring) and a 25-hour one in a half-hour
// zone (Adelaide, autumn). The 60 s grid lands on every local midnight in both.
class HistoryCounters : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

TEST_P(HistoryCounters, TotalsNeverDropAndDailiesResetOnceAtEachLocalMidnight) {
  const auto [tz_name, end] = GetParam();
  const auto samples = generate(options(end, 4, 60s, tz_name));
  ASSERT_EQ(samples.size(), 4U * 1440);
  const auto* tz = date::locate_zone(tz_name);
  const auto local_day = [&](Timestamp t) {
    return date::floor<date::days>(tz->to_local(t)).time_since_epoch().count();
  };

  std::size_t day_changes = 0;
  std::vector<std::size_t> drops(kDailies.size(), 0);
  for (std::size_t i = 1; i < samples.size(); ++i) {
    const auto& prev = samples[i - 1];
    const auto& cur = samples[i];
    for (const auto member : kTotals) {
      ASSERT_TRUE((cur.*member).has_value());
      EXPECT_GE((cur.*member).value(), (prev.*member).value()) << format_rfc3339(cur.ts);
    }
    const bool new_day = local_day(cur.ts) != local_day(prev.ts);
    if (new_day) {
      ++day_changes;
      // Local midnight itself is on the grid: the counters were reset at that very instant.
      const auto midnight = date::floor<date::days>(tz->to_local(cur.ts));
      EXPECT_EQ(tz->to_local(cur.ts), midnight) << format_rfc3339(cur.ts);
    }
    for (std::size_t k = 0; k < kDailies.size(); ++k) {
      const auto member = kDailies[k];
      ASSERT_TRUE((cur.*member).has_value());
      const double before = (prev.*member).value();
      const double now = (cur.*member).value();
      if (new_day) {
        EXPECT_EQ(now, 0.0) << format_rfc3339(cur.ts) << " field " << k;
        if (now < before) ++drops[k];
      } else {
        // Including the derived load energy: the balance of five counters steps back when an
        // export or charge tick lands first, which LoadEnergyHold holds, as on the live edge.
        EXPECT_GE(now, before) << format_rfc3339(cur.ts) << " field " << k;
      }
    }
  }
  // Four times 24 h span 4 local midnights on the short day's side, 3 on the long day's.
  const auto expected = local_day(samples.back().ts) - local_day(samples.front().ts);
  EXPECT_EQ(day_changes, static_cast<std::size_t>(expected));
  EXPECT_GE(day_changes, 3U);
  // PV and load are never 0 over a whole day, so they show every reset; the others may stay 0.
  EXPECT_EQ(drops[0], day_changes);  // pv
  EXPECT_EQ(drops[5], day_changes);  // load
}

INSTANTIATE_TEST_SUITE_P(
    DstDays, HistoryCounters,
    ::testing::Values(
        // 2026-03-29 has 23 hours in Amsterdam; the window is 03-27 00:00 → 03-31 00:00 local.
        std::pair{"Europe/Amsterdam", "2026-03-31T00:00:00+02:00"},
        // 2026-04-05 has 25 hours in Adelaide (+10:30 → +09:30).
        std::pair{"Australia/Adelaide", "2026-04-07T00:00:00+09:30"}));

TEST(HistoryGenerator, EverySampleIsOneTheServerAccepts) {
  const auto o = options("2026-06-20T00:00:00Z", 1, 60s);
  const auto samples = generate(o);
  ASSERT_EQ(samples.size(), 1440U);
  for (const auto& s : samples) {
    // The fields the series are built from are all read (no sentinel, nothing out of range).
    EXPECT_TRUE(s.pv_power_w && s.load_power_w && s.grid_power_w && s.battery_power_w &&
                s.battery_soc_pct && s.load_energy_today_kwh)
        << to_json_text(s);
    EXPECT_EQ(s.grid_power_source, GridPowerSource::meter);
  }
  const auto parsed =
      ingest::parse_ingest(batch_to_json_text(samples), o.device_id, {}, samples.back().ts);
  ASSERT_TRUE(parsed.has_value()) << (parsed ? "" : parsed.error().body);
  EXPECT_EQ(parsed.value().received, 1440U);
  EXPECT_EQ(parsed.value().duplicates, 0U);
  EXPECT_EQ(parsed.value().samples, samples);  // the wire round trip loses nothing
}

TEST(HistoryGenerator, ReadImageHoldsEveryRegisterOfTheMap) {
  auto household =
      Household::create({}, 1, parse_rfc3339("2026-06-20T12:00:00Z").value(), "Europe/Amsterdam");
  ASSERT_TRUE(household.has_value());
  const auto& h = household.value();
  const auto bank = RegisterBank::encode(h.state(), h.local_time(), {}, {}, {});
  const auto image = read_image(bank);
  for (const auto& def : kRegisters) EXPECT_TRUE(image.has(def)) << def.name;
}

TEST(HistoryGenerator, RefusesOptionsItCannotHonour) {
  const auto refused = [](HistoryOptions o, const std::string& needle) {
    const auto gen = HistoryGenerator::create(std::move(o));
    ASSERT_FALSE(gen.has_value()) << needle;
    EXPECT_NE(gen.error().message.find(needle), std::string::npos) << gen.error().message;
  };
  const auto base = options("2026-06-20T00:00:00Z", 1, 60s);
  auto o = base;
  o.step = 7s;  // does not divide a day
  refused(o, "step");
  o.step = 1s;  // faster than any edge polls
  refused(o, "step");
  o = base;
  o.days = 0;
  refused(o, "days");
  o.days = kMaxHistoryDays + 1;
  refused(o, "days");
  o = base;
  o.tz = "Mars/Olympus_Mons";
  refused(o, "Mars/Olympus_Mons");
  o = base;
  o.device_id = "no spaces";
  refused(o, "device id");
}

}  // namespace
}  // namespace sungrow::sim
