// Health: status classification and the atomic, parseable health file.
#include "sungrow/edge/health.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace sungrow::edge {
namespace {

TEST(Health, ClassifiesStatus) {
  HealthState s;
  EXPECT_EQ(classify(s), HealthStatus::ok);
  s.consecutive_upload_failures = 1;
  EXPECT_EQ(classify(s), HealthStatus::degraded);
  s.consecutive_upload_failures = 0;
  s.dead_letters = 1;
  EXPECT_EQ(classify(s), HealthStatus::degraded);
  s.dead_letters = 0;
  s.consecutive_poll_failures = 3;
  EXPECT_EQ(classify(s), HealthStatus::failing);
  s.consecutive_poll_failures = 0;
  s.pending_in_memory = 2;
  EXPECT_EQ(classify(s), HealthStatus::failing);
}

TEST(Health, FileIsReplacedAtomicallyAndParses) {
  const auto dir = std::filesystem::temp_directory_path() / "sungrow-health-test";
  std::filesystem::create_directories(dir);
  const auto path = dir / "health.json";
  HealthState s;
  s.last_poll_at = Timestamp{std::chrono::milliseconds{1'700'000'000'000}};
  s.last_poll_ok = true;
  s.spool_depth = 12;
  s.oldest_unsent = s.last_poll_at;
  ASSERT_TRUE(write_health_file(path, s, *s.last_poll_at));
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  const auto v = boost::json::parse(text.str());
  EXPECT_EQ(v.at("status").as_string(), "ok");
  EXPECT_EQ(v.at("spool").at("depth").as_int64(), 12);
  EXPECT_EQ(v.at("poll").at("last_at").as_string(), "2023-11-14T22:13:20.000Z");
  EXPECT_TRUE(v.at("upload").at("last_at").is_null());
  EXPECT_FALSE(std::filesystem::exists(dir / "health.json.tmp"));
  std::filesystem::remove_all(dir);
}

// The clock section: whether the edge clock is synchronized, where the last sample's time came
// from, what the inverter's clock read, and the reference measured against it.
TEST(Health, TheClockSectionSaysWhereSampleTimesComeFrom) {
  HealthState s;
  const auto fresh = boost::json::parse(health_json(s, now_utc())).at("clock");
  EXPECT_FALSE(fresh.at("synchronized").as_bool());
  EXPECT_TRUE(fresh.at("ts_source").is_null());
  EXPECT_TRUE(fresh.at("reference").is_null());
  EXPECT_TRUE(fresh.at("inverter").at("read_at").is_null());

  const Timestamp at{std::chrono::milliseconds{1'700'000'000'000}};
  s.clock.synchronized = false;
  s.clock.inverter_read_at = at;
  s.clock.inverter_reads = "2023-11-14T23:13:20";
  s.clock.inverter_minus_edge = std::chrono::milliseconds{3'600'500};
  s.clock.consecutive_failures = 2;
  s.clock.last_error = "modbus: holding 5000×6: exception 2";
  s.clock.reference = ClockReference{std::chrono::milliseconds{3'600'250}, at};
  s.last_ts_source = TsSource::inverter;
  s.last_ts_adjust_ms = 10'800'000;
  const auto c = boost::json::parse(health_json(s, now_utc())).at("clock");
  EXPECT_EQ(c.at("ts_source").as_string(), "inverter");
  EXPECT_EQ(c.at("ts_adjust_ms").as_int64(), 10'800'000);
  EXPECT_TRUE(c.at("inverter").at("checked").as_bool());
  EXPECT_EQ(c.at("inverter").at("reads").as_string(), "2023-11-14T23:13:20");
  EXPECT_EQ(c.at("inverter").at("minus_edge_ms").as_int64(), 3'600'500);
  EXPECT_EQ(c.at("inverter").at("consecutive_failures").as_int64(), 2);
  EXPECT_EQ(c.at("reference").at("measured_at").as_string(), "2023-11-14T22:13:20.000Z");
  EXPECT_EQ(c.at("reference").at("inverter_utc_offset_ms").as_int64(), 3'600'250);
  // A clock that is not synchronized is no failure to capture: the status stays ok.
  EXPECT_EQ(classify(s), HealthStatus::ok);
}

TEST(Health, UnwritableDirectoryIsAnError) {
  HealthState s;
  const auto r = write_health_file("/nonexistent-dir/health.json", s, now_utc());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("/nonexistent-dir"), std::string::npos);
}

}  // namespace
}  // namespace sungrow::edge
