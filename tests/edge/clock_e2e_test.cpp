// The clock rule end to end: sungrow-sim (its inverter clock) → sungrow-edge with its wall clock
// stepped by libfaketime → an HTTPS receiver. A restart without NTP takes sample times from the
// inverter; without an inverter clock a wrong time is marked, never passed off as right.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <thread>

#include "child_process.hpp"
#include "edge_health.hpp"
#include "https_receiver.hpp"
#include "sim_child.hpp"
#include "test_ca.hpp"

namespace sungrow::test {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kBinDir = SUNGROW_BIN_DIR;
constexpr const char* kFaketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
constexpr const char* kDevice = "clock-sh4";
// The edge's clock after a restart without NTP: 30 minutes behind (within the receiver
// certificate's validity, which starts an hour back, so uploads keep working).
constexpr auto kBehind = 30min;
// What a stamp from the inverter's clock may be off: its registers show whole seconds (half a
// second either way), plus the delay between the read and the reply.
constexpr auto kInverterResolution = 1500ms;
// Waits for events that take a few polls; far above them, to catch a hang, not to time anything.
constexpr auto kWait = 30s;

// The edge under test: its wall clock faked from a file (monotonic time untouched), and the
// kernel's "synchronized" answer replaced by a file the test writes.
class ClockRig {
 public:
  explicit ClockRig(std::vector<std::string> sim_flags)
      : dir_(make_temp_dir("sungrow-clock")), receiver_(receiver_options()) {
    set_clock("+0");
    set_synchronized(true);
    // Real time (scale 1) in a zone 5:45 ahead of UTC, so no whole-hour guess could pass.
    sim_flags.insert(sim_flags.begin(), {"--tz", "Asia/Kathmandu"});
    sim_ = start_sim(kBinDir, dir_ / "sim.log", sim_flags, "1");
  }
  ~ClockRig() {
    edge_.reset();
    sim_.process.reset();
    if (!::testing::Test::HasFailure()) fs::remove_all(dir_);
  }
  ClockRig(const ClockRig&) = delete;
  ClockRig& operator=(const ClockRig&) = delete;

  // libfaketime's offset syntax: "+0", "-1800".
  void set_clock(const std::string& offset) { std::ofstream(dir_ / "faketime") << offset << "\n"; }
  void set_synchronized(bool synced) {
    std::ofstream(dir_ / "sync") << (synced ? "synced" : "unsynced") << "\n";
  }

  void start_edge() {
    const char* asan = std::getenv("ASAN_OPTIONS");
    edge_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kBinDir + "/sungrow-edge",
                                 "run",
                                 "--host",
                                 "127.0.0.1",
                                 "--port",
                                 sim_.port,
                                 "--device-id",
                                 kDevice,
                                 "--ingest-url",
                                 receiver_.url(),
                                 "--token",
                                 "test-token",
                                 "--ca-file",
                                 pki_.ca_cert().string(),
                                 "--spool-path",
                                 (dir_ / "spool.db").string(),
                                 "--health-path",
                                 (dir_ / "health.json").string(),
                                 "--test-poll-interval-ms",
                                 "400",
                                 "--test-clock-sync-file",
                                 (dir_ / "sync").string(),
                                 "--modbus-timeout",
                                 "1000",
                                 "--batch-size",
                                 "1",
                                 "--upload-interval",
                                 "1",
                                 "--log-level",
                                 "debug"},
        dir_ / "edge.log",
        std::vector<std::string>{
            std::string("LD_PRELOAD=") + kFaketime,
            "FAKETIME_TIMESTAMP_FILE=" + (dir_ / "faketime").string(), "FAKETIME_NO_CACHE=1",
            "FAKETIME_DONT_FAKE_MONOTONIC=1",
            // Under ASan its runtime must come first in the library list; libfaketime only
            // interposes the clock functions, so the order check is safely off for the edge.
            std::string("ASAN_OPTIONS=") + (asan ? std::string(asan) + ":" : "") +
                "verify_asan_link_order=0"});
  }
  void stop_edge() {
    ASSERT_TRUE(edge_);
    edge_->signal(SIGTERM);
    ASSERT_EQ(edge_->wait(15s), 0) << edge_log();
    edge_.reset();
  }

  // The samples the receiver stored, by seq.
  std::map<std::int64_t, Sample> received() const {
    std::map<std::int64_t, Sample> out;
    for (auto& s : receiver_.samples()) out.emplace(s.seq, std::move(s));
    return out;
  }
  // Until `count` samples satisfying `pred` have arrived; false after kWait.
  bool wait_for_samples(std::size_t count, const std::function<bool(const Sample&)>& pred) const {
    const auto deadline = std::chrono::steady_clock::now() + kWait;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto all = receiver_.samples();
      if (static_cast<std::size_t>(std::count_if(all.begin(), all.end(), pred)) >= count)
        return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }
  std::optional<json::value> health() const { return read_edge_health(dir_ / "health.json"); }
  std::string edge_log() const { return read_text_file(dir_ / "edge.log"); }
  const HttpsReceiver& receiver() const { return receiver_; }
  bool drained() const { return wait_until_edge_drained(dir_ / "health.json", kWait); }

 private:
  ReceiverOptions receiver_options() {
    ReceiverOptions o;
    o.cert_file = pki_.server_cert();
    o.key_file = pki_.server_key();
    return o;
  }

  fs::path dir_;
  TestPki pki_;
  HttpsReceiver receiver_;
  SimChild sim_;
  std::unique_ptr<ChildProcess> edge_;
};

Timestamp real_now() {
  return now_utc();  // this test process runs on the real clock
}

std::string text(const Sample& s) {
  return fmt::format("seq {} ts {} source {} adjust {}", s.seq, format_rfc3339(s.ts),
                     s.ts_source ? to_string(*s.ts_source) : "-",
                     s.ts_adjust_ms ? std::to_string(*s.ts_adjust_ms) : "-");
}

bool has_source(const Sample& s, TsSource source) {
  return s.ts_source == source;
}

// What every run must keep: each committed sample once, seqs 1..N, ts strictly rising.
void expect_each_once_rising(const std::map<std::int64_t, Sample>& by_seq,
                             const HttpsReceiver& receiver) {
  ASSERT_FALSE(by_seq.empty());
  EXPECT_EQ(receiver.duplicates(), 0U);
  EXPECT_EQ(by_seq.begin()->first, 1);
  EXPECT_EQ(by_seq.rbegin()->first, static_cast<std::int64_t>(by_seq.size()));
  const Sample* previous = nullptr;
  for (const auto& [seq, s] : by_seq) {
    if (previous != nullptr) {
      EXPECT_GT(s.ts, previous->ts) << text(s);
    }
    previous = &s;
  }
}

TEST(ClockE2E, ARestartWithoutNtpTakesSampleTimesFromTheInverterUntilNtpSyncs) {
  ASSERT_TRUE(fs::exists(kFaketime))
      << "install the Debian package faketime (scripts/install-deps)";
  ClockRig rig({});
  const auto t_start = real_now();

  // Before: the edge clock synchronized; the inverter's offset from UTC is measured and kept.
  rig.start_edge();
  ASSERT_TRUE(rig.wait_for_samples(3, [](const Sample& s) { return has_source(s, TsSource::ntp); }))
      << rig.edge_log();
  const auto before = rig.health();
  ASSERT_TRUE(before);
  const auto& reference = before->at("clock").at("reference");
  ASSERT_TRUE(reference.is_object()) << json::serialize(*before);
  // Kathmandu is UTC+05:45; the simulated inverter keeps real time.
  EXPECT_NEAR(reference.at("inverter_utc_offset_ms").to_number<double>(),
              (5 * 3600 + 45 * 60) * 1000.0, 2000.0)
      << json::serialize(*before);
  const auto measured_at = reference.at("measured_at").as_string();
  rig.stop_edge();

  // The Pi restarts during an outage: no NTP, and its clock half an hour behind.
  rig.set_synchronized(false);
  rig.set_clock("-" + std::to_string(std::chrono::seconds{kBehind}.count()));
  const auto t_restart = real_now();
  const auto restart = std::chrono::steady_clock::now();
  rig.start_edge();
  ASSERT_TRUE(rig.wait_for_samples(1, [](const Sample& s) {
    return has_source(s, TsSource::inverter);
  })) << rig.edge_log();
  const auto first_corrected = std::chrono::steady_clock::now() - restart;
  ASSERT_TRUE(rig.wait_for_samples(8, [](const Sample& s) {
    return has_source(s, TsSource::inverter);
  })) << rig.edge_log();
  const auto during = rig.health();
  ASSERT_TRUE(during);
  const auto& clock = during->at("clock");
  EXPECT_FALSE(clock.at("synchronized").as_bool()) << json::serialize(clock);
  EXPECT_EQ(clock.at("ts_source").as_string(), "inverter") << json::serialize(clock);
  // The reference came from the spool: measured before the restart, not since.
  EXPECT_EQ(clock.at("reference").at("measured_at").as_string(), measured_at);
  EXPECT_NEAR(clock.at("inverter").at("minus_edge_ms").to_number<double>(),
              (5 * 3600 + 45 * 60 + std::chrono::seconds{kBehind}.count()) * 1000.0, 2000.0);

  // NTP syncs: the clock steps to the truth and is synchronized from then on.
  // The clock steps first, its status follows: a poll in between is stamped from the inverter
  // with the edge clock already right.
  const auto t_stepped = real_now();
  rig.set_clock("+0");
  rig.set_synchronized(true);
  const auto t_synced = real_now();
  ASSERT_TRUE(rig.wait_for_samples(4, [&](const Sample& s) {
    return has_source(s, TsSource::ntp) && s.ts > t_synced;
  })) << rig.edge_log();
  ASSERT_TRUE(rig.drained()) << rig.edge_log();
  rig.stop_edge();
  const auto t_end = real_now();

  const auto by_seq = rig.received();
  expect_each_once_rising(by_seq, rig.receiver());
  std::size_t inverter = 0;
  std::size_t bumped = 0;
  for (const auto& [seq, s] : by_seq) {
    // No sample carries the faked time: every ts lies within the real span of the test.
    EXPECT_GE(s.ts, t_start - kInverterResolution) << text(s);
    EXPECT_LE(s.ts, t_end + kInverterResolution) << text(s);
    ASSERT_TRUE(s.ts_source) << text(s);
    EXPECT_NE(*s.ts_source, TsSource::unsynced) << text(s);
    if (*s.ts_source == TsSource::ntp) {
      EXPECT_FALSE(s.ts_adjust_ms) << text(s);
      continue;
    }
    // The inverter's clock shows whole seconds, so where one clock takes over from the other (the
    // restart, NTP syncing) a poll may lie up to a second before the previous one: the spool then
    // moves it just past that one, and says so.
    if (*s.ts_source == TsSource::bumped) {
      ++bumped;
    } else {
      ++inverter;
      EXPECT_GE(s.ts, t_restart - kInverterResolution) << text(s);
      EXPECT_LE(s.ts, t_synced + kInverterResolution) << text(s);
    }
    // ts − ts_adjust_ms is what the edge's clock said: half an hour behind, or right once it
    // stepped (a poll between the step and NTP's "synchronized").
    ASSERT_TRUE(s.ts_adjust_ms) << text(s);
    const auto adjust = std::chrono::milliseconds{*s.ts_adjust_ms};
    const bool behind = std::chrono::abs(adjust - kBehind) <= kInverterResolution;
    const bool stepped =
        s.ts >= t_stepped - kInverterResolution && std::chrono::abs(adjust) <= kInverterResolution;
    EXPECT_TRUE(behind || stepped) << text(s);
  }
  EXPECT_GE(inverter, 8U);
  EXPECT_LE(bumped, 6U);  // polls 400 ms apart, within the clock's resolution, at two hand-overs
  std::cout << "[ figures  ] restarted " << kBehind.count()
            << " min behind without NTP: no sample unsynced, the first inverter-stamped one at the "
               "receiver after "
            << std::chrono::duration_cast<std::chrono::milliseconds>(first_corrected).count()
            << " ms (upload every 1 s); " << inverter << " inverter-stamped, " << bumped
            << " bumped at the hand-overs\n";
}

// No inverter clock to check against (the registers are refused): after the same restart the
// edge keeps capturing, and every sample says its time is no clock's reading.
TEST(ClockE2E, WithoutAnInverterClockAWrongClockIsMarkedAndCapturingGoesOn) {
  ASSERT_TRUE(fs::exists(kFaketime))
      << "install the Debian package faketime (scripts/install-deps)";
  ClockRig rig({"--clock-fault", "unsupported"});
  rig.start_edge();
  ASSERT_TRUE(rig.wait_for_samples(3, [](const Sample& s) { return has_source(s, TsSource::ntp); }))
      << rig.edge_log();
  const auto before = rig.health();
  ASSERT_TRUE(before);
  EXPECT_TRUE(before->at("clock").at("reference").is_null());
  EXPECT_GE(before->at("clock").at("inverter").at("consecutive_failures").as_int64(), 1);
  rig.stop_edge();
  const auto last_ntp = std::prev(rig.received().end())->second.ts;

  rig.set_synchronized(false);
  rig.set_clock("-" + std::to_string(std::chrono::seconds{kBehind}.count()));
  rig.start_edge();
  ASSERT_TRUE(rig.wait_for_samples(6, [](const Sample& s) {
    return has_source(s, TsSource::bumped);
  })) << rig.edge_log();
  const auto during = rig.health();
  ASSERT_TRUE(during);
  EXPECT_EQ(during->at("clock").at("ts_source").as_string(), "bumped");
  EXPECT_EQ(during->at("status").as_string(), "ok") << "capturing and delivering as ever";

  rig.set_clock("+0");
  rig.set_synchronized(true);
  ASSERT_TRUE(rig.wait_for_samples(3, [&](const Sample& s) {
    return has_source(s, TsSource::ntp) && s.ts > last_ntp + 1s;
  })) << rig.edge_log();
  ASSERT_TRUE(rig.drained()) << rig.edge_log();
  rig.stop_edge();

  const auto by_seq = rig.received();
  expect_each_once_rising(by_seq, rig.receiver());
  std::size_t bumped = 0;
  for (const auto& [seq, s] : by_seq) {
    ASSERT_TRUE(s.ts_source) << text(s);
    EXPECT_NE(*s.ts_source, TsSource::inverter) << text(s);
    if (*s.ts_source != TsSource::bumped) continue;
    ++bumped;
    // Squeezed in after the last true time, and saying by how much the clock's reading was moved.
    EXPECT_GT(s.ts, last_ntp) << text(s);
    EXPECT_LT(s.ts, last_ntp + 1s) << text(s);
    ASSERT_TRUE(s.ts_adjust_ms) << text(s);
    EXPECT_GE(*s.ts_adjust_ms, std::chrono::milliseconds{kBehind - 5s}.count()) << text(s);
  }
  EXPECT_GE(bumped, 6U);
  EXPECT_NE(rig.edge_log().find("clock went back"), std::string::npos);
}

}  // namespace
}  // namespace sungrow::test
