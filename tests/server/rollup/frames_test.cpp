// Local bucket boundaries: DST days, half- and quarter-hour zones, limits and default ranges.
#include "sungrow/server/rollup/frames.hpp"

#include <date/tz.h>
#include <gtest/gtest.h>

#include <iostream>
#include <set>
#include <stdexcept>

namespace sungrow::rollup {
namespace {

using namespace std::chrono_literals;

Timestamp at(const char* rfc3339) {
  const auto t = parse_rfc3339(rfc3339);
  if (!t) throw std::invalid_argument(rfc3339);
  return *t;
}

const date::time_zone* zone(const char* name) {
  return find_zone(name).value();
}

std::vector<BucketRange> local_day_buckets(Frame frame, const char* tz, const char* from,
                                           const char* to) {
  return buckets(frame, zone(tz), at(from), at(to));
}

TEST(Frame, ParsesTheQueryValues) {
  EXPECT_EQ(parse_frame("5m").value(), Frame::five_minutes);
  EXPECT_EQ(parse_frame("hour").value(), Frame::hour);
  EXPECT_EQ(parse_frame("day").value(), Frame::day);
  EXPECT_EQ(parse_frame("month").value(), Frame::month);
  EXPECT_FALSE(parse_frame("Day"));
  EXPECT_FALSE(parse_frame(""));
  EXPECT_NE(parse_frame("week").error().message.find("week"), std::string::npos);
}

TEST(Zone, UnknownNamesAreClearErrors) {
  EXPECT_TRUE(find_zone("Europe/Amsterdam"));
  EXPECT_TRUE(find_zone("UTC"));
  const auto bad = find_zone("Mars/Olympus_Mons");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("Mars/Olympus_Mons"), std::string::npos);
}

TEST(Buckets, UtcDaysHoursAndMonths) {
  const auto days =
      local_day_buckets(Frame::day, "UTC", "2028-02-27T10:00:00Z", "2028-03-01T00:00:00Z");
  ASSERT_EQ(days.size(), 3u);  // whole buckets overlapping the range: 27, 28, 29 Feb
  EXPECT_EQ(days[0].start, at("2028-02-27T00:00:00Z"));
  EXPECT_EQ(days[0].local_start, "2028-02-27T00:00:00+00:00");
  EXPECT_EQ(days[2].end, at("2028-03-01T00:00:00Z"));

  const auto months =
      local_day_buckets(Frame::month, "UTC", "2028-01-01T00:00:00Z", "2029-01-01T00:00:00Z");
  ASSERT_EQ(months.size(), 12u);
  EXPECT_EQ(months[1].end - months[1].start, 29 * 24h);  // leap February
  EXPECT_EQ(months[11].local_end, "2029-01-01T00:00:00+00:00");

  const auto hours =
      local_day_buckets(Frame::hour, "UTC", "2026-06-01T00:30:00Z", "2026-06-01T03:00:00Z");
  ASSERT_EQ(hours.size(), 3u);
  EXPECT_EQ(hours[0].start, at("2026-06-01T00:00:00Z"));
}

TEST(Buckets, FiveMinutesCarryTheLocalOffset) {
  const auto b = local_day_buckets(Frame::five_minutes, "Asia/Kathmandu", "2026-06-01T00:02:00Z",
                                   "2026-06-01T00:15:00Z");
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].start, at("2026-06-01T00:00:00Z"));
  EXPECT_EQ(b[0].local_start, "2026-06-01T05:45:00+05:45");
  EXPECT_EQ(b[2].local_end, "2026-06-01T06:00:00+05:45");
}

TEST(Buckets, AmsterdamSpringForwardDayHas23Hours) {
  const auto days = local_day_buckets(Frame::day, "Europe/Amsterdam", "2026-03-29T00:00:00+01:00",
                                      "2026-03-30T00:00:00+02:00");
  ASSERT_EQ(days.size(), 1u);
  EXPECT_EQ(days[0].end - days[0].start, 23h);
  EXPECT_EQ(days[0].local_start, "2026-03-29T00:00:00+01:00");
  EXPECT_EQ(days[0].local_end, "2026-03-30T00:00:00+02:00");

  const auto hours = buckets(Frame::hour, zone("Europe/Amsterdam"), days[0].start, days[0].end);
  ASSERT_EQ(hours.size(), 23u);
  for (const auto& h : hours) EXPECT_EQ(h.end - h.start, 1h) << h.local_start;
  EXPECT_EQ(hours[1].local_start, "2026-03-29T01:00:00+01:00");
  EXPECT_EQ(hours[1].local_end, "2026-03-29T03:00:00+02:00");  // 02:00 never happens
  EXPECT_EQ(hours[2].local_start, "2026-03-29T03:00:00+02:00");
}

TEST(Buckets, AmsterdamFallBackDayHas25HoursAndTwoTwoOClocks) {
  const auto days = local_day_buckets(Frame::day, "Europe/Amsterdam", "2026-10-25T00:00:00+02:00",
                                      "2026-10-26T00:00:00+01:00");
  ASSERT_EQ(days.size(), 1u);
  EXPECT_EQ(days[0].end - days[0].start, 25h);
  EXPECT_EQ(days[0].local_start, "2026-10-25T00:00:00+02:00");
  EXPECT_EQ(days[0].local_end, "2026-10-26T00:00:00+01:00");

  const auto hours = buckets(Frame::hour, zone("Europe/Amsterdam"), days[0].start, days[0].end);
  ASSERT_EQ(hours.size(), 25u);
  for (const auto& h : hours) EXPECT_EQ(h.end - h.start, 1h) << h.local_start;
  EXPECT_EQ(hours[2].local_start, "2026-10-25T02:00:00+02:00");
  EXPECT_EQ(hours[2].start, at("2026-10-25T00:00:00Z"));
  EXPECT_EQ(hours[3].local_start, "2026-10-25T02:00:00+01:00");
  EXPECT_EQ(hours[3].start, at("2026-10-25T01:00:00Z"));
  EXPECT_EQ(hours[3].local_end, "2026-10-25T03:00:00+01:00");
}

TEST(Buckets, MonthsSpanningADstChange) {
  const auto months = local_day_buckets(Frame::month, "Europe/Amsterdam", "2026-03-15T00:00:00Z",
                                        "2026-10-15T00:00:00Z");
  ASSERT_EQ(months.size(), 8u);
  EXPECT_EQ(months[0].local_start, "2026-03-01T00:00:00+01:00");
  EXPECT_EQ(months[0].local_end, "2026-04-01T00:00:00+02:00");
  EXPECT_EQ(months[0].end - months[0].start, 31 * 24h - 1h);
  EXPECT_EQ(months[7].local_start, "2026-10-01T00:00:00+02:00");
  EXPECT_EQ(months[7].local_end, "2026-11-01T00:00:00+01:00");
  EXPECT_EQ(months[7].end - months[7].start, 31 * 24h + 1h);
}

TEST(Buckets, HalfAndQuarterHourZones) {
  const auto kolkata = local_day_buckets(Frame::day, "Asia/Kolkata", "2026-06-01T00:00:00+05:30",
                                         "2026-06-02T00:00:00+05:30");
  ASSERT_EQ(kolkata.size(), 1u);
  EXPECT_EQ(kolkata[0].start, at("2026-05-31T18:30:00Z"));
  EXPECT_EQ(kolkata[0].end - kolkata[0].start, 24h);

  const auto kathmandu = local_day_buckets(Frame::hour, "Asia/Kathmandu", "2026-06-01T00:00:00Z",
                                           "2026-06-01T02:00:00Z");
  ASSERT_EQ(kathmandu.size(), 3u);  // hours start at :15 UTC
  EXPECT_EQ(kathmandu[0].start, at("2026-05-31T23:15:00Z"));
  EXPECT_EQ(kathmandu[0].local_start, "2026-06-01T05:00:00+05:45");
  EXPECT_EQ(kathmandu[1].start, at("2026-06-01T00:15:00Z"));

  const auto month = local_day_buckets(Frame::month, "Asia/Kathmandu", "2026-06-10T00:00:00Z",
                                       "2026-06-11T00:00:00Z");
  ASSERT_EQ(month.size(), 1u);
  EXPECT_EQ(month[0].start, at("2026-05-31T18:15:00Z"));
  EXPECT_EQ(month[0].local_end, "2026-07-01T00:00:00+05:45");
}

TEST(Buckets, StJohnsMinusThreeThirtyWithDst) {
  // Newfoundland: −03:30, DST −02:30 from 2026-03-08 02:00 local.
  const auto days = local_day_buckets(Frame::day, "America/St_Johns", "2026-03-08T12:00:00Z",
                                      "2026-03-08T13:00:00Z");
  ASSERT_EQ(days.size(), 1u);
  EXPECT_EQ(days[0].start, at("2026-03-08T03:30:00Z"));
  EXPECT_EQ(days[0].end - days[0].start, 23h);
  EXPECT_EQ(days[0].local_end, "2026-03-09T00:00:00-02:30");
}

TEST(Buckets, LordHoweHalfHourDstShift) {
  // +10:30 standard, +11:00 summer; clocks go 02:00 → 02:30 on 2026-10-04 and 02:00 → 01:30 on
  // 2026-04-05.
  const auto* lord_howe = zone("Australia/Lord_Howe");
  const auto spring = local_day_buckets(Frame::day, "Australia/Lord_Howe",
                                        "2026-10-04T00:00:00+10:30", "2026-10-04T12:00:00+11:00");
  ASSERT_EQ(spring.size(), 1u);
  EXPECT_EQ(spring[0].end - spring[0].start, 23h + 30min);
  const auto spring_hours = buckets(Frame::hour, lord_howe, spring[0].start, spring[0].end);
  ASSERT_EQ(spring_hours.size(), 24u);
  // 02:00 local does not exist: the 02:00 hour begins at the transition (02:30) and lasts 30 min.
  EXPECT_EQ(spring_hours[1].local_end, "2026-10-04T02:30:00+11:00");
  EXPECT_EQ(spring_hours[2].local_start, "2026-10-04T02:30:00+11:00");
  EXPECT_EQ(spring_hours[2].end - spring_hours[2].start, 30min);

  const auto autumn = local_day_buckets(Frame::day, "Australia/Lord_Howe",
                                        "2026-04-05T00:00:00+11:00", "2026-04-05T12:00:00+10:30");
  ASSERT_EQ(autumn.size(), 1u);
  EXPECT_EQ(autumn[0].end - autumn[0].start, 24h + 30min);
  const auto autumn_hours = buckets(Frame::hour, lord_howe, autumn[0].start, autumn[0].end);
  ASSERT_EQ(autumn_hours.size(), 24u);
  // 01:30–02:00 repeats; the clock first reads 02:00 after the repeat, so 01:00 lasts 90 min.
  EXPECT_EQ(autumn_hours[1].local_start, "2026-04-05T01:00:00+11:00");
  EXPECT_EQ(autumn_hours[1].local_end, "2026-04-05T02:00:00+10:30");
  EXPECT_EQ(autumn_hours[1].end - autumn_hours[1].start, 90min);
}

TEST(Buckets, MidnightThatIsSkippedOrRepeated) {
  // Cuba moves clocks at midnight: 2026-03-08 00:00 → 01:00 and 2026-11-01 01:00 → 00:00.
  const auto skipped = local_day_buckets(Frame::day, "America/Havana", "2026-03-08T12:00:00Z",
                                         "2026-03-08T13:00:00Z");
  ASSERT_EQ(skipped.size(), 1u);
  EXPECT_EQ(skipped[0].local_start, "2026-03-08T01:00:00-04:00");  // the day starts at the jump
  EXPECT_EQ(skipped[0].end - skipped[0].start, 23h);
  EXPECT_EQ(skipped[0].start, at("2026-03-08T05:00:00Z"));

  const auto repeated = local_day_buckets(Frame::day, "America/Havana", "2026-11-01T12:00:00Z",
                                          "2026-11-01T13:00:00Z");
  ASSERT_EQ(repeated.size(), 1u);
  EXPECT_EQ(repeated[0].local_start, "2026-11-01T00:00:00-04:00");  // choose::earliest
  EXPECT_EQ(repeated[0].end - repeated[0].start, 25h);
}

void expect_on_grid_and_contiguous(const std::vector<BucketRange>& ranges, std::string_view zone) {
  ASSERT_FALSE(ranges.empty()) << zone;
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    ASSERT_EQ(ranges[i].start.time_since_epoch() % 5min, 0ms)
        << zone << " " << ranges[i].local_start;
    ASSERT_LT(ranges[i].start, ranges[i].end) << zone << " " << ranges[i].local_start;
    if (i > 0) {
      ASSERT_EQ(ranges[i - 1].end, ranges[i].start) << zone;
    }
  }
}

// The base-bucket design rests on this: every hour/day/month boundary of every real zone is an
// instant on the UTC 5-minute grid. Labels are whole local hours, so between transitions it follows
// from the offsets; at transitions the bucket walk checks it for every zone, 2000–2030.
TEST(Buckets, EveryZoneBoundaryFallsOnTheFiveMinuteGrid) {
  const auto first = date::sys_seconds{date::sys_days{date::year{2000} / 1 / 1}};
  const auto last = date::sys_seconds{date::sys_days{date::year{2031} / 1 / 1}};
  std::set<std::string> off_grid_offsets;
  std::set<std::string> off_grid_transitions;
  const auto& tzdb = date::get_tzdb();
  ASSERT_GT(tzdb.zones.size(), 300u);
  for (const auto& z : tzdb.zones) {
    const std::string name{z.name()};
    for (auto t = first; t < last;) {
      const auto info = z.get_info(t);
      if (info.offset % 5min != 0s) off_grid_offsets.insert(name);
      if (info.begin >= first) {
        if (info.begin.time_since_epoch() % 5min != 0s) off_grid_transitions.insert(name);
        const Timestamp at_change{info.begin.time_since_epoch()};
        expect_on_grid_and_contiguous(buckets(Frame::hour, &z, at_change - 3h, at_change + 3h),
                                      name);
        expect_on_grid_and_contiguous(buckets(Frame::day, &z, at_change - 48h, at_change + 48h),
                                      name);
      }
      if (info.end <= t) break;
      t = info.end;
    }
    expect_on_grid_and_contiguous(buckets(Frame::month, &z, Timestamp{first.time_since_epoch()},
                                          Timestamp{last.time_since_epoch()}),
                                  name);
  }
  std::string report;
  for (const auto& zone_name : off_grid_offsets) report += zone_name + " ";
  EXPECT_TRUE(off_grid_offsets.empty()) << "zones with an offset off the 5-minute grid: " << report;
  // Informational: transitions off the grid are absorbed by the floor in buckets().
  report.clear();
  for (const auto& zone_name : off_grid_transitions) report += zone_name + " ";
  RecordProperty("off_grid_transitions", report);
  std::cout << "zones with transitions off the 5-minute grid in 2000-2030 (absorbed): " << report
            << "\n";
}

TEST(Buckets, AMidnightPlusOneMinuteTransitionStaysOnTheGrid) {
  // St. John's sprang forward at 00:01 NST → 01:01 NDT until 2011 (03:31 UTC).
  const auto hours = local_day_buckets(Frame::hour, "America/St_Johns", "2000-04-02T02:30:00Z",
                                       "2000-04-02T06:30:00Z");
  ASSERT_EQ(hours.size(), 4u);  // 23:00, 00:00 (spanning the gap), 02:00, 03:00
  EXPECT_EQ(hours[1].local_start, "2000-04-02T00:00:00-03:30");
  EXPECT_EQ(hours[1].local_end, "2000-04-02T02:00:00-02:30");
  EXPECT_EQ(hours[1].end - hours[1].start, 1h);
}

TEST(Limits, RefuseEmptyAndTooLargeRanges) {
  const auto t = at("2026-01-01T00:00:00Z");
  EXPECT_FALSE(check_range(Frame::day, t, t));
  EXPECT_FALSE(check_range(Frame::day, t, t - 1ms));
  EXPECT_TRUE(check_range(Frame::five_minutes, t, t + std::chrono::days{7}));
  EXPECT_FALSE(check_range(Frame::five_minutes, t, t + std::chrono::days{7} + 1ms));
  EXPECT_TRUE(check_range(Frame::hour, t, t + std::chrono::days{93}));
  EXPECT_FALSE(check_range(Frame::hour, t, t + std::chrono::days{94}));
  EXPECT_TRUE(check_range(Frame::day, t, t + std::chrono::days{1'096}));
  EXPECT_FALSE(check_range(Frame::day, t, t + std::chrono::days{1'101}));
  EXPECT_TRUE(check_range(Frame::month, t, at("2046-01-01T00:00:00Z")));
  EXPECT_FALSE(check_range(Frame::month, t, at("2047-01-01T00:00:00Z")));
  const auto err = check_range(Frame::hour, t, t + std::chrono::days{100});
  EXPECT_NE(err.error().message.find("93 days"), std::string::npos) << err.error().message;
}

TEST(Limits, DefaultRangesFollowTheLocalCalendar) {
  const auto* ams = zone("Europe/Amsterdam");
  const auto now = at("2026-10-25T12:03:00Z");
  const auto five = default_range(Frame::five_minutes, now, ams);
  EXPECT_EQ(five.to, at("2026-10-25T12:05:00Z"));
  EXPECT_EQ(five.to - five.from, 24h);
  EXPECT_EQ(default_range(Frame::hour, now, ams),
            (TimeRange{at("2026-10-24T00:00:00+02:00"), at("2026-10-26T00:00:00+01:00")}));
  EXPECT_EQ(default_range(Frame::day, now, ams),
            (TimeRange{at("2026-09-25T00:00:00+02:00"), at("2026-10-26T00:00:00+01:00")}));
  EXPECT_EQ(default_range(Frame::month, now, ams),
            (TimeRange{at("2025-11-01T00:00:00+01:00"), at("2026-11-01T00:00:00+01:00")}));
  // Just after local midnight the local day is already the next one.
  EXPECT_EQ(default_range(Frame::day, at("2026-10-25T23:30:00Z"), ams).to,
            at("2026-10-27T00:00:00+01:00"));
  for (const auto frame : {Frame::five_minutes, Frame::hour, Frame::day, Frame::month}) {
    const auto r = default_range(frame, now, ams);
    EXPECT_TRUE(check_range(frame, r.from, r.to)) << to_string(frame);
  }
}

}  // namespace
}  // namespace sungrow::rollup
