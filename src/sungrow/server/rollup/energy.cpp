// Reset-safe energy steps.
#include "sungrow/server/rollup/energy.hpp"

#include <algorithm>

namespace sungrow::rollup {
namespace {

// Float noise on quantised counters (e.g. 1234.5 − 1234.4) must not turn a tick into a glitch.
constexpr double kEpsilonKwh = 1e-6;

double max_plausible_kwh(std::chrono::milliseconds dt, double max_power_w) {
  const double hours =
      std::chrono::duration<double, std::ratio<3600>>(std::max(dt, std::chrono::milliseconds{0}))
          .count();
  return max_power_w * hours / 1000.0 + kCounterResolutionKwh + kEpsilonKwh;
}

}  // namespace

EnergyStep energy_delta(double previous_kwh, double current_kwh, std::chrono::milliseconds dt,
                        double max_power_w, CounterKind kind) {
  const double limit = max_plausible_kwh(dt, max_power_w);
  const double delta = current_kwh - previous_kwh;
  if (delta >= -kEpsilonKwh) {
    if (delta > limit) return {0, StepVerdict::glitch};
    return {std::max(delta, 0.0), StepVerdict::counted};
  }
  if (kind == CounterKind::lifetime_total) return {0, StepVerdict::dropped};
  // A daily counter restarted (normally at the inverter's local midnight, whatever zone that is):
  // its new value is the energy since the restart, if that fits in the step.
  if (current_kwh >= 0 && current_kwh <= limit) return {current_kwh, StepVerdict::daily_reset};
  return {0, StepVerdict::glitch};
}

}  // namespace sungrow::rollup
