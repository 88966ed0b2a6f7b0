// Site sums over series buckets and over newest samples.
#include "sungrow/server/sites/site_combine.hpp"

#include <algorithm>
#include <cstddef>
#include <stdexcept>

namespace sungrow::sites {

namespace {

using rollup::Counter;
using rollup::PowerField;

// A running sum that stays null until a value arrives.
void add(std::optional<double>& sum, std::optional<double> value) {
  if (value) sum = sum.value_or(0.0) + *value;
}

std::optional<double> rounded(std::optional<double> v, double step) {
  if (v) return rollup::round_to(*v, step);
  return std::nullopt;
}

// Members that report a battery, weighted by capacity when every one of them reports it, else
// equally. Returns the weighted value and whether capacity weighted it.
struct Weighted {
  std::optional<double> value;
  bool by_capacity = false;
};

struct WeightInput {
  std::optional<double> value;
  std::optional<double> capacity;
};

Weighted weighted(std::span<const WeightInput> inputs) {
  bool all_capacities = true;
  std::size_t present = 0;
  for (const auto& in : inputs) {
    if (!in.value) continue;
    ++present;
    if (!in.capacity || *in.capacity <= 0) all_capacities = false;
  }
  if (present == 0) return {};
  double sum = 0;
  double weight = 0;
  for (const auto& in : inputs) {
    if (!in.value) continue;
    const double w = all_capacities ? *in.capacity : 1.0;
    sum += w * *in.value;
    weight += w;
  }
  return {.value = sum / weight, .by_capacity = all_capacities};
}

constexpr auto index_of(Counter c) {
  return static_cast<std::size_t>(c);
}
constexpr auto index_of(PowerField f) {
  return static_cast<std::size_t>(f);
}

}  // namespace

std::vector<rollup::SeriesBucket> combine_series(std::span<const MemberSeries> members) {
  if (members.empty()) return {};
  const std::size_t count = members.front().buckets.size();
  for (const auto& m : members) {
    if (m.buckets.size() != count) {
      throw std::invalid_argument("combine_series: members have different bucket counts");
    }
  }
  std::vector<rollup::SeriesBucket> out(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto& site = out[i];
    site.range = members.front().buckets[i].range;
    site.coverage = 1.0;
    std::array<std::optional<double>, rollup::kCounterCount> energy{};
    std::array<std::optional<double>, rollup::kPowerFieldCount> power{};
    std::vector<WeightInput> soc;
    for (const auto& m : members) {
      const auto& b = m.buckets[i];
      site.samples += b.samples;
      site.coverage = std::min(site.coverage, b.coverage);
      site.counter_anomalies += b.counter_anomalies;
      const bool meter = m.device->owns_meter();
      for (std::size_t c = 0; c < rollup::kCounterCount; ++c) {
        const bool grid =
            c == index_of(Counter::grid_import) || c == index_of(Counter::grid_export);
        if (!grid || meter) add(energy[c], b.energy_kwh[c]);
      }
      add(power[index_of(PowerField::pv)], b.power[index_of(PowerField::pv)].avg);
      add(power[index_of(PowerField::battery)], b.power[index_of(PowerField::battery)].avg);
      if (meter) add(power[index_of(PowerField::grid)], b.power[index_of(PowerField::grid)].avg);
      soc.push_back({.value = b.soc.last, .capacity = m.capacity_kwh});
    }
    for (std::size_t c = 0; c < rollup::kCounterCount; ++c) {
      site.energy_kwh[c] = rounded(energy[c], rollup::kKwhStep);
    }
    const auto pv = power[index_of(PowerField::pv)];
    const auto grid = power[index_of(PowerField::grid)];
    const auto battery = power[index_of(PowerField::battery)];
    if (pv && grid && battery) power[index_of(PowerField::load)] = *pv + *grid + *battery;
    for (std::size_t f = 0; f < rollup::kPowerFieldCount; ++f) {
      site.power[f].avg = rounded(power[f], rollup::kWattStep);
    }
    site.soc.last = rounded(weighted(soc).value, rollup::kPercentStep);
    if (site.samples == 0) site.coverage = 0;
  }
  return out;
}

SiteNow combine_now(std::span<const MemberNow> members) {
  SiteNow now;
  std::vector<WeightInput> soc;
  std::optional<double> capacity;
  bool every_capacity = true;
  for (const auto& m : members) {
    if (!m.sample) continue;
    const Sample& s = *m.sample;
    add(now.pv_power_w, s.pv_power_w);
    add(now.battery_power_w, s.battery_power_w);
    if (m.device->owns_meter()) add(now.grid_power_w, s.grid_power_w);
    soc.push_back({.value = s.battery_soc_pct, .capacity = s.battery_capacity_kwh});
    if (s.battery_soc_pct) {
      if (s.battery_capacity_kwh) {
        add(capacity, s.battery_capacity_kwh);
      } else {
        every_capacity = false;
      }
    }
    now.oldest_ts = now.oldest_ts ? std::min(*now.oldest_ts, s.ts) : s.ts;
    now.newest_ts = now.newest_ts ? std::max(*now.newest_ts, s.ts) : s.ts;
  }
  if (now.pv_power_w && now.grid_power_w && now.battery_power_w) {
    now.load_power_w = *now.pv_power_w + *now.grid_power_w + *now.battery_power_w;
  }
  const auto w = weighted(soc);
  now.battery_soc_pct = rounded(w.value, rollup::kPercentStep);
  now.soc_weighted_by_capacity = w.by_capacity;
  if (every_capacity) now.battery_capacity_kwh = capacity;
  return now;
}

}  // namespace sungrow::sites
