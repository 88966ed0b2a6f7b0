// FailureThrottle on a clock the test moves: windows, cool-downs, bounded memory, quiet logs.
#include "sungrow/server/auth/failure_throttle.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>

namespace sungrow::auth {
namespace {

using namespace std::chrono_literals;
using Clock = FailureThrottle::Clock;

class FailureThrottleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sink_ = std::make_shared<spdlog::sinks::ostream_sink_mt>(log_);
    previous_ = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink_));
  }
  void TearDown() override { spdlog::set_default_logger(previous_); }

  FailureThrottle make(ThrottleOptions options) {
    return FailureThrottle(options, [this] { return now_; });
  }
  std::size_t log_lines() const {
    const auto text = log_.str();
    return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
  }

  Clock::time_point now_{Clock::duration{1'000'000'000'000}};
  std::ostringstream log_;
  std::shared_ptr<spdlog::sinks::ostream_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

TEST_F(FailureThrottleTest, TooManyFailuresInAWindowStartACoolDown) {
  auto t = make({.max_failures = 5, .window = 60s, .cooldown = 300s, .max_clients = 100});
  for (int i = 0; i < 4; ++i) {
    t.record_failure("203.0.113.1", "unknown_token");
    now_ += 1s;
  }
  EXPECT_EQ(t.cooling("203.0.113.1"), 0s);
  t.record_failure("203.0.113.1", "unknown_token");
  EXPECT_EQ(t.cooling("203.0.113.1"), 300s);
  EXPECT_EQ(t.cooling("203.0.113.2"), 0s);  // another address is not affected
  now_ += 299s;
  EXPECT_EQ(t.cooling("203.0.113.1"), 1s);
  now_ += 1s;
  EXPECT_EQ(t.cooling("203.0.113.1"), 0s);
}

TEST_F(FailureThrottleTest, FailuresSpreadOverWindowsNeverCoolDown) {
  auto t = make({.max_failures = 5, .window = 60s, .cooldown = 300s, .max_clients = 100});
  for (int i = 0; i < 50; ++i) {
    t.record_failure("198.51.100.9", "missing");
    now_ += 15s;  // four a minute: a misconfigured edge retrying, not a guesser
  }
  EXPECT_EQ(t.cooling("198.51.100.9"), 0s);
  auto off = make({.max_failures = 0, .window = 60s, .cooldown = 300s, .max_clients = 100});
  for (int i = 0; i < 100; ++i) off.record_failure("198.51.100.9", "missing");
  EXPECT_EQ(off.cooling("198.51.100.9"), 0s);  // 0 turns the cool-down off
}

TEST_F(FailureThrottleTest, LogsAtMostOnceAMinutePerClientPlusTheCoolDown) {
  auto t = make({.max_failures = 20, .window = 60s, .cooldown = 300s, .max_clients = 100});
  for (int i = 0; i < 300; ++i) {
    t.record_failure("203.0.113.1", "unknown_token");
    now_ += 100ms;  // 300 failures in 30 s
  }
  // The first failure, and the start of the cool-down.
  EXPECT_EQ(log_lines(), 2U) << log_.str();
  EXPECT_NE(log_.str().find("203.0.113.1"), std::string::npos);
  now_ += 60s;
  t.record_failure("203.0.113.1", "unknown_token");
  EXPECT_EQ(log_lines(), 3U) << log_.str();
  EXPECT_NE(log_.str().find("300 failed attempt(s)"), std::string::npos) << log_.str();
}

TEST_F(FailureThrottleTest, MemoryIsBoundedUnderAFloodFromManyAddresses) {
  auto t = make({.max_failures = 3, .window = 60s, .cooldown = 300s, .max_clients = 1000});
  for (int i = 0; i < 20'000; ++i) {
    t.record_failure("10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
                         std::to_string(i % 256),
                     "unknown_token");
    now_ += 1ms;
  }
  EXPECT_LE(t.tracked_clients(), 1000U);
  // The most recent client is remembered.
  for (int i = 0; i < 2; ++i) t.record_failure("10.0.78.31", "unknown_token");
  EXPECT_GT(t.cooling("10.0.78.31"), 0s);
}

}  // namespace
}  // namespace sungrow::auth
