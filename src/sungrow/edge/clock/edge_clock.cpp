// The clock rule: stamps from the synchronized edge clock, or from the inverter's clock through the
// reference measured while the edge clock was synchronized, or marked unsynchronized.
#include "sungrow/edge/clock/edge_clock.hpp"

#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "sungrow/edge/clock/inverter_clock.hpp"

namespace sungrow::edge {

namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// The registers show whole seconds: the inverter's time lies somewhere in the second they show.
constexpr milliseconds kMidSecond{500};
// Every zone in use lies within UTC−12..UTC+14; an hour more either way allows for an inverter
// clock that drifted or missed a DST change. Anything beyond is a clock that was never set.
constexpr auto kMinZoneOffset = -13h;
constexpr auto kMaxZoneOffset = 15h;
// An inverter offset this close to the edge zone's offset means the inverter keeps that zone.
constexpr auto kSameZone = 5min;
// A reading converted to UTC may not lie further before the reference's own (verified) instant.
constexpr auto kBehindVerified = 1min;

std::string hours_text(milliseconds d) {
  return fmt::format("{:+.2f} h", std::chrono::duration<double, std::ratio<3600>>(d).count());
}

}  // namespace

EdgeClock::EdgeClock(ClockSettings settings, std::optional<ClockReference> reference)
    : settings_(std::move(settings)) {
  health_.checking = settings_.check_interval > std::chrono::seconds{0};
  health_.reference = reference;
}

bool EdgeClock::read_due(Steady now) const {
  if (settings_.check_interval <= 0s) return false;
  return !next_read_ || now >= *next_read_;
}

void EdgeClock::failed(std::string why, Steady now) {
  ++health_.consecutive_failures;
  health_.last_error = std::move(why);
  // Doubling from first_retry: reads that fail now and then (a WiNet-S refuses holding registers
  // at times) are retried soon, a unit that never answers is asked at the normal pace.
  auto wait = settings_.first_retry;
  for (std::uint32_t i = 1; i < health_.consecutive_failures && wait < settings_.check_interval;
       ++i)
    wait *= 2;
  next_read_ = now + std::min(wait, settings_.check_interval);
}

bool EdgeClock::observe_read(const Result<std::vector<std::uint16_t>>& words, Timestamp edge_now,
                             Steady steady_now, bool synchronized) {
  health_.synchronized = synchronized;
  if (!words) {
    failed(words.error().message, steady_now);
    return false;
  }
  const auto decoded = decode_inverter_clock(*words);
  if (!decoded) {
    failed(decoded.error().message, steady_now);
    return false;
  }
  const std::chrono::local_time<milliseconds> local{*decoded + kMidSecond};
  const auto offset = local.time_since_epoch() - edge_now.time_since_epoch();
  health_.inverter_read_at = edge_now;
  health_.inverter_reads = format_local(*decoded);
  health_.inverter_minus_edge = offset;

  if (synchronized) {
    if (offset < kMinZoneOffset || offset > kMaxZoneOffset) {
      // No zone is that far from UTC: the inverter's clock is wrong, so it is no reference.
      const bool had = health_.reference.has_value();
      health_.reference.reset();
      anchor_.reset();
      failed(fmt::format("the inverter's clock reads {}, {} from UTC: no time zone is that far, "
                         "so it is not used to check the edge's clock",
                         health_.inverter_reads, hours_text(offset)),
             steady_now);
      return had;
    }
    const ClockReference measured{offset, edge_now};
    const bool changed = health_.reference != measured;
    health_.reference = measured;
    anchor_ = Anchor{local, steady_now};
    health_.consecutive_failures = 0;
    health_.last_error.clear();
    next_read_ = steady_now + settings_.check_interval;
    return changed;
  }

  if (health_.reference) {
    const auto utc = to_utc(local);
    if (utc < health_.reference->measured_at - kBehindVerified) {
      // Time never goes back past an instant a synchronized clock saw: this inverter clock was
      // reset or changed since, and only the earlier reading (if any) is carried on.
      failed(fmt::format("the inverter's clock reads {}, which is {} before the last verified time "
                         "{}: not used",
                         health_.inverter_reads, format_rfc3339(health_.reference->measured_at),
                         hours_text(health_.reference->measured_at - utc)),
             steady_now);
      return false;
    }
  }
  anchor_ = Anchor{local, steady_now};
  health_.consecutive_failures = 0;
  health_.last_error.clear();
  next_read_ = steady_now + settings_.check_interval;
  return false;
}

ClockStamp EdgeClock::stamp(Timestamp edge_now, Steady steady_now, bool synchronized) {
  health_.synchronized = synchronized;
  if (synchronized) return {edge_now, TsSource::ntp, std::nullopt};
  if (health_.reference && anchor_) {
    // Carried on the monotonic clock, which no clock step moves; negative for a poll that began
    // before the reading.
    const auto since = std::chrono::duration_cast<milliseconds>(steady_now - anchor_->steady);
    const auto utc = to_utc(anchor_->inverter_local + since);
    const auto adjust = (utc - edge_now).count();
    if (utc >= kEarliestSampleTs && is_rfc3339_year(utc) && std::abs(adjust) <= kMaxTsAdjustMs)
      return {utc, TsSource::inverter, adjust};
  }
  return {edge_now, TsSource::unsynced, std::nullopt};
}

Timestamp EdgeClock::to_utc(std::chrono::local_time<milliseconds> local) const {
  const auto& ref = *health_.reference;
  const Timestamp fixed{local.time_since_epoch() - ref.inverter_offset};
  if (!settings_.edge_zone) return fixed;
  const auto zone_then = settings_.edge_zone(ref.measured_at);
  if (!zone_then) return fixed;
  const auto drift = ref.inverter_offset - *zone_then;  // the inverter clock's own error
  if (drift < -kSameZone || drift > kSameZone) return fixed;
  // The inverter keeps the edge's zone: take the zone's offset at the instant itself, so a DST
  // change between the measurement and now is no hour's error. Twice converges (the offset only
  // differs across a transition).
  Timestamp utc = fixed;
  for (int i = 0; i < 2; ++i) {
    const auto zone_now = settings_.edge_zone(utc);
    if (!zone_now) return fixed;
    utc = Timestamp{local.time_since_epoch() - drift - *zone_now};
  }
  return utc;
}

ZoneOffset system_zone_offset() {
  const date::time_zone* zone = nullptr;
  try {
    zone = date::current_zone();
  } catch (const std::exception&) {
    return {};
  }
  return [zone](Timestamp t) -> std::optional<std::chrono::seconds> {
    try {
      return zone->get_info(std::chrono::floor<std::chrono::seconds>(t)).offset;
    } catch (const std::exception&) {
      return std::nullopt;
    }
  };
}

}  // namespace sungrow::edge
