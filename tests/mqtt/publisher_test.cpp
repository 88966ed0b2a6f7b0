// MqttPublisher against a real mosquitto: retained messages and presence, re-sending after a broker
// restart and on Home Assistant's birth, a hung broker that never makes post() wait nor memory
// grow, bad credentials and a foreign CA at backoff pace without the password in any log.
#include "sungrow/edge/mqtt/publisher.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "child_process.hpp"
#include "mosquitto_instance.hpp"
#include "mqtt_recorder.hpp"
#include "sungrow/edge/mqtt/mqtt_url.hpp"
#include "test_ca.hpp"

namespace sungrow::edge {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::MosquittoInstance;
using test::MqttRecorder;

constexpr auto kStatus = "t/edge/status";
constexpr auto kBirth = "ha/status";

// Captures what the publisher logs (spdlog's default logger) for the test's lifetime.
class LogCapture {
 public:
  LogCapture() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text_);
    auto logger = std::make_shared<spdlog::logger>("capture", sink);
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %v");
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::string text() const {
    spdlog::default_logger()->flush();
    return text_.str();
  }
  std::vector<std::string> lines_with(std::string_view needle) const {
    std::vector<std::string> out;
    std::istringstream in(text());
    for (std::string line; std::getline(in, line);)
      if (line.find(needle) != std::string::npos) out.push_back(line);
    return out;
  }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream text_;
};

MqttSettings settings_for(const MosquittoInstance& broker) {
  MqttSettings s;
  s.endpoint = parse_mqtt_url(broker.url()).value();
  s.client_id = "publisher-test";
  s.status_topic = kStatus;
  s.birth_topic = kBirth;
  return s;
}

std::unique_ptr<MqttPublisher> start(MqttSettings s) {
  auto p = MqttPublisher::start(std::move(s));
  if (!p) throw std::runtime_error(p.error().message);
  return std::move(*p);
}

bool wait_until(const std::function<bool()>& done, Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

auto count_on(const std::string& topic, const std::string& payload, Clock::time_point after = {}) {
  return [=](const MqttRecorder::Messages& ms) {
    return std::count_if(ms.begin(), ms.end(), [&](const test::RecordedMessage& m) {
      return m.topic == topic && m.payload == payload && m.at >= after;
    });
  };
}

TEST(MqttPublisher, PresenceRetainedMessagesAndState) {
  MosquittoInstance broker;
  MqttRecorder recorder(broker.port());
  ASSERT_TRUE(recorder.wait_connected(10s));
  {
    auto p = start(settings_for(broker));
    p->post("ha/sensor/x/config", {R"({"a":1})", 1, true});
    p->post("t/state", {"s1", 0, false});
    ASSERT_TRUE(recorder.wait_for(
        [](const auto& ms) {
          return count_on(kStatus, "online")(ms) == 1 && count_on("t/state", "s1")(ms) == 1 &&
                 count_on("ha/sensor/x/config", R"({"a":1})")(ms) == 1;
        },
        10s));
    EXPECT_TRUE(p->stats().connected);
    EXPECT_EQ(p->stats().connections, 1U);
  }
  // Stopping says so, retained, rather than leaving it to the broker's keepalive.
  EXPECT_TRUE(recorder.wait_for(count_on(kStatus, "offline"), 5s));
  MqttRecorder newcomer(broker.port(), {"ha/#", "t/#"});
  ASSERT_TRUE(newcomer.wait_for(
      [](const auto& ms) {
        return count_on(kStatus, "offline")(ms) == 1 &&
               count_on("ha/sensor/x/config", R"({"a":1})")(ms) == 1;
      },
      10s));
  EXPECT_EQ(count_on("t/state", "s1")(newcomer.messages()), 0) << "state is never retained";
}

TEST(MqttPublisher, RetainedMessagesAreBackSoonAfterABrokerRestartWithoutPersistence) {
  MosquittoInstance broker;
  auto p = start(settings_for(broker));
  p->post("ha/sensor/x/config", {"x", 1, true});
  p->post("ha/sensor/y/config", {"y", 1, true});
  ASSERT_TRUE(wait_until([&] { return p->stats().connected && p->stats().in_flight == 0; }, 10s));
  const auto restarted = Clock::now();
  broker.restart();
  MqttRecorder recorder(broker.port(), {"ha/#", "t/#"});
  ASSERT_TRUE(recorder.wait_for(
      [](const auto& ms) {
        return count_on("ha/sensor/x/config", "x")(ms) >= 1 &&
               count_on("ha/sensor/y/config", "y")(ms) >= 1 && count_on(kStatus, "online")(ms) >= 1;
      },
      5s))
      << "after "
      << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - restarted).count()
      << " ms";
  RecordProperty(
      "configs_back_ms",
      static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - restarted).count()));
  EXPECT_EQ(p->stats().connections, 2U);
}

TEST(MqttPublisher, HomeAssistantsBirthMessageResendsEveryRetainedMessage) {
  MosquittoInstance broker;
  MqttRecorder recorder(broker.port(), {"ha/#", "t/#"});
  ASSERT_TRUE(recorder.wait_connected(10s));
  auto p = start(settings_for(broker));
  p->post("ha/sensor/x/config", {"x", 1, true});
  p->post("t/state", {"s", 0, false});
  ASSERT_TRUE(recorder.wait_for(count_on("ha/sensor/x/config", "x"), 10s));

  // "offline" is Home Assistant going away: nothing to send.
  auto t0 = Clock::now();
  recorder.publish(kBirth, "offline");
  ASSERT_TRUE(recorder.wait_for(count_on(kBirth, "offline", t0), 2s));
  EXPECT_EQ(count_on("ha/sensor/x/config", "x", t0)(recorder.messages()), 0);

  t0 = Clock::now();
  recorder.publish(kBirth, "online");
  ASSERT_TRUE(recorder.wait_for(count_on("ha/sensor/x/config", "x", t0), 2s));
  RecordProperty("resent_ms",
                 static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      recorder.on("ha/sensor/x/config").back().at - t0)
                                      .count()));
  // State is not retained and is not sent again.
  EXPECT_EQ(count_on("t/state", "s", t0)(recorder.messages()), 0);
}

TEST(MqttPublisher, AHungBrokerNeverMakesPostWaitAndMemoryStaysBounded) {
  MosquittoInstance broker;
  MqttRecorder recorder(broker.port(), {"t/#"});
  ASSERT_TRUE(recorder.wait_connected(10s));
  auto p = start(settings_for(broker));
  ASSERT_TRUE(wait_until([&] { return p->stats().connected; }, 10s));
  broker.pause();
  const auto rss_before = test::rss_kib(::getpid());

  // 32 MiB of state in 64 KiB messages: far more than the socket buffers take.
  constexpr std::size_t kSize = 64 * 1024;
  constexpr int kMessages = 512;
  Clock::duration slowest{};
  std::uint64_t most_held = 0;
  for (int i = 0; i < kMessages; ++i) {
    std::string payload(kSize, 'x');
    payload.replace(0, 8, fmt::format("{:08}", i));
    const auto t = Clock::now();
    p->post("t/state", {std::move(payload), 0, false});
    slowest = std::max(slowest, Clock::now() - t);
    most_held = std::max(most_held, p->stats().held_bytes);
    // A poll loop's pace, compressed: the thread takes (nearly) every message from the outbox.
    std::this_thread::sleep_for(1ms);
  }
  const auto stats = p->stats();
  EXPECT_LT(slowest, 50ms) << "post() waited for the network";
  // The latest state waiting plus the one inside libmosquitto, and the status topic's "online".
  EXPECT_LE(most_held, 2 * kSize + 64) << "more than the latest message per topic was kept";
  EXPECT_LE(stats.in_flight, 2U);  // the state topic and the publisher's own status
  EXPECT_GT(stats.superseded, static_cast<std::uint64_t>(kMessages / 4));
  // Queueing every message inside libmosquitto would take some 30 MiB here. AddressSanitizer
  // keeps freed memory in quarantine, so its RSS says nothing about what is still held.
  const auto rss_growth = test::rss_kib(::getpid()) - rss_before;
  RecordProperty("rss_growth_kib", static_cast<int>(rss_growth));
#ifndef __SANITIZE_ADDRESS__
  EXPECT_LT(rss_growth, 8 * 1024) << "KiB";
#endif
  RecordProperty(
      "slowest_post_us",
      static_cast<int>(std::chrono::duration_cast<std::chrono::microseconds>(slowest).count()));

  broker.resume();
  // Publishing resumes, and the latest message gets through.
  ASSERT_TRUE(recorder.wait_for(
      [&](const auto& ms) {
        return std::any_of(ms.begin(), ms.end(), [&](const test::RecordedMessage& m) {
          return m.topic == "t/state" && m.payload.starts_with(fmt::format("{:08}", kMessages - 1));
        });
      },
      20s));
}

TEST(MqttPublisher, BadCredentialsFailClearlyAtBackoffPaceAndNeverShowThePassword) {
  MosquittoInstance broker(MosquittoInstance::Options{
      .username = "edge", .password = "right-Pa55word", .cert_file = {}, .key_file = {}});
  LogCapture log;
  auto s = settings_for(broker);
  s.username = "edge";
  s.password = "wrong-Pa55word";
  s.backoff_base = 200ms;
  s.backoff_cap = 800ms;
  {
    auto p = start(s);
    ASSERT_TRUE(wait_until([&] { return p->stats().failed_attempts >= 5; }, 20s)) << log.text();
    EXPECT_FALSE(p->stats().connected);
    EXPECT_EQ(p->stats().connections, 0U);
  }
  const auto lines = log.lines_with("cannot connect");
  ASSERT_GE(lines.size(), 5U) << log.text();
  for (const auto& line : lines) {
    EXPECT_NE(line.find("refused"), std::string::npos) << line;
    EXPECT_NE(line.find("MQTT_PASSWORD_FILE"), std::string::npos) << line;
  }
  // One line per attempt, attempts spaced by the backoff: at least half its ceiling (100 ms first).
  std::vector<Clock::duration> gaps;
  std::tm tm{};
  std::vector<double> at;
  for (const auto& line : lines) {
    double seconds = 0;
    ASSERT_EQ(std::sscanf(line.c_str(), "%*d-%*d-%*dT%*d:%*d:%lf", &seconds), 1) << line;
    at.push_back(seconds);
  }
  (void)tm;
  for (std::size_t i = 1; i < at.size(); ++i) {
    const double gap = at[i] - at[i - 1];
    if (gap < 0) continue;  // a minute boundary
    EXPECT_GE(gap, 0.09) << lines[i];
  }
  EXPECT_EQ(log.text().find("wrong-Pa55word"), std::string::npos);
  EXPECT_EQ(log.text().find("right-Pa55word"), std::string::npos);

  // The positive control: the right password connects.
  s.password = "right-Pa55word";
  auto good = start(s);
  EXPECT_TRUE(wait_until([&] { return good->stats().connected; }, 10s)) << log.text();
}

TEST(MqttPublisher, TlsVerifiesTheBrokerAgainstTheConfiguredCa) {
  test::TestPki pki;
  MosquittoInstance broker(MosquittoInstance::Options{.username = {},
                                                      .password = {},
                                                      .cert_file = pki.server_cert(),
                                                      .key_file = pki.server_key()});
  LogCapture log;
  auto s = settings_for(broker);
  ASSERT_TRUE(s.endpoint.tls);
  s.backoff_base = 200ms;
  s.backoff_cap = 800ms;
  s.ca_file = pki.other_ca_cert().string();
  {
    auto foreign = start(s);
    foreign->post("ha/sensor/x/config", {"x", 1, true});
    ASSERT_TRUE(wait_until([&] { return foreign->stats().failed_attempts >= 3; }, 20s))
        << log.text();
    EXPECT_EQ(foreign->stats().connections, 0U);
    EXPECT_EQ(foreign->stats().handed_over, 0U);
  }
  const auto lines = log.lines_with("cannot connect");
  ASSERT_GE(lines.size(), 3U);
  EXPECT_NE(lines.front().find("certificate verify failed"), std::string::npos) << lines.front();
  EXPECT_NE(lines.front().find("MQTT_CA_FILE"), std::string::npos) << lines.front();

  s.ca_file = pki.ca_cert().string();
  auto trusted = start(s);
  trusted->post("ha/sensor/x/config", {"x", 1, true});
  // Connected, and the broker acknowledged the QoS 1 message.
  EXPECT_TRUE(wait_until(
      [&] {
        const auto st = trusted->stats();
        return st.connected && st.handed_over >= 2 && st.in_flight == 0;
      },
      10s))
      << log.text();
}

TEST(MqttPublisher, StoppingWhileTheBrokerIsDownIsPrompt) {
  MosquittoInstance broker;
  auto s = settings_for(broker);
  broker.stop();
  auto p = start(s);
  ASSERT_TRUE(wait_until([&] { return p->stats().failed_attempts >= 1; }, 10s));
  const auto t = Clock::now();
  p.reset();
  EXPECT_LT(Clock::now() - t, 3s);
}

}  // namespace
}  // namespace sungrow::edge
