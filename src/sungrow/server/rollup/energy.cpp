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

namespace {

EnergyStep step_between(const Reading& previous, const Reading& current, const CounterSpec& spec) {
  return energy_delta(previous.value, current.value, current.ts - previous.ts, spec.max_power_w,
                      spec.kind);
}

}  // namespace

ChainStep advance(CounterChain& chain, const Reading& reading, const CounterSpec& spec) {
  if (!chain.carry) {
    chain.carry = reading;
    chain.pending.reset();
    return {};
  }
  if (const auto step = step_between(*chain.carry, reading, spec);
      step.verdict == StepVerdict::counted) {
    // Back in line with the carry: a held reading was an isolated glitch, skipped.
    const ChainStep out{.kwh = step.kwh, .anomalies = chain.pending ? 1 : 0};
    chain.carry = reading;
    chain.pending.reset();
    return out;
  }
  if (!chain.pending) {
    chain.pending = reading;  // held: the next reading tells a glitch from a new level
    return {};
  }
  // Out of line with the carry again. If it continues from the held reading, that reading started
  // a new level: a daily counter's restart (its value is the energy since) or a reset.
  const auto from_held = step_between(*chain.pending, reading, spec);
  const auto held = step_between(*chain.carry, *chain.pending, spec);
  ChainStep out;
  if (from_held.verdict == StepVerdict::counted) {
    out.kwh = (held.verdict == StepVerdict::daily_reset ? held.kwh : 0.0) + from_held.kwh;
    out.anomalies = held.verdict == StepVerdict::daily_reset ? 0 : 1;
  } else {
    out.anomalies = 1;  // neither fits: start again from here
  }
  chain.carry = reading;
  chain.pending.reset();
  return out;
}

}  // namespace sungrow::rollup
