// A master/slave plant: several simulated inverters on one grid connection, the meter at the
// master.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sungrow/core/result.hpp"
#include "sungrow/core/time.hpp"
#include "sungrow/sim/energy_counters.hpp"
#include "sungrow/sim/household.hpp"
#include "sungrow/sim/register_bank.hpp"

namespace sungrow::sim {

struct PlantUnit {
  int unit_id = 1;
  HouseholdConfig config;
  std::uint64_t seed = 1;
};

// A slave's installation, a pure function of its unit id: another roof, another battery size (so a
// capacity-weighted SoC has something to weigh) and its own, smaller share of the house's load.
HouseholdConfig slave_config(int unit_id);

// The units step in lockstep (same max_step, same zone, same instants), so that the plant's grid
// flow at each step is the sum of theirs and the master's import/export counters integrate it.
class Plant {
 public:
  // units.front() is the master (or the only, standalone, unit). Every household begins at the
  // local midnight of `since` and lives through to `start`, exactly as a lone Household created at
  // `since` would: a one-unit plant is the single-inverter simulator, step for step.
  static Result<Plant> create(std::vector<PlantUnit> units, Timestamp since, Timestamp start,
                              const std::string& tz);

  void advance_to(Timestamp t);

  std::size_t size() const { return units_.size(); }
  const PlantUnit& unit(std::size_t i) const { return units_[i]; }
  const Household& household(std::size_t i) const { return households_[i]; }
  // How unit i's registers show the grid: standalone alone, else master (the plant's meter) or
  // slave.
  UnitView view(std::size_t i) const;
  Timestamp time() const { return households_.front().state().time; }

 private:
  Plant(std::vector<PlantUnit> units, std::vector<Household> households);

  std::vector<PlantUnit> units_;
  std::vector<Household> households_;
  EnergyCounters grid_;  // the master's import/export counters: the plant's grid flow
};

}  // namespace sungrow::sim
