// The simulated household behind the inverter: PV, load, battery, grid and energy counters.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "sungrow/core/result.hpp"
#include "sungrow/core/time.hpp"
#include "sungrow/sim/energy_counters.hpp"

namespace sungrow::sim {

// The installation's fixed parameters; defaults describe an SH4.0RS with an SBR096 battery.
struct HouseholdConfig {
  double latitude_deg = 52.1;  // ~Utrecht: the sun's path sets sunrise/sunset by season
  double longitude_deg = 5.1;
  double panel_tilt_deg = 35.0;  // south-facing
  double pv_peak_w = 4500.0;     // split over the two MPPTs
  double mppt1_share = 0.55;     // MPPT1 has the larger string
  double inverter_ac_limit_w = 4000.0;
  double battery_capacity_wh = 9600.0;
  double battery_min_soc = 0.05;
  double battery_max_soc = 1.00;
  double battery_max_charge_w = 3000.0;  // the SH4.0RS BDC
  double battery_max_discharge_w = 3000.0;
  double initial_soc = 0.40;  // at local midnight of the start day
  // The household's share of the plant's load, and which load pattern it follows (0: the seed's
  // own). Slaves of a master/slave plant share weather and grid with the master (same seed) but
  // supply their own, smaller and differently timed, part of the house.
  double load_scale = 1.0;
  std::uint64_t load_stream = 0;
  std::chrono::seconds max_step{5};  // integration step; big gaps are sub-stepped
  EnergyTotals initial_totals = EnergyTotals::plausible_install();
};

// Everything the inverter reports at one instant; powers in W, positive as named.
struct HouseholdState {
  Timestamp time{};
  double pv_w = 0;  // DC power actually produced (after AC-limit curtailment)
  double mppt1_v = 0, mppt1_a = 0, mppt2_v = 0, mppt2_a = 0;
  double load_w = 0;
  double battery_w = 0;    // + discharging, − charging (register 5214's convention)
  double grid_w = 0;       // + import, − export (meter 5601's convention)
  double ac_w = 0;         // inverter AC output = pv + battery
  double battery_soc = 0;  // 0..1
  double battery_soh = 0.987;
  double battery_v = 0, battery_a = 0;  // current has the sign of battery_w
  double battery_temp_c = 0, inverter_temp_c = 0;
  double grid_v = 230.0, grid_hz = 50.0;
  bool standby = false;  // night, no PV and the battery at its minimum
  EnergyTotals totals;
  EnergyToday today;
};

// Power-flow status word (register 13001, bits as in PowerFlow), from powers rounded to whole watts
// so that the bits agree with the power registers a client reads next to them.
std::uint16_t power_flow_bits(const HouseholdState& s);
// The same from whole watts: `load` and `grid` (+ import) as this unit's meter sees them.
std::uint16_t power_flow_bits(std::int64_t pv, std::int64_t battery, std::int64_t load,
                              std::int64_t grid);

// The first instant of t's local day in `tz` (an unknown zone fails).
Result<Timestamp> local_midnight(Timestamp t, const std::string& tz);

// Deterministic given (config, seed, start): every quantity is a function of simulated time,
// the seed and the battery's history, never of the wall clock or of the step pattern used.
class Household {
 public:
  // Fails on an unknown time-zone name. The day up to `start` is pre-simulated from local
  // midnight so that daily counters and SoC are plausible from the first read.
  static Result<Household> create(HouseholdConfig config, std::uint64_t seed, Timestamp start,
                                  const std::string& tz);

  // Integrates up to `t` (no-op if t is not after the current time).
  void advance_to(Timestamp t);
  // Where advance_to(t) ends its next step: t, one max_step on, or the next local midnight,
  // whichever comes first. Households with the same max_step and zone step in lockstep through it.
  Timestamp next_step_end(Timestamp t) const;
  Timestamp next_midnight() const { return next_midnight_; }
  const HouseholdState& state() const { return state_; }
  // Local wall-clock time in the configured zone (the holding-register clock).
  std::chrono::local_time<std::chrono::milliseconds> local_time() const;

  Household(Household&&) noexcept;
  Household& operator=(Household&&) noexcept;
  ~Household();

 private:
  struct Zone;
  friend Result<Timestamp> local_midnight(Timestamp t, const std::string& tz);
  Household(HouseholdConfig config, std::uint64_t seed, std::unique_ptr<Zone> zone);
  void step(Timestamp to);
  void start_new_day();

  HouseholdConfig config_;
  std::uint64_t seed_;
  std::uint64_t load_seed_;     // seed_ unless config_.load_stream picks another load pattern
  std::unique_ptr<Zone> zone_;  // pimpl: keeps date/tz out of this header
  Timestamp next_midnight_{};
  EnergyCounters counters_;
  HouseholdState state_;
};

// The profiles the model is built from, exposed for tests. All pure functions of (seed, t).
namespace profile {
double clear_sky_pv_w(const HouseholdConfig& c, Timestamp t);
double cloud_factor(std::uint64_t seed, Timestamp t);  // 0.2 (overcast) .. 1 (clear)
double load_w(std::uint64_t seed, std::chrono::local_time<std::chrono::milliseconds> local);
}  // namespace profile

}  // namespace sungrow::sim
