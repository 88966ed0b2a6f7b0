// Reset-safe energy from cumulative counters: a counter step never yields a spike or negative kWh.
#pragma once

#include <array>
#include <chrono>
#include <optional>
#include <string_view>

#include "sungrow/core/sample.hpp"
#include "sungrow/core/time.hpp"

namespace sungrow::rollup {

// A lifetime total only grows; a daily counter also drops to ~0 at the inverter's local midnight.
enum class CounterKind { lifetime_total, daily };

enum class StepVerdict {
  counted,      // a plausible increase (or no change)
  daily_reset,  // a daily counter dropped: counted as the energy since its reset
  dropped,      // a lifetime total dropped (reset, inverter replaced, glitch): 0, re-based
  glitch,       // a rise faster than rated power allows: 0, re-based
};

struct EnergyStep {
  double kwh = 0;
  StepVerdict verdict = StepVerdict::counted;
};

// One register step of resolution: a 0.1 kWh tick can land in a 5 s interval at any power.
inline constexpr double kCounterResolutionKwh = 0.1;

// Energy between two consecutive readings of one counter, `dt` apart, for a flow of at most
// `max_power_w`. Never negative; implausible steps give 0 so the next step starts from the new
// value (the caller keeps the new reading as its previous one).
EnergyStep energy_delta(double previous_kwh, double current_kwh, std::chrono::milliseconds dt,
                        double max_power_w, CounterKind kind = CounterKind::lifetime_total);

// The counters a series reports energy from, in response order.
enum class Counter { pv, load, grid_import, grid_export, battery_charge, battery_discharge };
inline constexpr std::size_t kCounterCount = 6;

struct CounterSpec {
  Counter counter;
  std::string_view energy_name;  // the series response field
  std::optional<double> Sample::*member;
  CounterKind kind;
  double max_power_w;  // rated flow ceiling with headroom: only glitches exceed it
};

// Limits are generous on purpose (SH-RS family up to the 10 kW model, oversized PV arrays, a
// 63 A single-phase or 3×25 A three-phase main fuse): a real glitch is orders of magnitude off.
// Load has no lifetime register, so its daily counter is used.
inline constexpr std::array<CounterSpec, kCounterCount> kCounters{{
    {Counter::pv, "pv_energy_kwh", &Sample::pv_energy_total_kwh, CounterKind::lifetime_total,
     20'000},
    {Counter::load, "load_energy_kwh", &Sample::load_energy_today_kwh, CounterKind::daily, 30'000},
    {Counter::grid_import, "grid_import_kwh", &Sample::grid_import_total_kwh,
     CounterKind::lifetime_total, 30'000},
    {Counter::grid_export, "grid_export_kwh", &Sample::grid_export_total_kwh,
     CounterKind::lifetime_total, 20'000},
    {Counter::battery_charge, "battery_charge_kwh", &Sample::battery_charge_total_kwh,
     CounterKind::lifetime_total, 15'000},
    {Counter::battery_discharge, "battery_discharge_kwh", &Sample::battery_discharge_total_kwh,
     CounterKind::lifetime_total, 15'000},
}};

// One reading of a counter (or of SoC), with its time.
struct Reading {
  Timestamp ts{};
  double value = 0;

  bool operator==(const Reading&) const = default;
};

// Energy and anomalies a chain step adds.
struct ChainStep {
  double kwh = 0;
  std::int64_t anomalies = 0;

  ChainStep& operator+=(const ChainStep& other) {
    kwh += other.kwh;
    anomalies += other.anomalies;
    return *this;
  }
};

// A counter's readings in ts order, as a series walks them. Each reading is compared with the last
// accepted one (the carry). Any step other than a plausible increase (energy_delta: counted) is
// held back: the reading waits as `pending` and the carry stays, so one bad reading never decides
// anything. The next reading decides. In line with the carry again: the held reading was an
// isolated glitch (a 0, a 0xFFFF-derived value, a spike), and the step from the carry is counted
// over its whole time span — no energy is lost around it. In line with the held reading instead:
// that reading started a new level — a daily counter's restart at midnight (its value counted as
// the energy since) or a lifetime counter's reset — and the chain goes on from there. In line with
// neither: the chain starts again from the new reading. Each glitch or reset is one anomaly.
//
// After any two consecutive readings a, b a chain holds either (carry b) or (carry a, pending b),
// whatever it held before: spans (span.hpp) rest on this.
struct CounterChain {
  std::optional<Reading> carry;
  std::optional<Reading> pending;

  bool operator==(const CounterChain&) const = default;
};

// Moves `chain` past `reading` (ts after every reading it has seen) of the counter `spec`.
ChainStep advance(CounterChain& chain, const Reading& reading, const CounterSpec& spec);

}  // namespace sungrow::rollup
