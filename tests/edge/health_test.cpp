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

TEST(Health, UnwritableDirectoryIsAnError) {
  HealthState s;
  const auto r = write_health_file("/nonexistent-dir/health.json", s, now_utc());
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("/nonexistent-dir"), std::string::npos);
}

}  // namespace
}  // namespace sungrow::edge
