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

// Several devices: one failing inverter is named, the edge is degraded (the others are captured),
// and only all of them failing makes the edge failing.
TEST(Health, SeveralDevicesNameTheFailingOne) {
  HealthState s;
  for (const char* id : {"roof-1", "roof-2", "garage"}) {
    DeviceHealth d;
    d.device_id = id;
    d.state.last_poll_ok = true;
    s.devices.push_back(d);
  }
  s.devices[1].state.last_poll_ok = false;
  s.devices[1].state.consecutive_poll_failures = 4;
  s.devices[1].state.last_poll_error = "modbus: Connection timed out";
  s.devices[1].last_seq = 17;
  summarize_devices(s);
  EXPECT_EQ(classify(s), HealthStatus::degraded);
  EXPECT_EQ(s.consecutive_poll_failures, 0u);
  EXPECT_EQ(s.last_poll_error, "roof-2: modbus: Connection timed out");
  const auto v = boost::json::parse(health_json(s, Timestamp{}));
  EXPECT_EQ(v.at("status").as_string(), "degraded");
  EXPECT_EQ(v.at("failing_devices").as_array(), boost::json::array{"roof-2"});
  const auto& roof2 = v.at("devices").as_array().at(1);
  EXPECT_EQ(roof2.at("device_id").as_string(), "roof-2");
  EXPECT_EQ(roof2.at("status").as_string(), "failing");
  EXPECT_EQ(roof2.at("poll").at("consecutive_failures").as_int64(), 4);
  EXPECT_EQ(roof2.at("spool").at("last_seq").as_int64(), 17);
  EXPECT_EQ(v.at("devices").as_array().at(0).at("status").as_string(), "ok");

  for (auto& d : s.devices) d.state.consecutive_poll_failures = 3;
  summarize_devices(s);
  EXPECT_EQ(classify(s), HealthStatus::failing);
}

// One device (the single-inverter edge): the edge-wide figures are the device's own.
TEST(Health, OneDeviceIsTheEdge) {
  HealthState s;
  DeviceHealth d;
  d.device_id = "192.168.1.50";
  d.state.consecutive_poll_failures = 2;
  d.state.last_poll_error = "modbus: refused";
  d.state.consecutive_upload_failures = 1;
  s.devices.push_back(d);
  summarize_devices(s);
  EXPECT_EQ(s.consecutive_poll_failures, 2u);
  EXPECT_EQ(s.last_poll_error, "modbus: refused");  // not prefixed by the device
  EXPECT_EQ(s.consecutive_upload_failures, 1u);
  EXPECT_EQ(s.failing_devices, 0u);
}

}  // namespace
}  // namespace sungrow::edge
