// HistoryGenerator: steps the household model over a time grid and normalizes each register image.
#include "sungrow/sim/history.hpp"

#include <date/tz.h>
#include <spdlog/spdlog.h>

#include <variant>

#include "sungrow/core/logger.hpp"
#include "sungrow/edge/normalize/normalizer.hpp"

namespace sungrow::sim {

namespace {
spdlog::logger& log() {
  return component_logger("history");
}
}  // namespace

namespace {

constexpr std::int64_t kSecondsPerDay = 86'400;

// The smallest multiple of `step` ≥ value, also for values before 1970 (C++ division truncates).
std::int64_t ceil_to_multiple(std::int64_t value, std::int64_t step) {
  const auto q = value / step;
  const auto r = value % step;
  return (r > 0 ? q + 1 : q) * step;
}

}  // namespace

Result<void> validate(const HistoryOptions& o) {
  if (!is_valid_device_id(o.device_id))
    return fail("device id '" + o.device_id + "' must match [A-Za-z0-9._:-]{1,64}");
  if (o.days < 1 || o.days > kMaxHistoryDays)
    return fail("days must be 1–" + std::to_string(kMaxHistoryDays) + ", got " +
                std::to_string(o.days));
  const auto step = o.step.count();
  if (o.step < kMinHistoryStep || kSecondsPerDay % step != 0)
    return fail("step must be at least " + std::to_string(kMinHistoryStep.count()) +
                " s and divide a day (86400 s: e.g. 5, 10, 30, 60, 300, 900, 3600), got " +
                std::to_string(step));
  try {
    (void)date::locate_zone(o.tz);
  } catch (const std::exception&) {
    return fail("unknown time zone '" + o.tz + "'");
  }
  return {};
}

RegisterImage read_image(const RegisterBank& bank) {
  RegisterImage image;
  const Faults none;
  for (const auto& group : kReadGroups) {
    const auto first_wire = static_cast<std::uint16_t>(group.first_doc - 1);
    const auto reply = answer_read(bank, none, group.table, first_wire, group.count);
    // A group the unit refuses stays out of the image, as after a failed poll read: the
    // normalizer nulls its fields. The map's groups are all implemented, so this does not happen.
    if (const auto* words = std::get_if<std::vector<std::uint16_t>>(&reply))
      image.set_block(group.table, first_wire, *words);
  }
  return image;
}

HistoryGenerator::HistoryGenerator(HistoryOptions options, Household household, Timestamp first,
                                   std::size_t total)
    : options_(std::move(options)),
      household_(std::move(household)),
      first_(first),
      total_(total) {}

Result<HistoryGenerator> HistoryGenerator::create(HistoryOptions options) {
  if (auto ok = validate(options); !ok) return ok.error();
  const std::int64_t step_ms = options.step.count() * 1000;
  const std::int64_t span_ms = std::int64_t{options.days} * kSecondsPerDay * 1000;
  // The first grid point at or after end − span: exactly span / step points lie before end.
  const Timestamp first{
      std::chrono::milliseconds{ceil_to_multiple(unix_millis(options.end) - span_ms, step_ms)}};
  const auto total = static_cast<std::size_t>(span_ms / step_ms);
  // The same configuration SimServer::start uses: the history is the live simulator's past.
  auto household = Household::create(HouseholdConfig{}, options.seed, first, options.tz);
  if (!household) return household.error();
  return HistoryGenerator(std::move(options), std::move(household.value()), first, total);
}

std::optional<Sample> HistoryGenerator::next() {
  if (produced_ >= total_) return std::nullopt;
  const Timestamp ts = first_ + options_.step * static_cast<std::int64_t>(produced_);
  household_.advance_to(ts);
  const auto bank = RegisterBank::encode(household_.state(), household_.local_time(), config_,
                                         identity_, Faults{});
  auto normalized = edge::normalize(read_image(bank), ts, options_.device_id);
  load_hold_.apply(normalized.sample);  // as the live agent does
  if (!normalized.warnings.empty()) {
    if (warnings_ == 0)
      log().warn("the normalizer nulled a value at {}: {}", format_rfc3339(ts),
                 normalized.warnings.front());
    warnings_ += normalized.warnings.size();
  }
  ++produced_;
  normalized.sample.seq = static_cast<std::int64_t>(produced_);  // 1..N, in ts order
  return std::move(normalized.sample);
}

}  // namespace sungrow::sim
