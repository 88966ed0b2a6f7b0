// Several inverters on one edge, end to end over real processes: sungrow-sim with units 1 and 2 on
// one port (one client at a time) plus a third inverter on another port → sungrow-edge with a
// devices file → an HTTPS receiver. One connection per port, each device on its grid, a silent
// unit delaying nobody, and every device's seq 1..N exactly once.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "child_process.hpp"
#include "edge_health.hpp"
#include "https_receiver.hpp"
#include "sim_child.hpp"
#include "sungrow/edge/spool/spool.hpp"
#include "test_ca.hpp"

namespace sungrow::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kBinDir = SUNGROW_BIN_DIR;
constexpr std::int64_t kIntervalMs = 1'000;  // --test-poll-interval-ms

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "sungrow-multi.XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    if (!::testing::Test::HasFailure()) fs::remove_all(path);
  }
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The smallest gap between two requests the simulator logged (--verbose), in microseconds; -1
// with fewer than two.
std::int64_t smallest_request_gap_us(const std::string& log) {
  static const std::regex line("request for unit \\d+ at (\\d+) us");
  std::int64_t previous = -1;
  std::int64_t smallest = -1;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator();
       ++it) {
    const std::int64_t at = std::stoll((*it)[1].str());
    if (previous >= 0 && (smallest < 0 || at - previous < smallest)) smallest = at - previous;
    previous = at;
  }
  return smallest;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

class MultiDevice : public ::testing::Test {
 protected:
  // Two simulators: units 1 (master) and 2 (slave) on one port, refusing a second client, and a
  // standalone inverter on another port. `plant_faults` go to the first.
  void start(std::vector<std::string> plant_faults = {}) {
    std::vector<std::string> plant{"--units", "1,2", "--refuse-second-client", "--verbose"};
    plant.insert(plant.end(), plant_faults.begin(), plant_faults.end());
    plant_ = start_sim(kBinDir, dir_.path / "plant.log", plant);
    garage_ = start_sim(kBinDir, dir_.path / "garage.log", {"--verbose"});
    std::ofstream(dir_.path / "token") << "test-token\n";
    const auto token = (dir_.path / "token").string();
    std::ofstream(dir_.path / "devices") << "# the plant behind one WiNet-S, and a third inverter\n"
                                         << "roof-1 host=127.0.0.1 port=" << plant_.port
                                         << " unit=1 role=master token_file=" << token
                                         << "\nroof-2 host=127.0.0.1 port=" << plant_.port
                                         << " unit=2 role=slave token_file=" << token
                                         << "\ngarage host=127.0.0.1 port=" << garage_.port
                                         << " role=standalone token_file=" << token << "\n";
    ReceiverOptions o;
    o.cert_file = pki_.server_cert();
    o.key_file = pki_.server_key();
    receiver_ = std::make_unique<HttpsReceiver>(std::move(o));
    start_edge();
  }

  void start_edge() {
    edge_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kBinDir + "/sungrow-edge",
                                 "run",
                                 "--devices-file",
                                 (dir_.path / "devices").string(),
                                 "--ingest-url",
                                 receiver_->url(),
                                 "--ca-file",
                                 pki_.ca_cert().string(),
                                 "--spool-path",
                                 (dir_.path / "spool.db").string(),
                                 "--health-path",
                                 (dir_.path / "health.json").string(),
                                 "--test-poll-interval-ms",
                                 std::to_string(kIntervalMs),
                                 "--modbus-timeout",
                                 "400",
                                 "--upload-interval",
                                 "1",
                                 "--max-batch-size",
                                 "50",
                                 "--log-level",
                                 "debug"},
        dir_.path / "edge.log");
  }

  int stop_edge() {
    edge_->signal(SIGTERM);
    return edge_->wait(20s).value_or(-1);
  }

  // Each device's samples as the receiver stored them, by seq.
  std::map<std::string, std::map<std::int64_t, Timestamp>> received() const {
    std::map<std::string, std::map<std::int64_t, Timestamp>> out;
    for (const auto& s : receiver_->samples()) out[s.device_id][s.seq] = s.ts;
    return out;
  }

  // The 99th percentile of |interval − grid| over a device's consecutive samples, in ms.
  static std::int64_t p99_jitter_ms(const std::map<std::int64_t, Timestamp>& by_seq) {
    std::vector<std::int64_t> off;
    for (auto it = by_seq.begin(); std::next(it) != by_seq.end(); ++it) {
      if (std::next(it)->first != it->first + 1) continue;
      const auto gap =
          std::chrono::duration_cast<std::chrono::milliseconds>(std::next(it)->second - it->second);
      off.push_back(std::abs(gap.count() - kIntervalMs));
    }
    if (off.empty()) return 1'000'000;
    std::sort(off.begin(), off.end());
    return off[std::min(off.size() - 1, off.size() * 99 / 100)];
  }

  // Unit 2 of the plant misbehaves (`fault`): after 12 s the health file names it, and roof-1 (same
  // connection) and the garage (another host) stayed on their grids.
  void check_only_roof2_fails(const std::vector<std::string>& fault) {
    start(fault);
    std::this_thread::sleep_for(12s);
    const auto health = read_edge_health(dir_.path / "health.json");
    ASSERT_EQ(stop_edge(), 0) << read_file(dir_.path / "edge.log");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->at("failing_devices").as_array(), boost::json::array{"roof-2"}) << *health;
    EXPECT_EQ(health->at("status").as_string(), "degraded") << *health;
    const auto got = received();
    EXPECT_FALSE(got.contains("roof-2"));
    for (const char* id : {"roof-1", "garage"}) {
      ASSERT_TRUE(got.contains(id)) << id << "\n" << read_file(dir_.path / "edge.log");
      EXPECT_GE(got.at(id).size(), 8u) << id;
      EXPECT_LE(p99_jitter_ms(got.at(id)), 250) << id << " lost its cadence to unit 2";
    }
    EXPECT_EQ(count(read_file(dir_.path / "plant.log"), "refused a connection"), 0u);
  }

  TempDir dir_;
  TestPki pki_;
  SimChild plant_;
  SimChild garage_;
  std::unique_ptr<HttpsReceiver> receiver_;
  std::unique_ptr<ChildProcess> edge_;
};

TEST_F(MultiDevice, OneConnectionPerPortEachDeviceOnItsGridSeqPerDevice) {
  start();
  std::this_thread::sleep_for(12s);
  ASSERT_EQ(stop_edge(), 0) << read_file(dir_.path / "edge.log");
  const auto plant_log = read_file(dir_.path / "plant.log");
  // The WiNet-S never saw a second client: none refused, and one connection for both units.
  EXPECT_EQ(count(plant_log, "refused a connection"), 0u) << plant_log;
  EXPECT_EQ(count(plant_log, "client connected"), 1u) << plant_log;
  EXPECT_EQ(count(read_file(dir_.path / "garage.log"), "client connected"), 1u);
  // The pacing holds across unit ids on the shared connection: at least 20 ms between any two
  // requests the plant received (the edge waits from the end of the previous request).
  const auto gap_us = smallest_request_gap_us(plant_log);
  ASSERT_GE(gap_us, 0) << "the simulator logged no requests";
  EXPECT_GE(gap_us, 20'000) << "two requests to one WiNet-S " << gap_us << " us apart";

  const auto got = received();
  for (const char* id : {"roof-1", "roof-2", "garage"}) {
    ASSERT_TRUE(got.contains(id)) << id << "\n" << read_file(dir_.path / "edge.log");
    const auto& by_seq = got.at(id);
    EXPECT_GE(by_seq.size(), 8u) << id;
    // seq 1..N of its own, no gap (whatever was not uploaded yet is still in the spool).
    EXPECT_EQ(by_seq.begin()->first, 1) << id;
    EXPECT_EQ(by_seq.rbegin()->first, static_cast<std::int64_t>(by_seq.size())) << id;
    EXPECT_LE(p99_jitter_ms(by_seq), 250) << id << ": not on its " << kIntervalMs << " ms grid";
  }
  EXPECT_EQ(receiver_->duplicates(), 0u);
  const auto health = read_edge_health(dir_.path / "health.json");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->at("devices").as_array().size(), 3u);
  EXPECT_TRUE(health->at("failing_devices").as_array().empty()) << *health;
}

TEST_F(MultiDevice, ASilentUnitDelaysNobodyAndIsNamedInTheHealthFile) {
  check_only_roof2_fails({"--fault-unit", "2", "--no-reply"});
}

TEST_F(MultiDevice, UnitThrowingExceptionsDelaysNobody) {
  check_only_roof2_fails({"--fault-unit", "2", "--exception-all"});
}

// SIGKILL at random moments: per device, what reached the receiver plus what is still spooled is
// seq 1..N, each exactly once.
TEST_F(MultiDevice, EdgeKilledAtRandomMomentsLosesAndDuplicatesNothingPerDevice) {
  start();
  std::mt19937 rng(20261206);
  std::uniform_int_distribution<int> run_ms(500, 3000);
  for (int round = 0; round < 6; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds{run_ms(rng)});
    edge_->signal(SIGKILL);
    edge_->wait(5s);
    start_edge();
  }
  std::this_thread::sleep_for(3s);
  ASSERT_EQ(stop_edge(), 0) << read_file(dir_.path / "edge.log");
  auto spool = edge::Spool::open(dir_.path / "spool.db");
  ASSERT_TRUE(spool) << spool.error().message;
  auto all = received();
  for (const auto& row : spool->peek(1'000'000).value())
    ASSERT_TRUE(all[row.device_id].emplace(row.seq, row.ts).second)
        << row.device_id << " seq " << row.seq << " both delivered and still spooled";
  for (const auto& d : spool->stats().devices) {
    const auto& by_seq = all[d.device_id];
    EXPECT_EQ(by_seq.size(), static_cast<std::size_t>(d.last_seq)) << d.device_id;
    EXPECT_EQ(by_seq.begin()->first, 1) << d.device_id;
    EXPECT_EQ(by_seq.rbegin()->first, d.last_seq) << d.device_id;
  }
  EXPECT_EQ(spool->stats().devices.size(), 3u);
}

}  // namespace
}  // namespace sungrow::test
