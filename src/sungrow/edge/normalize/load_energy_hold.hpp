// Keeps the derived "load energy today" from running backwards between two polls.
#pragma once

#include <array>
#include <optional>

#include "sungrow/core/sample.hpp"

namespace sungrow::edge {

// Today's load energy is a balance of five daily counters (pv + import + discharge − export −
// charge) that tick independently in 0.1 kWh steps, so it dips by a tick or two whenever an
// export or charge tick lands before the matching PV or import tick. A consumption meter never
// runs backwards, and the server would count each recovery from a dip again (~17 % too much
// load energy in a simulated day). This holds the day's high-water mark through such dips; a new
// day — any of the five counters going down, i.e. the inverter's midnight — starts afresh.
class LoadEnergyHold {
 public:
  // Adjusts sample.load_energy_today_kwh in place. Samples must come in poll order; a sample
  // missing any of the five counters passes unchanged and leaves the state as it was.
  void apply(Sample& sample);

 private:
  std::optional<double> high_;
  std::optional<std::array<double, 5>> previous_counters_;
};

}  // namespace sungrow::edge
