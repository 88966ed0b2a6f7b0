// The lifetime counter hold: plausibility by rollup::energy_delta, confirmation of new levels.
#include "sungrow/edge/mqtt/counter_guard.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "sungrow/server/rollup/energy.hpp"

namespace sungrow::edge {
namespace {

std::string_view field_name(std::optional<double> Sample::*member) {
  for (const auto& f : kMeasurementFields)
    if (f.member == member) return f.name;
  return "?";
}

// A hold is logged when it starts and then every this many readings, not once per poll.
constexpr int kLogEvery = 60;

}  // namespace

std::vector<std::string> CounterGuard::apply(Sample& sample) {
  static_assert(std::tuple_size_v<decltype(tracks_)> == rollup::kCounterCount);
  std::vector<std::string> log;
  for (std::size_t i = 0; i < rollup::kCounters.size(); ++i) {
    const auto& spec = rollup::kCounters[i];
    if (spec.kind != rollup::CounterKind::lifetime_total) continue;
    auto& value = sample.*spec.member;
    if (!value) continue;
    const Reading now{*value, sample.ts};
    const auto plausible_from = [&](const Reading& from) {
      const auto dt = std::chrono::duration_cast<std::chrono::milliseconds>(now.ts - from.ts);
      return rollup::energy_delta(from.kwh, now.kwh, dt, spec.max_power_w).verdict ==
             rollup::StepVerdict::counted;
    };
    const auto name = field_name(spec.member);
    Track& t = tracks_[i];

    if (t.good && plausible_from(*t.good)) {
      if (t.held > 0)
        log.push_back(
            fmt::format("{}: {} kWh read again after {} held readings", name, now.kwh, t.held));
      // energy_delta tolerates float noise below the last value; never publish it.
      t.good = Reading{std::max(now.kwh, t.good->kwh), now.ts};
      t.recent.clear();
      t.held = 0;
      value = t.good->kwh;
      continue;
    }

    t.recent.push_back(now);
    if (t.recent.size() > kWindow) t.recent.pop_front();
    const auto agreeing = std::count_if(t.recent.begin(), t.recent.end() - 1, plausible_from) + 1;
    const bool upwards = !t.good || now.kwh > t.good->kwh;
    if (upwards && agreeing >= kConfirmations) {
      if (t.good)
        log.push_back(
            fmt::format("{}: new level {} kWh taken ({} of the last {} readings agree; "
                        "was {} kWh)",
                        name, now.kwh, agreeing, t.recent.size(), t.good->kwh));
      t.good = now;
      t.recent.clear();
      t.held = 0;
      continue;
    }
    if (!t.good) {
      value.reset();  // not confirmed yet: unknown rather than a possible glitch
      continue;
    }
    if (t.held % kLogEvery == 0)
      log.push_back(fmt::format(
          "{}: read {} kWh after {} kWh {} ago, implausible; publishing {} kWh (held {} times)",
          name, now.kwh, t.good->kwh,
          std::chrono::duration_cast<std::chrono::seconds>(now.ts - t.good->ts), t.good->kwh,
          t.held + 1));
    ++t.held;
    if (!upwards && t.held == kPersistentDrop)
      log.push_back(fmt::format(
          "{}: held for {} readings in a row, the latest {} kWh below the published {} kWh; if "
          "the inverter's counter was reset, restart sungrow-edge so Home Assistant sees the reset",
          name, t.held, t.good->kwh - now.kwh, t.good->kwh));
    value = t.good->kwh;
  }
  return log;
}

}  // namespace sungrow::edge
