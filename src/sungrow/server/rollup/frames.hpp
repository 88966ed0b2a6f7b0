// Series frames and their bucket ranges: local hour/day/month boundaries of an IANA zone, in UTC.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "sungrow/core/result.hpp"
#include "sungrow/core/time.hpp"

namespace date {
class time_zone;
}

namespace sungrow::rollup {

enum class Frame { five_minutes, hour, day, month };

// "5m", "hour", "day", "month" — the `frame` query parameter.
Result<Frame> parse_frame(std::string_view text);
std::string_view to_string(Frame frame);

// An IANA name from the OS tz database; an error naming the zone when it is unknown.
Result<const date::time_zone*> find_zone(std::string_view iana);

// One bucket: [start, end) in UTC, plus both ends as local RFC 3339 text with the offset in effect
// at that instant ("2026-10-25T00:00:00+02:00" … "2026-10-26T00:00:00+01:00").
struct BucketRange {
  Timestamp start{};
  Timestamp end{};
  std::string local_start;
  std::string local_end;

  bool operator==(const BucketRange&) const = default;
};

// Every bucket of `frame` overlapping [from, to), whole (not clipped), in order. A bucket starts
// where the local clock first reads its label: a nonexistent local midnight (or hour) starts at the
// DST transition (floored to the 5-minute grid); an ambiguous local midnight or month start uses
// the earlier instant (date::choose::earliest), while an ambiguous local hour yields two buckets
// (the repeated hour). Every boundary is on the UTC 5-minute grid, so frames derive from base
// buckets.
std::vector<BucketRange> buckets(Frame frame, const date::time_zone* zone, Timestamp from,
                                 Timestamp to);

// The widest [from, to) per frame (bounded so a response stays under ~3 000 buckets):
// 5m ≤ 7 days, hour ≤ 93 days, day ≤ 1 100 days (3 years), month ≤ 7 320 days (20 years).
std::chrono::hours max_span(Frame frame);
Result<void> check_range(Frame frame, Timestamp from, Timestamp to);

struct TimeRange {
  Timestamp from{};
  Timestamp to{};

  bool operator==(const TimeRange&) const = default;
};

// For an omitted from/to; every range ends at the end of the bucket holding `now`:
// 5m: the last 24 h; hour: yesterday and today (local); day: the last 31 local days;
// month: the last 12 local months.
TimeRange default_range(Frame frame, Timestamp now, const date::time_zone* zone);

// "2026-10-25T02:00:00+01:00": `instant` on the local clock of `zone`, whole seconds.
std::string format_local(Timestamp instant, const date::time_zone* zone);

}  // namespace sungrow::rollup
