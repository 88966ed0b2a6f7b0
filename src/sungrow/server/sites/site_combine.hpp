// A site's numbers from its devices': PV and battery add up, the grid is the meter owners', load
// is what the balance leaves, SoC is weighted by battery capacity.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sungrow/core/sample.hpp"
#include "sungrow/server/rollup/series.hpp"
#include "sungrow/server/sites/site_table.hpp"

namespace sungrow::sites {

// One device's series over the site's buckets (the same frame, zone and range for every member).
struct MemberSeries {
  const SiteDevice* device = nullptr;
  std::span<const rollup::SeriesBucket> buckets;
  std::optional<double> capacity_kwh;  // its newest sample's battery_capacity_kwh
};

// Bucket by bucket (every member must have as many buckets, over the same ranges):
// - samples add up; coverage is the lowest member's, so a bucket one inverter missed shows as
//   incomplete;
// - PV, load and battery energies and average powers add up over the members that have a value;
//   grid import and export and the grid power come from the meter owners only (a slave's grid
//   registers describe no meter);
// - the site's average load power is PV + grid + battery (the balance; battery + = discharge);
// - SoC `last` is weighted by capacity (equal weights unless every member with a SoC reports its
//   capacity); power and SoC min/max are null: they cannot be told from the members' extremes;
// - counter anomalies add up. Sums are rounded to the device series' steps.
std::vector<rollup::SeriesBucket> combine_series(std::span<const MemberSeries> members);

// One device's newest sample (none stored yet: nullopt).
struct MemberNow {
  const SiteDevice* device = nullptr;
  std::optional<Sample> sample;
};

struct SiteNow {
  std::optional<double> pv_power_w;
  std::optional<double> grid_power_w;
  std::optional<double> battery_power_w;
  std::optional<double> load_power_w;
  std::optional<double> battery_soc_pct;
  std::optional<double> battery_capacity_kwh;  // the sum, when every battery reports one
  bool soc_weighted_by_capacity = false;
  std::optional<Timestamp> oldest_ts;  // the least recent member's sample: how stale the sum is
  std::optional<Timestamp> newest_ts;
};

// The same rules over the members' newest samples.
SiteNow combine_now(std::span<const MemberNow> members);

}  // namespace sungrow::sites
