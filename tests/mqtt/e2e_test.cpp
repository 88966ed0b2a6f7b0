// Home Assistant over MQTT end to end, over real processes: sungrow-sim → sungrow-edge → a real
// mosquitto (and the HTTPS receiver, untouched by any of it), watched by a recording subscriber
// that also plays Home Assistant's birth message.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "child_process.hpp"
#include "edge_health.hpp"
#include "ha_schema.hpp"
#include "https_receiver.hpp"
#include "mosquitto_instance.hpp"
#include "mqtt_recorder.hpp"
#include "sim_child.hpp"
#include "sungrow/core/sample_json.hpp"
#include "sungrow/edge/mqtt/counter_guard.hpp"
#include "sungrow/edge/mqtt/discovery.hpp"
#include "sungrow/edge/spool/spool.hpp"
#include "test_ca.hpp"

namespace sungrow::test {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const std::string kBinDir = SUNGROW_BIN_DIR;
constexpr auto kDiscoveryPrefix = "homeassistant/";
constexpr std::size_t kInverterConfigs = edge::kInverterSensors.size() + 1 + kPowerFlowBits.size();
constexpr std::size_t kEdgeConfigs = edge::kEdgeSensors.size() + 1;
constexpr std::array kTotals{"pv_energy_total_kwh", "grid_import_total_kwh",
                             "grid_export_total_kwh", "battery_charge_total_kwh",
                             "battery_discharge_total_kwh"};

struct Dir {
  fs::path path = make_temp_dir("sgmqtt-e2e");
  Dir() = default;
  Dir(const Dir&) = delete;
  Dir& operator=(const Dir&) = delete;
  ~Dir() {
    std::error_code ec;
    if (!::getenv("SUNGROW_KEEP_TEST_DIRS")) fs::remove_all(path, ec);
  }
};

long ms_since(Clock::time_point t) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

// The config topics among `ms` (optionally only those that arrived after `after`).
std::set<std::string> config_topics(const MqttRecorder::Messages& ms,
                                    Clock::time_point after = {}) {
  std::set<std::string> out;
  for (const auto& m : ms)
    if (m.at >= after && m.topic.starts_with(kDiscoveryPrefix) && m.topic.ends_with("/config"))
      out.insert(m.topic);
  return out;
}

// The newest payload on `topic`, "" when none.
std::string last_on(const MqttRecorder& r, const std::string& topic) {
  const auto ms = r.on(topic);
  return ms.empty() ? std::string() : ms.back().payload;
}

bool contains(const std::string& text, std::string_view needle) {
  return text.find(needle) != std::string::npos;
}

// One simulator, the HTTPS receiver and the broker; edges are started by the tests.
class Stack {
 public:
  explicit Stack(std::vector<std::string> sim_args = {}, MosquittoInstance::Options broker = {})
      : receiver_(receiver_options()),
        broker_(std::move(broker)),
        sim_(start_sim(kBinDir, dir_.path / "sim.log", sim_args)) {}

  struct EdgeRun {
    std::string device_id = "roof";
    int poll_ms = 300;
    std::string sim_port;  // empty: the stack's simulator
    std::vector<std::string> extra;

    EdgeRun& id(std::string v) { return device_id = std::move(v), *this; }
    EdgeRun& poll(int ms) { return poll_ms = ms, *this; }
    EdgeRun& port(std::string v) { return sim_port = std::move(v), *this; }
    EdgeRun& with(std::vector<std::string> args) { return extra = std::move(args), *this; }
  };

  // Starts (or restarts) the edge `run.device_id`, with its own spool, health file and log.
  ChildProcess& start_edge(const EdgeRun& run) {
    const auto dir = dir_.path / run.device_id;
    fs::create_directories(dir);
    std::vector<std::string> argv{kBinDir + "/sungrow-edge",
                                  "run",
                                  "--host",
                                  "127.0.0.1",
                                  "--port",
                                  run.sim_port.empty() ? sim_.port : run.sim_port,
                                  "--device-id",
                                  run.device_id,
                                  "--ingest-url",
                                  receiver_.url(),
                                  "--token",
                                  "test-token",
                                  "--ca-file",
                                  pki_.ca_cert().string(),
                                  "--spool-path",
                                  (dir / "spool.db").string(),
                                  "--health-path",
                                  (dir / "health.json").string(),
                                  "--test-poll-interval-ms",
                                  std::to_string(run.poll_ms),
                                  "--modbus-timeout",
                                  "300",
                                  "--batch-size",
                                  "5",
                                  "--upload-interval",
                                  "1",
                                  "--upload-timeout",
                                  "2",
                                  "--mqtt-url",
                                  broker_.url()};
    argv.insert(argv.end(), run.extra.begin(), run.extra.end());
    auto& slot = edges_[run.device_id];
    slot.reset();
    slot = std::make_unique<ChildProcess>(argv, dir / "edge.log");
    return *slot;
  }

  std::string edge_log(const std::string& device_id = "roof") const {
    return read_text_file(dir_.path / device_id / "edge.log");
  }
  fs::path dir() const { return dir_.path; }
  const TestPki& pki() const { return pki_; }
  HttpsReceiver& receiver() { return receiver_; }
  MosquittoInstance& broker() { return broker_; }
  SimChild& sim() { return sim_; }

 private:
  ReceiverOptions receiver_options() const {
    ReceiverOptions o;
    o.cert_file = pki_.server_cert();
    o.key_file = pki_.server_key();
    return o;
  }

  Dir dir_;
  TestPki pki_;
  HttpsReceiver receiver_;
  MosquittoInstance broker_;
  SimChild sim_;
  std::map<std::string, std::unique_ptr<ChildProcess>> edges_;
};

// Until every config of one inverter and one edge has arrived (after `after`).
bool wait_for_configs(const MqttRecorder& r, std::size_t n, Clock::duration timeout,
                      Clock::time_point after = {}) {
  return r.wait_for([&](const auto& ms) { return config_topics(ms, after).size() >= n; },
                    std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
}

// The default edge, started, until `recorder` (connected first) has seen every one of its configs.
testing::AssertionResult start_announced_edge(Stack& stack, const MqttRecorder& recorder) {
  if (!recorder.wait_connected(10s)) return testing::AssertionFailure() << "recorder not connected";
  stack.start_edge(Stack::EdgeRun());
  if (!wait_for_configs(recorder, kInverterConfigs + kEdgeConfigs, 10s))
    return testing::AssertionFailure() << "no discovery; edge log:\n" << stack.edge_log();
  return testing::AssertionSuccess();
}

// Until the edge and its inverter are both online for `recorder`.
bool wait_both_online(const MqttRecorder& recorder) {
  return recorder.wait_for(
      [&](const auto&) {
        return last_on(recorder, "sungrow/edge/roof/status") == "online" &&
               last_on(recorder, "sungrow/roof/status") == "online";
      },
      5s);
}

TEST(HomeAssistantE2E, EveryConfigRetainedWithinFiveSecondsAndValidAndTheStateIsTheSample) {
  // Registers 5011–5014 (MPPT) answer exception 02: those values are null in every sample.
  Stack stack({"--exception-range", "5011-5014"});
  MqttRecorder recorder(stack.broker().port());
  ASSERT_TRUE(recorder.wait_connected(10s));
  const auto started = Clock::now();
  auto& edge = stack.start_edge(Stack::EdgeRun());
  ASSERT_TRUE(wait_for_configs(recorder, kInverterConfigs + kEdgeConfigs, 5s)) << stack.edge_log();
  RecordProperty("configs_ms", static_cast<int>(ms_since(started)));

  // A newcomer (Home Assistant starting later) gets every one of them, retained.
  MqttRecorder newcomer(stack.broker().port(), {"homeassistant/#"});
  ASSERT_TRUE(newcomer.wait_for(
      [](const auto& ms) { return config_topics(ms).size() == kInverterConfigs + kEdgeConfigs; },
      5s));
  std::set<std::string> unique_ids;
  std::map<std::string, json::object> configs;
  for (const auto& m : newcomer.messages()) {
    EXPECT_TRUE(m.retain) << m.topic;
    const auto problems = check_discovery(m.topic, m.payload);
    EXPECT_TRUE(problems.empty()) << m.topic << ": " << problems.front();
    auto o = json::parse(m.payload).as_object();
    EXPECT_TRUE(unique_ids.insert(std::string(o.at("unique_id").as_string())).second);
    configs.emplace(std::string(o.at("unique_id").as_string()), std::move(o));
  }
  for (const auto* total : kTotals)
    EXPECT_TRUE(
        check_energy_source(configs.at(std::string("sungrow_A2350415770_") + total)).empty())
        << total;
  EXPECT_EQ(configs.at("sungrow_A2350415770_pv_power_w").at("device").at("model"), "SH4.0RS");
  EXPECT_EQ(configs.at("sungrow_A2350415770_pv_power_w").at("device").at("serial_number"),
            "A2350415770");

  ASSERT_TRUE(wait_both_online(recorder));

  // The state: once per poll, the sample the server gets, byte for byte (the counters, once
  // confirmed, are the same); unread registers are null, never 0.
  ASSERT_TRUE(recorder.wait_for(
      [](const auto& ms) {
        return std::count_if(ms.begin(), ms.end(), [](const RecordedMessage& m) {
                 return m.topic == "sungrow/roof/state";
               }) >= 8;
      },
      10s));
  ASSERT_TRUE(stack.receiver().wait_for_count(8, 20s)) << stack.edge_log();
  std::map<std::int64_t, std::string> uploaded;
  for (const auto& s : stack.receiver().samples()) uploaded.emplace(s.seq, to_json_text(s));
  std::set<std::string> template_members_read;
  for (const auto& [id, o] : configs)
    for (const auto& member : template_members(o.at("value_template").as_string()))
      template_members_read.insert(member);
  int compared = 0;
  std::int64_t previous_seq = 0;
  for (const auto& m : recorder.on("sungrow/roof/state")) {
    EXPECT_FALSE(m.retain);
    const auto v = json::parse(m.payload).as_object();
    const auto seq = v.at("seq").as_int64();
    EXPECT_EQ(seq, previous_seq + 1) << "one state per poll";
    previous_seq = seq;
    EXPECT_TRUE(v.at("mppt1_voltage_v").is_null()) << m.payload;
    for (const auto& member : template_members_read) {
      const bool health = member == "status" || member == "spool_depth" ||
                          member == "oldest_unsent_age_s" || member == "last_upload_at" ||
                          member == "dead_letters";
      EXPECT_TRUE(health || v.contains(member)) << member;
    }
    if (seq >= edge::CounterGuard::kConfirmations && uploaded.contains(seq)) {
      EXPECT_EQ(m.payload, uploaded.at(seq));
      ++compared;
    }
  }
  EXPECT_GE(compared, 4);
  // The edge's health, on its own topic.
  const auto health = json::parse(last_on(recorder, "sungrow/edge/roof/health")).as_object();
  EXPECT_EQ(health.at("status"), "ok");
  edge.signal(SIGTERM);
  EXPECT_EQ(edge.wait(15s), 0);
  EXPECT_TRUE(recorder.wait_for(
      [&](const auto&) { return last_on(recorder, "sungrow/edge/roof/status") == "offline"; }, 5s));
}

TEST(HomeAssistantE2E, TwoInvertersWhoseSerialsDifferOnlyInTheLastCharacterStayApart) {
  Stack stack({"--serial", "A2350415770"});
  const auto second = start_sim(kBinDir, stack.dir() / "sim2.log", {"--serial", "A2350415771"});
  MqttRecorder recorder(stack.broker().port(), {"homeassistant/#"});
  ASSERT_TRUE(recorder.wait_connected(10s));
  stack.start_edge(Stack::EdgeRun().id("inv-a"));
  stack.start_edge(Stack::EdgeRun().id("inv-b").port(second.port));
  ASSERT_TRUE(wait_for_configs(recorder, 2 * (kInverterConfigs + kEdgeConfigs), 10s))
      << stack.edge_log("inv-a") << stack.edge_log("inv-b");

  std::set<std::string> unique_ids;
  std::map<std::string, std::set<std::string>> via;  // inverter device → its via_device
  for (const auto& m : recorder.messages()) {
    const auto o = json::parse(m.payload).as_object();
    EXPECT_TRUE(unique_ids.insert(std::string(o.at("unique_id").as_string())).second)
        << o.at("unique_id");
    const auto& device = o.at("device").as_object();
    const auto id = std::string(device.at("identifiers").as_array().at(0).as_string());
    if (device.contains("via_device"))
      via[id].insert(std::string(device.at("via_device").as_string()));
  }
  EXPECT_EQ(unique_ids.size(), 2 * (kInverterConfigs + kEdgeConfigs));
  ASSERT_EQ(via.size(), 2U);
  EXPECT_EQ(via.at("sungrow_A2350415770"), std::set<std::string>{"sungrow_edge_inv-a"});
  EXPECT_EQ(via.at("sungrow_A2350415771"), std::set<std::string>{"sungrow_edge_inv-b"});
}

TEST(HomeAssistantE2E, KillNineLeavesTheLastWillAndARestartComesBackOnline) {
  Stack stack;
  MqttRecorder recorder(stack.broker().port(), {"sungrow/#"});
  ASSERT_TRUE(recorder.wait_connected(10s));
  auto& edge = stack.start_edge(Stack::EdgeRun());
  const auto edge_status = [&] { return last_on(recorder, "sungrow/edge/roof/status"); };
  ASSERT_TRUE(recorder.wait_for([&](const auto&) { return edge_status() == "online"; }, 10s));
  const auto killed = Clock::now();
  edge.signal(SIGKILL);
  ASSERT_EQ(edge.wait(5s), 128 + SIGKILL);
  ASSERT_TRUE(recorder.wait_for([&](const auto&) { return edge_status() == "offline"; }, 5s));
  RecordProperty("will_ms", static_cast<int>(ms_since(killed)));
  // Retained: whoever looks later sees it too.
  MqttRecorder later(stack.broker().port(), {"sungrow/edge/#"});
  EXPECT_TRUE(later.wait_for(
      [&](const auto&) { return last_on(later, "sungrow/edge/roof/status") == "offline"; }, 5s));

  stack.start_edge(Stack::EdgeRun());
  EXPECT_TRUE(recorder.wait_for([&](const auto&) { return edge_status() == "online"; }, 10s))
      << stack.edge_log();
}

TEST(HomeAssistantE2E, AnInverterThatStopsAnsweringGoesOfflineWithinThreePollsWhileTheEdgeStays) {
  Stack stack;
  MqttRecorder recorder(stack.broker().port(), {"sungrow/#"});
  ASSERT_TRUE(recorder.wait_connected(10s));
  constexpr int kPollMs = 500;
  stack.start_edge(Stack::EdgeRun().poll(kPollMs));
  const auto device = [&] { return last_on(recorder, "sungrow/roof/status"); };
  ASSERT_TRUE(recorder.wait_for([&](const auto&) { return device() == "online"; }, 10s));

  // SIGSTOP: the simulator's kernel still accepts, nothing answers (a hung WiNet-S).
  stack.sim().process->signal(SIGSTOP);
  const auto stopped = Clock::now();
  ASSERT_TRUE(recorder.wait_for([&](const auto&) { return device() == "offline"; }, 10s));
  const auto offline_ms = ms_since(stopped);
  RecordProperty("device_offline_ms", static_cast<int>(offline_ms));
  // Three polls, plus the Modbus timeout (300 ms) of the poll that noticed.
  EXPECT_LE(offline_ms, 3 * kPollMs + 300 + 200) << "200 ms for scheduling on a loaded machine";
  EXPECT_EQ(last_on(recorder, "sungrow/edge/roof/status"), "online");
  EXPECT_TRUE(contains(last_on(recorder, "sungrow/edge/roof/health"), "\"status\""));

  stack.sim().process->signal(SIGCONT);
  EXPECT_TRUE(recorder.wait_for([&](const auto&) { return device() == "online"; }, 20s))
      << stack.edge_log();
}

TEST(HomeAssistantE2E, BrokerRestartedWithoutPersistenceGetsEveryConfigBackWithinFiveSeconds) {
  Stack stack;
  {
    MqttRecorder recorder(stack.broker().port(), {"homeassistant/#"});
    ASSERT_TRUE(start_announced_edge(stack, recorder));
  }
  const auto restarted = Clock::now();
  stack.broker().restart();
  MqttRecorder recorder(stack.broker().port(), {"homeassistant/#", "sungrow/#"});
  ASSERT_TRUE(wait_for_configs(recorder, kInverterConfigs + kEdgeConfigs, 5s)) << stack.edge_log();
  RecordProperty("configs_back_ms", static_cast<int>(ms_since(restarted)));
  EXPECT_TRUE(wait_both_online(recorder));
}

TEST(HomeAssistantE2E, HomeAssistantsBirthGetsEveryConfigAgainWithinTwoSeconds) {
  Stack stack;
  MqttRecorder recorder(stack.broker().port(), {"homeassistant/#"});
  ASSERT_TRUE(start_announced_edge(stack, recorder));
  const auto born = Clock::now();
  recorder.publish("homeassistant/status", "online");
  ASSERT_TRUE(wait_for_configs(recorder, kInverterConfigs + kEdgeConfigs, 2s, born))
      << config_topics(recorder.messages(), born).size() << " re-sent";
  RecordProperty("resent_ms", static_cast<int>(ms_since(born)));
}

TEST(HomeAssistantE2E, AHungBrokerNeitherDelaysPollingNorTheSpoolNorTheUploadAndPublishingResumes) {
  Stack stack;
  MqttRecorder recorder(stack.broker().port(), {"sungrow/#"});
  ASSERT_TRUE(recorder.wait_connected(10s));
  constexpr int kPollMs = 500;
  // A 5 s keepalive: within the stall the edge notices the dead broker and retries, so the test
  // covers reconnect attempts against a hung broker, not just a full socket buffer.
  auto& edge =
      stack.start_edge(Stack::EdgeRun().poll(kPollMs).with({"--test-mqtt-keepalive-s", "5"}));
  const auto last_seq = [&] {
    const auto ms = recorder.on("sungrow/roof/state");
    return ms.empty() ? std::int64_t{0} : json::parse(ms.back().payload).at("seq").as_int64();
  };
  ASSERT_TRUE(recorder.wait_for([&](const auto&) { return last_seq() >= 4; }, 15s));

  // The same span of normal operation first, as the yardstick for memory.
  constexpr auto kStall = 20s;
  const auto rss_normal_start = rss_kib(edge.pid());
  std::this_thread::sleep_for(kStall / 2);
  const auto rss_stall_start = rss_kib(edge.pid());

  const auto seq_before = last_seq();
  const auto uploaded_before = stack.receiver().count();
  const auto wall_stopped = now_utc();
  stack.broker().pause();
  const auto stopped = Clock::now();
  // The upload keeps going during the stall (the scenario's duration is the only sleep).
  EXPECT_TRUE(stack.receiver().wait_for_count(uploaded_before + 10, kStall / 2))
      << stack.edge_log();
  std::this_thread::sleep_until(stopped + kStall);
  const auto rss_stall_end = rss_kib(edge.pid());
  const auto wall_resumed = now_utc();
  stack.broker().resume();
  const auto resumed = Clock::now();
  ASSERT_TRUE(recorder.wait_for([&](const auto&) { return last_seq() > seq_before + 30; }, 30s))
      << stack.edge_log();
  RecordProperty("publishing_resumed_ms", static_cast<int>(ms_since(resumed)));
  EXPECT_TRUE(contains(stack.edge_log(), "[mqtt] [warning] connection to"))
      << "the stall went unnoticed";

  // Memory: the stall (twice as long as the yardstick) grows the edge no more than normal
  // operation would over the same time, + 1 MiB.
  const auto growth_normal = rss_stall_start - rss_normal_start;
  const auto growth_stall = rss_stall_end - rss_stall_start;
  RecordProperty("rss_kib", static_cast<int>(rss_stall_end));
  RecordProperty("rss_growth_normal_10s_kib", static_cast<int>(growth_normal));
  RecordProperty("rss_growth_stall_20s_kib", static_cast<int>(growth_stall));
#ifndef __SANITIZE_ADDRESS__  // its quarantine keeps freed memory resident: RSS says little
  EXPECT_LE(growth_stall, 2 * std::max(growth_normal, 0L) + 1024);
#endif

  // Stop, let the spool drain, and read the samples as the server got them.
  edge.signal(SIGTERM);
  ASSERT_EQ(edge.wait(15s), 0) << stack.edge_log();
  auto spool = edge::Spool::open(stack.dir() / "roof" / "spool.db");
  ASSERT_TRUE(spool);
  const auto committed = static_cast<std::size_t>(spool->stats().last_seq);
  std::vector<Sample> samples = stack.receiver().samples();
  std::sort(samples.begin(), samples.end(),
            [](const Sample& a, const Sample& b) { return a.seq < b.seq; });
  // Every sample the spool committed reached the server exactly once, the stall's among them.
  EXPECT_EQ(stack.receiver().count() + spool->stats().depth, committed);
  EXPECT_EQ(stack.receiver().duplicates(), 0U);

  // The poll grid during the stall: at most two ticks missed (the count), and consecutive polls
  // a whole number of intervals apart, within 200 ms. A poll that overran its tick on a loaded
  // machine skips the next one (the schedule's rule), which the count allows; measured from the
  // first poll's grid instead, that one skip put every later poll a whole interval "late".
  std::vector<Timestamp> stall;
  for (const auto& s : samples)
    if (s.ts >= wall_stopped && s.ts <= wall_resumed) stall.push_back(s.ts);
  const auto expected = static_cast<std::size_t>(kStall / std::chrono::milliseconds{kPollMs});
  EXPECT_GE(stall.size() + 2, expected);
  EXPECT_LE(stall.size(), expected + 2);
  std::vector<long> deviation_ms;
  for (std::size_t k = 1; k < stall.size(); ++k) {
    const auto gap = static_cast<long>((stall[k] - stall[k - 1]).count());
    const long ticks = std::max(1L, (gap + kPollMs / 2) / kPollMs);
    deviation_ms.push_back(std::abs(gap - ticks * kPollMs));
  }
  std::sort(deviation_ms.begin(), deviation_ms.end());
  ASSERT_FALSE(deviation_ms.empty());
  const auto p99 = deviation_ms[deviation_ms.size() * 99 / 100];
  RecordProperty("stall_polls", static_cast<int>(stall.size()));
  RecordProperty("cadence_p99_deviation_ms", static_cast<int>(p99));
  RecordProperty("cadence_max_deviation_ms", static_cast<int>(deviation_ms.back()));
  EXPECT_LT(deviation_ms.back(), 200);
}

TEST(HomeAssistantE2E, CounterGlitchesNeverMakeAPublishedTotalDecrease) {
  Stack stack({"--counter-glitch-every", "3"});
  MqttRecorder recorder(stack.broker().port(), {"sungrow/#"});
  ASSERT_TRUE(recorder.wait_connected(10s));
  stack.start_edge(Stack::EdgeRun().poll(250));
  ASSERT_TRUE(recorder.wait_for(
      [](const auto& ms) {
        return std::count_if(ms.begin(), ms.end(), [](const RecordedMessage& m) {
                 return m.topic == "sungrow/roof/state";
               }) >= 40;
      },
      30s));
  // What Home Assistant saw: never a decrease, on any lifetime total.
  std::map<std::string, double> last;
  std::map<std::string, int> published;
  for (const auto& m : recorder.on("sungrow/roof/state")) {
    const auto v = json::parse(m.payload).as_object();
    for (const auto* total : kTotals) {
      if (v.at(total).is_null()) continue;
      const double x = v.at(total).to_number<double>();
      if (last.contains(total)) {
        EXPECT_GE(x, last[total]) << total << " seq " << v.at("seq");
      }
      last[total] = x;
      ++published[total];
    }
  }
  for (const auto* total : kTotals) EXPECT_GE(published[total], 30) << total;
  // What the server got: the glitches themselves (so they did reach the edge), untouched.
  ASSERT_TRUE(stack.receiver().wait_for_count(30, 20s));
  int server_decreases = 0;
  std::optional<double> previous;
  auto samples = stack.receiver().samples();
  std::sort(samples.begin(), samples.end(),
            [](const Sample& a, const Sample& b) { return a.seq < b.seq; });
  for (const auto& s : samples) {
    if (!s.pv_energy_total_kwh) continue;
    if (previous && *s.pv_energy_total_kwh < *previous) ++server_decreases;
    previous = s.pv_energy_total_kwh;
  }
  EXPECT_GE(server_decreases, 3) << "the simulator's glitches never reached the edge";
  EXPECT_TRUE(contains(stack.edge_log(), "Home Assistant: lifetime counter"));
}

TEST(HomeAssistantE2E, BadCredentialsAreLoggedAtBackoffPaceWithoutThePasswordAndPollingGoesOn) {
  Stack stack(
      {}, MosquittoInstance::Options{
              .username = "edge", .password = "right-Pa55word", .cert_file = {}, .key_file = {}});
  std::ofstream(stack.dir() / "mqtt-password") << "wrong-Pa55word\n";
  auto& edge =
      stack.start_edge(Stack::EdgeRun().with({"--mqtt-username", "edge", "--mqtt-password-file",
                                              (stack.dir() / "mqtt-password").string()}));
  const auto started = Clock::now();
  // Backoff 1 s, 2 s, 4 s (half-jittered): three or four attempts in the first 6 s, never a burst.
  std::this_thread::sleep_for(6s);  // the scenario's duration; the count is the assertion
  const auto log = stack.edge_log();
  std::size_t attempts = 0;
  for (std::size_t at = log.find("[mqtt] [warning] cannot connect"); at != std::string::npos;
       at = log.find("[mqtt] [warning] cannot connect", at + 1))
    ++attempts;
  EXPECT_GE(attempts, 2U) << log;
  EXPECT_LE(attempts, 5U) << log;
  EXPECT_TRUE(contains(log, "refused the connection")) << log;
  EXPECT_TRUE(contains(log, "MQTT_USERNAME and MQTT_PASSWORD_FILE")) << log;
  EXPECT_FALSE(contains(log, "Pa55word"));
  EXPECT_TRUE(edge.running());
  // Polling, the spool and the upload do not care.
  EXPECT_TRUE(stack.receiver().wait_for_count(5, 10s)) << log;
  RecordProperty("attempts_in_6s", static_cast<int>(attempts));
  (void)started;

  // The right password: connected.
  std::ofstream(stack.dir() / "mqtt-password") << "right-Pa55word\n";
  edge.signal(SIGTERM);
  ASSERT_EQ(edge.wait(15s), 0);
  stack.start_edge(Stack::EdgeRun().with({"--mqtt-username", "edge", "--mqtt-password-file",
                                          (stack.dir() / "mqtt-password").string()}));
  EXPECT_TRUE(wait_for_text(stack.dir() / "roof" / "edge.log", "[mqtt] [info] connected", 10s));
  EXPECT_FALSE(contains(stack.edge_log(), "Pa55word"));
}

TEST(HomeAssistantE2E, AForeignCaIsRefusedClearlyAndTheRightOneConnects) {
  TestPki broker_pki;
  Stack stack({}, MosquittoInstance::Options{.username = {},
                                             .password = {},
                                             .cert_file = broker_pki.server_cert(),
                                             .key_file = broker_pki.server_key()});
  auto& edge = stack.start_edge(
      Stack::EdgeRun().with({"--mqtt-ca-file", broker_pki.other_ca_cert().string()}));
  ASSERT_TRUE(wait_for_text(stack.dir() / "roof" / "edge.log", "certificate verify failed", 10s))
      << stack.edge_log();
  EXPECT_TRUE(contains(stack.edge_log(), "MQTT_CA_FILE"));
  EXPECT_TRUE(stack.receiver().wait_for_count(3, 10s));
  EXPECT_FALSE(contains(stack.edge_log(), "[mqtt] [info] connected"));
  edge.signal(SIGTERM);
  ASSERT_EQ(edge.wait(15s), 0);
  stack.start_edge(Stack::EdgeRun().with({"--mqtt-ca-file", broker_pki.ca_cert().string()}));
  EXPECT_TRUE(
      wait_for_text(stack.dir() / "roof" / "edge.log", "[mqtt] [info] connected to mqtts://", 10s))
      << stack.edge_log();
}

TEST(HomeAssistantE2E, MqttSettingsAreCheckedAtStartUpOneLineEach) {
  Dir dir;
  std::ofstream(dir.path / "pw") << "top-Secret\n";
  ChildProcess edge(
      {kBinDir + "/sungrow-edge", "run", "--host", "192.0.2.10", "--ingest-url",
       "https://vps.example.org/v1/ingest", "--token", "t", "--spool-path",
       (dir.path / "spool.db").string(), "--mqtt-url", "http://broker", "--mqtt-password-file",
       (dir.path / "pw").string(), "--mqtt-base-topic", "a/#"},
      dir.path / "edge.log");
  EXPECT_EQ(edge.wait(10s), 2);
  const auto log = read_text_file(dir.path / "edge.log");
  EXPECT_TRUE(contains(log, "MQTT_URL")) << log;
  EXPECT_TRUE(contains(log, "MQTT_PASSWORD_FILE needs MQTT_USERNAME")) << log;
  EXPECT_TRUE(contains(log, "MQTT_BASE_TOPIC")) << log;
  EXPECT_FALSE(contains(log, "top-Secret"));
}

}  // namespace
}  // namespace sungrow::test
