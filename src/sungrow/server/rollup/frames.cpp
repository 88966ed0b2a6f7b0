// Local-time bucket boundaries, computed from the zone's transitions rather than fixed widths.
#include "sungrow/server/rollup/frames.hpp"

#include <date/tz.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <exception>

#include "sungrow/core/quote.hpp"
#include "sungrow/server/rollup/base_bucket.hpp"

namespace sungrow::rollup {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::seconds;
using LocalSeconds = date::local_time<seconds>;

enum class Ambiguous { earliest, both };

Timestamp to_timestamp(LocalSeconds local, seconds offset) {
  return Timestamp{(local - offset).time_since_epoch()};
}

LocalSeconds to_local(const date::time_zone& zone, Timestamp instant) {
  const auto whole = std::chrono::floor<seconds>(instant);
  return LocalSeconds{whole.time_since_epoch() + zone.get_info(whole).offset};
}

// The instants at which the local clock reads `label`. A label skipped by a DST gap maps to the
// transition, where the skipped period would have begun, floored to the base-bucket grid: every
// offset since 2000 is a multiple of 5 minutes, but some transitions were not (North America's
// 00:01 changes until 2011, Antarctica/Casey 2020–22, Gaza 2010–11). The floor makes the skipped
// hour's bucket empty there, and it disappears; frames must stay derivable from base buckets.
void append_instants(std::vector<Timestamp>& out, const date::time_zone& zone, LocalSeconds label,
                     Ambiguous ambiguous) {
  const auto info = zone.get_info(label);
  switch (info.result) {
    case date::local_info::unique:
      out.push_back(to_timestamp(label, info.first.offset));
      break;
    case date::local_info::nonexistent:
      out.push_back(base_bucket_start(Timestamp{info.first.end.time_since_epoch()}));
      break;
    case date::local_info::ambiguous:
      out.push_back(to_timestamp(label, info.first.offset));
      if (ambiguous == Ambiguous::both) out.push_back(to_timestamp(label, info.second.offset));
      break;
  }
}

Timestamp start_of(const date::time_zone& zone, LocalSeconds label) {
  std::vector<Timestamp> instants;
  append_instants(instants, zone, label, Ambiguous::earliest);
  return instants.front();
}

LocalSeconds local_midnight(date::local_days day) {
  return LocalSeconds{day.time_since_epoch()};
}

LocalSeconds first_of_month(date::year_month ym) {
  return local_midnight(date::local_days{ym / date::day{1}});
}

date::local_days local_day(const date::time_zone& zone, Timestamp instant) {
  return std::chrono::floor<days>(to_local(zone, instant));
}

// All boundaries that can delimit a bucket overlapping [from, to), with a margin of labels on
// both sides: a DST shift (up to 2 h in Antarctica/Troll) moves a label's instant across from/to.
std::vector<Timestamp> boundaries(Frame frame, const date::time_zone& zone, Timestamp from,
                                  Timestamp to) {
  std::vector<Timestamp> out;
  switch (frame) {
    case Frame::five_minutes:
      for (auto t = base_bucket_start(from); t <= to + kBaseBucketWidth; t += kBaseBucketWidth) {
        out.push_back(t);
      }
      return out;
    case Frame::hour: {
      const auto last = std::chrono::floor<hours>(to_local(zone, to)) + hours{3};
      for (auto h = std::chrono::floor<hours>(to_local(zone, from)) - hours{3}; h <= last;
           h += hours{1}) {
        append_instants(out, zone, h, Ambiguous::both);
      }
      break;
    }
    case Frame::day: {
      const auto last = local_day(zone, to) + days{2};
      for (auto d = local_day(zone, from) - days{2}; d <= last; d += days{1}) {
        append_instants(out, zone, local_midnight(d), Ambiguous::earliest);
      }
      break;
    }
    case Frame::month: {
      const auto last = date::year_month_day{local_day(zone, to)};
      const auto end = date::year_month{last.year(), last.month()} + date::months{2};
      const auto first = date::year_month_day{local_day(zone, from)};
      for (auto m = date::year_month{first.year(), first.month()} - date::months{1}; m <= end;
           m += date::months{1}) {
        append_instants(out, zone, first_of_month(m), Ambiguous::earliest);
      }
      break;
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace

Result<Frame> parse_frame(std::string_view text) {
  for (const auto frame : {Frame::five_minutes, Frame::hour, Frame::day, Frame::month}) {
    if (text == to_string(frame)) return frame;
  }
  return fail(fmt::format("frame: expected 5m, hour, day or month, got {}", quote_untrusted(text)));
}

std::string_view to_string(Frame frame) {
  switch (frame) {
    case Frame::five_minutes:
      return "5m";
    case Frame::hour:
      return "hour";
    case Frame::day:
      return "day";
    case Frame::month:
      return "month";
  }
  return "?";
}

Result<const date::time_zone*> find_zone(std::string_view iana) {
  try {
    return date::locate_zone(iana);
  } catch (const std::exception&) {
    // date throws for unknown names and for a missing/unreadable tz database alike.
    return fail(
        fmt::format("tz: unknown time zone {} (expected an IANA name such as Europe/Amsterdam)",
                    quote_untrusted(iana)));
  }
}

std::string format_local(Timestamp instant, const date::time_zone* zone) {
  const auto whole = std::chrono::floor<seconds>(instant);
  const auto offset = zone->get_info(whole).offset;
  const auto local = whole.time_since_epoch() + offset;
  const auto day = std::chrono::floor<days>(local);
  const date::year_month_day ymd{date::sys_days{day}};
  const date::hh_mm_ss time{local - day};
  const auto offset_minutes = std::chrono::duration_cast<std::chrono::minutes>(offset).count();
  const auto abs_minutes = std::abs(offset_minutes);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{:02}:{:02}", int{ymd.year()},
                     unsigned{ymd.month()}, unsigned{ymd.day()}, time.hours().count(),
                     time.minutes().count(), time.seconds().count(), offset_minutes < 0 ? '-' : '+',
                     abs_minutes / 60, abs_minutes % 60);
}

std::vector<BucketRange> buckets(Frame frame, const date::time_zone* zone, Timestamp from,
                                 Timestamp to) {
  std::vector<BucketRange> out;
  if (from >= to) return out;
  const auto edges = boundaries(frame, *zone, from, to);
  for (std::size_t i = 0; i + 1 < edges.size(); ++i) {
    if (edges[i] < to && edges[i + 1] > from) {
      out.push_back(
          {edges[i], edges[i + 1], format_local(edges[i], zone), format_local(edges[i + 1], zone)});
    }
  }
  return out;
}

std::chrono::hours max_span(Frame frame) {
  switch (frame) {
    case Frame::five_minutes:
      return days{7};
    case Frame::hour:
      return days{93};
    case Frame::day:
      return days{1'100};
    case Frame::month:
      return days{7'320};
  }
  return hours{0};
}

Result<void> check_range(Frame frame, Timestamp from, Timestamp to) {
  if (from >= to) {
    return fail(fmt::format("range: from ({}) must be before to ({})", format_rfc3339(from),
                            format_rfc3339(to)));
  }
  const auto limit = max_span(frame);
  if (to - from > limit) {
    return fail(fmt::format("range: frame={} allows at most {} days, asked for {:.1f}",
                            to_string(frame), std::chrono::floor<days>(limit).count(),
                            std::chrono::duration<double, std::ratio<86400>>(to - from).count()));
  }
  return {};
}

TimeRange default_range(Frame frame, Timestamp now, const date::time_zone* zone) {
  const auto today = local_day(*zone, now);
  switch (frame) {
    case Frame::five_minutes: {
      const auto end = base_bucket_start(now) + kBaseBucketWidth;
      return {end - hours{24}, end};
    }
    case Frame::hour:
      return {start_of(*zone, local_midnight(today - days{1})),
              start_of(*zone, local_midnight(today + days{1}))};
    case Frame::day:
      return {start_of(*zone, local_midnight(today - days{30})),
              start_of(*zone, local_midnight(today + days{1}))};
    case Frame::month: {
      const date::year_month_day ymd{today};
      const date::year_month month{ymd.year(), ymd.month()};
      return {start_of(*zone, first_of_month(month - date::months{11})),
              start_of(*zone, first_of_month(month + date::months{1}))};
    }
  }
  return {now, now};
}

}  // namespace sungrow::rollup
