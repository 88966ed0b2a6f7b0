// Random telemetry for property tests: irregular steps and long gaps, missing fields, lifetime
// counter resets, one-sample glitches, and a daily load counter that restarts at local midnight.
#pragma once

#include <date/tz.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "sungrow/core/sample.hpp"
#include "sungrow/core/time.hpp"

namespace sungrow::rollup::test {

inline std::vector<Sample> random_samples(std::uint32_t seed, const std::string& device,
                                          Timestamp from, Timestamp to,
                                          const date::time_zone* midnight_zone) {
  using namespace std::chrono_literals;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const auto chance = [&](double p) { return unit(rng) < p; };
  const auto tenth = [](double v) { return std::round(v * 10.0) / 10.0; };
  std::vector<Sample> out;
  // Lifetime totals: pv, grid import, grid export, battery charge, battery discharge.
  std::array<double, 5> totals{1000, 200, 300, 40, 50};
  const std::array<double, 5> max_kw{8, 6, 5, 3, 3};
  double load_today = 0;
  auto local_day = [&](Timestamp ts) {
    return date::floor<date::days>(midnight_zone->to_local(ts)).time_since_epoch().count();
  };
  Timestamp ts = from;
  auto day = local_day(ts);
  std::int64_t seq = 0;
  while (ts < to) {
    Sample s;
    s.device_id = device;
    s.ts = ts;
    s.seq = ++seq;
    const auto maybe = [&](double v) { return chance(0.05) ? std::nullopt : std::optional{v}; };
    s.pv_power_w = maybe(tenth(unit(rng) * 8000));
    s.load_power_w = maybe(tenth(unit(rng) * 5000));
    s.grid_power_w = maybe(tenth(unit(rng) * 10000 - 5000));
    s.battery_power_w = maybe(tenth(unit(rng) * 6000 - 3000));
    s.battery_soc_pct = maybe(tenth(unit(rng) * 100));
    std::array<std::optional<double>, 5> readings;
    for (std::size_t i = 0; i < totals.size(); ++i) {
      if (chance(0.0005)) totals[i] = 0;  // inverter replaced / register reset
      readings[i] = tenth(totals[i]);
      if (chance(0.0005)) readings[i] = *readings[i] + 5000;  // a one-sample glitch
      if (chance(0.05)) readings[i].reset();
    }
    s.pv_energy_total_kwh = readings[0];
    s.grid_import_total_kwh = readings[1];
    s.grid_export_total_kwh = readings[2];
    s.battery_charge_total_kwh = readings[3];
    s.battery_discharge_total_kwh = readings[4];
    s.load_energy_today_kwh = maybe(tenth(load_today));
    out.push_back(std::move(s));

    // The next step: mostly seconds, sometimes minutes, rarely hours; not always on the 5-s grid.
    std::chrono::milliseconds step{0};
    const double kind = unit(rng);
    if (kind < 0.9) {
      step = std::chrono::milliseconds{static_cast<std::int64_t>(5000 * (1 + rng() % 12))};
    } else if (kind < 0.995) {
      step = std::chrono::milliseconds{static_cast<std::int64_t>(60'000 * (1 + rng() % 30))};
    } else {
      step = std::chrono::milliseconds{static_cast<std::int64_t>(3'600'000 * (1 + rng() % 20))};
    }
    if (chance(0.1)) step += std::chrono::milliseconds{static_cast<std::int64_t>(rng() % 4999)};
    const double hours = std::chrono::duration<double, std::ratio<3600>>(step).count();
    for (std::size_t i = 0; i < totals.size(); ++i) totals[i] += unit(rng) * max_kw[i] * hours;
    load_today += unit(rng) * 4 * hours;
    ts += step;
    if (const auto now_day = local_day(ts); now_day != day) {
      day = now_day;
      load_today = unit(rng) * 0.05;  // restarted at local midnight
    }
  }
  return out;
}

}  // namespace sungrow::rollup::test
