// SITES_FILE parsing (every refusal with its line) and the site sums over buckets and samples.
#include <gtest/gtest.h>

#include <string>

#include "sungrow/server/sites/site_combine.hpp"
#include "sungrow/server/sites/site_table.hpp"

namespace sungrow::sites {
namespace {

std::string messages(const SiteTableResult& r) {
  std::string all;
  if (r) return all;
  for (const auto& e : r.error()) all += e.message + "\n";
  return all;
}

TEST(SitesFile, ParsesSitesRolesCommentsAndDeviceIdsWithColons) {
  const auto r = parse_sites_file(
      "# the plants\n"
      "\n"
      "home roof-1=master roof-2=slave garage\n"
      "  cabin  site:a=standalone   # trailing words are devices, so no comment here\n");
  ASSERT_FALSE(r) << "a '#' word is not a device id";
  const auto ok = parse_sites_file(
      "# the plants\n\nhome roof-1=master roof-2=slave garage\n  cabin  shed:a=standalone\n");
  ASSERT_TRUE(ok) << messages(ok);
  const auto& table = ok.value();
  ASSERT_EQ(table.sites().size(), 2U);
  const Site* home = table.find("home");
  ASSERT_NE(home, nullptr);
  ASSERT_EQ(home->devices.size(), 3U);
  EXPECT_EQ(home->devices[0].role, SiteRole::master);
  EXPECT_EQ(home->devices[1].role, SiteRole::slave);
  EXPECT_FALSE(home->devices[1].owns_meter());
  EXPECT_EQ(home->devices[2].device_id, "garage");
  EXPECT_EQ(home->devices[2].role, SiteRole::standalone);
  EXPECT_EQ(table.find("cabin")->devices[0].device_id, "shed:a");
  EXPECT_EQ(table.find("nowhere"), nullptr);

  const std::vector<std::string> holds_home{"garage", "roof-2", "roof-1", "other"};
  ASSERT_EQ(table.held_by(holds_home).size(), 1U);
  EXPECT_EQ(table.held_by(holds_home)[0]->id, "home");
  const std::vector<std::string> partial{"roof-1", "garage"};
  EXPECT_TRUE(table.held_by(partial).empty());
}

TEST(SitesFile, EveryProblemIsReportedWithItsLine) {
  const auto r = parse_sites_file(
      "home a=master b=master\n"  // 1: two masters
      "barn c=slave\n"            // 2: a slave without a master
      "home d\n"                  // 3: the site again
      "farm a\n"                  // 4: a device already in a site
      "bad/id e\n"                // 5: a bad site id
      "lone\n"                    // 6: no device
      "mill f=boss\n");           // 7: "boss" is no role
  ASSERT_FALSE(r);
  const auto text = messages(r);
  for (const auto* expected :
       {"line 1: site 'home' has 2 masters", "line 2: site 'barn' has a slave but no master",
        "line 3: site 'home' is listed twice", "line 4: device 'a' is already in a site",
        "line 5: the site id must match", "line 6: site 'lone' lists no device",
        "line 7: 'f=boss' is not DEVICE_ID or DEVICE_ID=ROLE"}) {
    EXPECT_NE(text.find(expected), std::string::npos) << expected << "\n" << text;
  }
}

rollup::SeriesBucket bucket(double pv_kwh, double import_kwh, double export_kwh, double pv_w,
                            double grid_w, double battery_w, double soc, double coverage) {
  rollup::SeriesBucket b;
  b.samples = 12;
  b.coverage = coverage;
  b.energy_kwh = {pv_kwh, pv_kwh + import_kwh - export_kwh, import_kwh, export_kwh, 0.1, 0.2};
  b.power[static_cast<std::size_t>(rollup::PowerField::pv)] = {pv_w, pv_w - 1, pv_w + 1};
  b.power[static_cast<std::size_t>(rollup::PowerField::grid)] = {grid_w, grid_w, grid_w};
  b.power[static_cast<std::size_t>(rollup::PowerField::battery)] = {battery_w, 0, 0};
  b.soc = {soc, soc, soc};
  return b;
}

TEST(SiteSeries, PvAndBatteryAddUpGridIsTheMastersLoadIsTheBalance) {
  const SiteDevice master{.device_id = "roof-1", .role = SiteRole::master};
  const SiteDevice slave{.device_id = "roof-2", .role = SiteRole::slave};
  // The slave's grid numbers are whatever its registers said: they must not count.
  const std::vector<rollup::SeriesBucket> m{bucket(0.7, 0.3, 0.1, 2000, -500, 100, 40, 1.0),
                                            bucket(0.2, 0.5, 0.0, 300, 800, 0, 50, 0.5)};
  const std::vector<rollup::SeriesBucket> s{bucket(0.4, 9.0, 9.0, 1500, 777, -200, 80, 0.9),
                                            bucket(0.1, 9.0, 9.0, 100, 777, 0, 90, 1.0)};
  const std::vector<MemberSeries> members{{.device = &master, .buckets = m, .capacity_kwh = 9.6},
                                          {.device = &slave, .buckets = s, .capacity_kwh = 16.0}};
  const auto site = combine_series(members);
  ASSERT_EQ(site.size(), 2U);
  using rollup::Counter;
  const auto e = [&](std::size_t i, Counter c) {
    return site[i].energy_kwh[static_cast<std::size_t>(c)];
  };
  EXPECT_EQ(e(0, Counter::pv), rollup::round_to(0.7 + 0.4, rollup::kKwhStep));
  EXPECT_EQ(e(1, Counter::pv), rollup::round_to(0.2 + 0.1, rollup::kKwhStep));
  EXPECT_EQ(e(0, Counter::grid_import), 0.3);
  EXPECT_EQ(e(0, Counter::grid_export), 0.1);
  EXPECT_EQ(e(1, Counter::grid_import), 0.5);
  EXPECT_EQ(e(0, Counter::battery_charge), 0.2);
  EXPECT_EQ(e(0, Counter::battery_discharge), 0.4);
  const auto p = [&](std::size_t i, rollup::PowerField f) {
    return site[i].power[static_cast<std::size_t>(f)];
  };
  EXPECT_EQ(p(0, rollup::PowerField::pv).avg, 3500);
  EXPECT_EQ(p(0, rollup::PowerField::grid).avg, -500);
  EXPECT_EQ(p(0, rollup::PowerField::battery).avg, -100);
  EXPECT_EQ(p(0, rollup::PowerField::load).avg, 3500 - 500 - 100);
  EXPECT_FALSE(p(0, rollup::PowerField::pv).min);  // a sum's extremes are not known
  EXPECT_EQ(site[0].samples, 24);
  EXPECT_EQ(site[0].coverage, 0.9);
  EXPECT_EQ(site[1].coverage, 0.5);
  EXPECT_EQ(site[0].soc.last,
            rollup::round_to((9.6 * 40 + 16.0 * 80) / 25.6, rollup::kPercentStep));
  EXPECT_FALSE(site[0].soc.min);

  // Without every capacity, SoC is the plain mean.
  const std::vector<MemberSeries> unweighted{{.device = &master, .buckets = m, .capacity_kwh = 9.6},
                                             {.device = &slave, .buckets = s, .capacity_kwh = {}}};
  EXPECT_EQ(combine_series(unweighted)[0].soc.last, 60);
}

TEST(SiteNow, SumsTheNewestSamplesTheSameWay) {
  const SiteDevice master{.device_id = "roof-1", .role = SiteRole::master};
  const SiteDevice slave{.device_id = "roof-2", .role = SiteRole::slave};
  Sample a;
  a.device_id = "roof-1";
  a.ts = Timestamp{std::chrono::seconds{1'800'000'000}};
  a.pv_power_w = 2000;
  a.grid_power_w = -300;
  a.battery_power_w = 150;
  a.battery_soc_pct = 50;
  a.battery_capacity_kwh = 10;
  Sample b = a;
  b.device_id = "roof-2";
  b.ts = a.ts - std::chrono::seconds{4};
  b.pv_power_w = 1000;
  b.grid_power_w = 999;  // a slave's: not the site's
  b.battery_power_w = -50;
  b.battery_soc_pct = 100;
  b.battery_capacity_kwh = 30;
  const std::vector<MemberNow> members{{.device = &master, .sample = a},
                                       {.device = &slave, .sample = b}};
  const auto now = combine_now(members);
  EXPECT_EQ(now.pv_power_w, 3000);
  EXPECT_EQ(now.grid_power_w, -300);
  EXPECT_EQ(now.battery_power_w, 100);
  EXPECT_EQ(now.load_power_w, 3000 - 300 + 100);
  EXPECT_EQ(now.battery_soc_pct, 87.5);
  EXPECT_TRUE(now.soc_weighted_by_capacity);
  EXPECT_EQ(now.battery_capacity_kwh, 40);
  EXPECT_EQ(now.oldest_ts, b.ts);
  EXPECT_EQ(now.newest_ts, a.ts);
}

}  // namespace
}  // namespace sungrow::sites
