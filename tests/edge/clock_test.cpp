// The clock rule: which time each poll gets, from which clock, and the inverter clock's registers.
#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "sungrow/edge/clock/edge_clock.hpp"
#include "sungrow/edge/clock/inverter_clock.hpp"

namespace sungrow::edge {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using Steady = EdgeClock::Steady;

// 2026-11-26T12:00:00Z and an arbitrary point of the monotonic clock.
const Timestamp kUtc{1'795'694'400'000ms};
const Steady kSteady = Steady{} + 10'000h;

// The six clock registers for `utc` shown in a zone `offset` ahead of UTC (plus the inverter's
// own error), truncated to the second like the real registers.
std::vector<std::uint16_t> registers_for(Timestamp utc, milliseconds offset) {
  const std::chrono::local_time<milliseconds> local{utc.time_since_epoch() + offset};
  const auto day = std::chrono::floor<std::chrono::days>(local);
  const std::chrono::year_month_day date{day};
  const std::chrono::hh_mm_ss time{std::chrono::floor<std::chrono::seconds>(local - day)};
  return {static_cast<std::uint16_t>(static_cast<int>(date.year())),
          static_cast<std::uint16_t>(static_cast<unsigned>(date.month())),
          static_cast<std::uint16_t>(static_cast<unsigned>(date.day())),
          static_cast<std::uint16_t>(time.hours().count()),
          static_cast<std::uint16_t>(time.minutes().count()),
          static_cast<std::uint16_t>(time.seconds().count())};
}

Result<std::vector<std::uint16_t>> reading(Timestamp utc, milliseconds offset) {
  return registers_for(utc, offset);
}

ClockSettings settings(std::chrono::seconds interval = 600s) {
  return ClockSettings{.check_interval = interval, .first_retry = 60s, .edge_zone = {}};
}

// The inverter's registers only show whole seconds: a stamp from them is within a second of the
// truth (half a second either way, plus the truncation).
void expect_within_a_second(Timestamp got, Timestamp want) {
  EXPECT_LE(std::chrono::abs(got - want), 1000ms)
      << format_rfc3339(got) << " vs " << format_rfc3339(want);
}

TEST(InverterClock, DecodesAValidTimeAndFormatsItLocal) {
  const std::array<std::uint16_t, 6> words{2028, 2, 29, 23, 59, 58};
  const auto t = decode_inverter_clock(words);
  ASSERT_TRUE(t) << t.error().message;
  EXPECT_EQ(format_local(*t), "2028-02-29T23:59:58");
}

TEST(InverterClock, RefusesGarbageNamingTheWord) {
  const std::vector<std::pair<std::array<std::uint16_t, 6>, std::string>> cases{
      {{0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF}, "year"},
      {{1999, 12, 31, 23, 59, 59}, "year"},
      {{2026, 0, 1, 0, 0, 0}, "month"},
      {{2026, 13, 1, 0, 0, 0}, "month"},
      {{2026, 2, 29, 0, 0, 0}, "day"},  // not a leap year
      {{2026, 4, 31, 0, 0, 0}, "day"},
      {{2026, 4, 0, 0, 0, 0}, "day"},
      {{2026, 4, 1, 24, 0, 0}, "hour"},
      {{2026, 4, 1, 0, 60, 0}, "minute"},
      {{2026, 4, 1, 0, 0, 60}, "second"},
  };
  for (const auto& [words, what] : cases) {
    const auto t = decode_inverter_clock(words);
    ASSERT_FALSE(t) << what;
    EXPECT_NE(t.error().message.find("(" + what + ")"), std::string::npos) << t.error().message;
  }
  const std::array<std::uint16_t, 5> short_read{2026, 4, 1, 0, 0};
  EXPECT_FALSE(decode_inverter_clock(short_read));
}

TEST(EdgeClock, ASynchronizedClockIsTheTimeAndMeasuresTheReference) {
  EdgeClock clock(settings(), std::nullopt);
  EXPECT_TRUE(clock.read_due(kSteady));
  // An inverter in UTC+01:00 whose own clock is 2 s fast.
  EXPECT_TRUE(clock.observe_read(reading(kUtc, 1h + 2s), kUtc, kSteady, true));
  ASSERT_TRUE(clock.reference());
  EXPECT_LE(std::chrono::abs(clock.reference()->inverter_offset - (1h + 2s)), 1s);
  EXPECT_EQ(clock.reference()->measured_at, kUtc);
  const auto stamp = clock.stamp(kUtc + 5s, kSteady + 5s, true);
  EXPECT_EQ(stamp.ts, kUtc + 5s);
  EXPECT_EQ(stamp.source, TsSource::ntp);
  EXPECT_FALSE(stamp.adjust_ms);
  EXPECT_FALSE(clock.read_due(kSteady + 599s));
  EXPECT_TRUE(clock.read_due(kSteady + 600s));
}

// The case the rule exists for: a Pi restarts during an internet outage with its clock three
// hours behind and no NTP; the reference measured before the restart turns the inverter's clock
// into UTC, from the first poll on, and carries it on the monotonic clock.
TEST(EdgeClock, AfterARestartWithoutNtpTheInverterClockGivesTheTime) {
  const ClockReference kept{1h + 2s, kUtc - 2h};
  EdgeClock clock(settings(), kept);
  const auto truth = kUtc;
  const auto edge = truth - 3h;
  // The poll began 150 ms before the clock read that followed it in the same cycle.
  ASSERT_FALSE(clock.observe_read(reading(truth, 1h + 2s), edge, kSteady, false));
  const auto stamp = clock.stamp(edge - 150ms, kSteady - 150ms, false);
  EXPECT_EQ(stamp.source, TsSource::inverter);
  expect_within_a_second(stamp.ts, truth - 150ms);
  ASSERT_TRUE(stamp.adjust_ms);
  EXPECT_EQ(stamp.ts - milliseconds{*stamp.adjust_ms}, edge - 150ms);  // the edge clock's reading
  // Later polls ride the monotonic clock, whatever the wall clock does meanwhile.
  const auto later = clock.stamp(edge - 7h, kSteady + 65s, false);
  EXPECT_EQ(later.source, TsSource::inverter);
  expect_within_a_second(later.ts, truth + 65s);
  // NTP syncs (the clock steps to the truth): the synchronized clock takes over.
  const auto synced = clock.stamp(truth + 70s, kSteady + 70s, true);
  EXPECT_EQ(synced.source, TsSource::ntp);
  EXPECT_EQ(synced.ts, truth + 70s);
  EXPECT_EQ(clock.health().inverter_reads.size(), 19U);
  EXPECT_TRUE(clock.health().inverter_minus_edge);
}

TEST(EdgeClock, WithoutReferenceOrReadingTheClockIsMarkedUnsynced) {
  EdgeClock never_measured(settings(), std::nullopt);
  ASSERT_FALSE(never_measured.observe_read(reading(kUtc, 1h), kUtc - 3h, kSteady, false));
  const auto a = never_measured.stamp(kUtc - 3h, kSteady, false);
  EXPECT_EQ(a.source, TsSource::unsynced);
  EXPECT_EQ(a.ts, kUtc - 3h);  // never guessed: the edge clock's reading, marked
  EXPECT_FALSE(a.adjust_ms);
  EXPECT_FALSE(never_measured.reference());

  EdgeClock not_read_yet(settings(), ClockReference{1h, kUtc - 2h});
  EXPECT_EQ(not_read_yet.stamp(kUtc - 3h, kSteady, false).source, TsSource::unsynced);
}

TEST(EdgeClock, FailedReadsBackOffAndKeepTheLastGoodReading) {
  EdgeClock clock(settings(), ClockReference{1h, kUtc - 2h});
  ASSERT_FALSE(clock.observe_read(reading(kUtc, 1h), kUtc - 3h, kSteady, false));
  auto t = kSteady;
  const std::array<std::chrono::seconds, 5> waits{60s, 120s, 240s, 480s, 600s};
  for (const auto wait : waits) {
    const Result<std::vector<std::uint16_t>> refused{fail("modbus: holding 5000×6: exception 2")};
    ASSERT_FALSE(clock.observe_read(refused, kUtc - 3h, t, false));
    EXPECT_FALSE(clock.read_due(t + wait - 1s)) << wait.count();
    EXPECT_TRUE(clock.read_due(t + wait)) << wait.count();
    t += wait;
  }
  EXPECT_EQ(clock.health().consecutive_failures, 5U);
  EXPECT_NE(clock.health().last_error.find("exception 2"), std::string::npos);
  // Garbage is one more failure, never a time.
  const std::vector<std::uint16_t> ffff(6, 0xFFFF);
  ASSERT_FALSE(clock.observe_read(ffff, kUtc - 3h, t, false));
  EXPECT_NE(clock.health().last_error.find("no valid time"), std::string::npos);
  const auto elapsed = std::chrono::duration_cast<milliseconds>(t - kSteady);
  // The reading before the failures still carries the time.
  const auto stamp = clock.stamp(kUtc - 3h, t, false);
  EXPECT_EQ(stamp.source, TsSource::inverter);
  expect_within_a_second(stamp.ts, kUtc + elapsed);
  // A good read clears the count.
  ASSERT_FALSE(clock.observe_read(reading(kUtc + elapsed, 1h), kUtc - 3h, t, false));
  EXPECT_EQ(clock.health().consecutive_failures, 0U);
  EXPECT_TRUE(clock.health().last_error.empty());
}

// An inverter clock that was never set (or reset to 2000) is no reference; while unsynchronized,
// a reading before the instant the reference was verified proves the inverter's clock changed.
TEST(EdgeClock, AnImplausibleInverterClockIsNeverUsed) {
  EdgeClock clock(settings(), ClockReference{1h, kUtc - 2h});
  const Timestamp y2000{946'684'800'000ms};
  EXPECT_TRUE(clock.observe_read(reading(y2000, 0ms), kUtc, kSteady, true));  // clears it
  EXPECT_FALSE(clock.reference());
  EXPECT_NE(clock.health().last_error.find("no time zone"), std::string::npos);
  EXPECT_EQ(clock.stamp(kUtc - 3h, kSteady, false).source, TsSource::unsynced);

  EdgeClock behind(settings(), ClockReference{1h, kUtc - 2h});
  ASSERT_FALSE(behind.observe_read(reading(kUtc - 5h, 1h), kUtc - 3h, kSteady, false));
  EXPECT_NE(behind.health().last_error.find("before the last verified time"), std::string::npos);
  EXPECT_EQ(behind.stamp(kUtc - 3h, kSteady, false).source, TsSource::unsynced);
}

// An inverter keeping the edge's zone: a DST change between the measurement (winter, +01:00) and
// the restart (summer, +02:00) costs no hour. Without the zone the measured offset is all there is.
TEST(EdgeClock, AnInverterInTheEdgesZoneFollowsItsDaylightSavingTime) {
  const Timestamp dst{1'774'746'000'000ms};  // 2026-03-29T01:00:00Z, Europe's spring change
  const ZoneOffset europe = [dst](Timestamp t) -> std::optional<std::chrono::seconds> {
    return t < dst ? 1h : 2h;
  };
  const ClockReference winter{1h + 1500ms, dst - 6h};  // the inverter runs 1.5 s fast
  const auto truth = dst + 5h;
  for (const bool follow : {true, false}) {
    auto s = settings();
    if (follow) s.edge_zone = europe;
    EdgeClock clock(s, winter);
    ASSERT_FALSE(clock.observe_read(reading(truth, 2h + 1500ms), truth - 9h, kSteady, false));
    const auto stamp = clock.stamp(truth - 9h, kSteady, false);
    EXPECT_EQ(stamp.source, TsSource::inverter);
    expect_within_a_second(stamp.ts, follow ? truth : truth + 1h);
  }
  // A zone the inverter does not keep (the edge on UTC, the inverter at +05:45): as measured.
  auto s = settings();
  s.edge_zone = [](Timestamp) -> std::optional<std::chrono::seconds> { return 0s; };
  EdgeClock kathmandu(s, ClockReference{5h + 45min, dst - 6h});
  ASSERT_FALSE(kathmandu.observe_read(reading(truth, 5h + 45min), truth - 9h, kSteady, false));
  expect_within_a_second(kathmandu.stamp(truth - 9h, kSteady, false).ts, truth);
}

TEST(EdgeClock, AnIntervalOfZeroNeverReadsTheInverter) {
  EdgeClock clock(settings(0s), ClockReference{1h, kUtc});
  EXPECT_FALSE(clock.read_due(kSteady));
  EXPECT_FALSE(clock.health().checking);
  EXPECT_EQ(clock.stamp(kUtc, kSteady, false).source, TsSource::unsynced);
  EXPECT_EQ(clock.stamp(kUtc, kSteady, true).source, TsSource::ntp);
}

}  // namespace
}  // namespace sungrow::edge
