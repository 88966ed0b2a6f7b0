// End to end over real processes: sungrow-sim → sungrow-edge → an HTTPS receiver, faults on both
// sides, and the oracle "every polled sample arrived exactly once".
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
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

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "sungrow-e2e.XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Starts sungrow-sim on a free port and returns it with the port it reported.
std::pair<std::unique_ptr<ChildProcess>, std::string> start_sim(const fs::path& dir,
                                                                std::vector<std::string> extra) {
  auto sim = test::start_sim(kBinDir, dir / "sim.log", extra);
  return {std::move(sim.process), sim.port};
}

struct EdgeArgs {
  std::string sim_port;
  std::string url;
  fs::path ca_file;
  fs::path dir;
};

std::unique_ptr<ChildProcess> start_edge(const EdgeArgs& a) {
  return std::make_unique<ChildProcess>(std::vector<std::string>{kBinDir + "/sungrow-edge",
                                                                 "run",
                                                                 "--host",
                                                                 "127.0.0.1",
                                                                 "--port",
                                                                 a.sim_port,
                                                                 "--device-id",
                                                                 "e2e-sh4",
                                                                 "--ingest-url",
                                                                 a.url,
                                                                 "--token",
                                                                 "test-token",
                                                                 "--ca-file",
                                                                 a.ca_file.string(),
                                                                 "--spool-path",
                                                                 (a.dir / "spool.db").string(),
                                                                 "--health-path",
                                                                 (a.dir / "health.json").string(),
                                                                 "--test-poll-interval-ms",
                                                                 "300",
                                                                 "--modbus-timeout",
                                                                 "500",
                                                                 "--batch-size",
                                                                 "5",
                                                                 "--max-batch-size",
                                                                 "40",
                                                                 "--upload-interval",
                                                                 "1",
                                                                 "--upload-timeout",
                                                                 "2",
                                                                 "--log-level",
                                                                 "debug"},
                                        a.dir / "edge.log");
}

std::optional<boost::json::value> health(const fs::path& dir) {
  return read_edge_health(dir / "health.json");
}

bool wait_until_drained(const fs::path& dir, std::chrono::seconds timeout) {
  return wait_until_edge_drained(dir / "health.json", timeout);
}

// Takes the inverter away for good and returns once the edge has reported a poll that failed
// after that: from then on every sample it will ever commit is in its spool, so the next
// "drained" means drained.
::testing::AssertionResult stop_sim(ChildProcess& sim, const fs::path& dir) {
  sim.signal(SIGTERM);
  if (const auto status = sim.wait(5s); status != 0)
    return ::testing::AssertionFailure()
           << "sungrow-sim exited with " << (status ? std::to_string(*status) : "no status");
  if (!wait_for_edge_report(dir / "health.json", EdgeLoop::poll, false, now_utc(), 30s))
    return ::testing::AssertionFailure()
           << "the edge never reported a failed poll after the simulator stopped:\n"
           << read_file(dir / "edge.log");
  return ::testing::AssertionSuccess();
}

ReceiverOptions receiver_options(const TestPki& pki) {
  ReceiverOptions o;
  o.cert_file = pki.server_cert();
  o.key_file = pki.server_key();
  return o;
}

Reply status_reply(unsigned status) {
  Reply r;
  r.status = status;
  return r;
}

Reply reset_reply(bool commit) {
  Reply r;
  r.reset = true;
  r.commit = commit;
  return r;
}

Reply delayed_reply(std::chrono::milliseconds delay) {
  Reply r;
  r.delay = delay;
  return r;
}

TEST(EndToEnd, EveryPolledSampleArrivesExactlyOnceThroughKillsAndFaults) {
  TempDir tmp;
  TestPki pki;
  std::atomic<int> request_no{0};  // outlives the receiver, whose thread reads it
  HttpsReceiver receiver(receiver_options(pki));
  // Server-side faults, repeating: 500, a connection reset, a commit whose reply is lost (the
  // edge must re-send and the receiver must not store twice), a timeout longer than the edge's.
  receiver.set_responder([&](const RequestRecord&) -> std::optional<Reply> {
    switch (++request_no % 9) {
      case 2:
        return status_reply(500);
      case 4:
        return reset_reply(false);
      case 6:
        return reset_reply(true);
      case 8:
        return delayed_reply(2500ms);
      default:
        return std::nullopt;
    }
  });

  // Inverter-side faults: the dongle drops the connection every 40 requests.
  auto [sim, sim_port] = start_sim(tmp.path, {"--drop-every", "40"});
  const EdgeArgs args{sim_port, receiver.url(), pki.ca_cert(), tmp.path};

  // Kill -9 the edge at random moments, several times, restarting it each time.
  std::mt19937 rng(12345);
  std::uniform_int_distribution<int> run_ms(1200, 3000);
  for (int round = 0; round < 5; ++round) {
    auto edge = start_edge(args);
    std::this_thread::sleep_for(std::chrono::milliseconds{run_ms(rng)});
    edge->signal(SIGKILL);
    ASSERT_EQ(edge->wait(5s), 128 + SIGKILL);
  }

  // Last run: poll a little more, then take the inverter away so no new samples appear, and
  // let the backlog drain.
  auto edge = start_edge(args);
  std::this_thread::sleep_for(2s);
  ASSERT_TRUE(stop_sim(*sim, tmp.path));
  receiver.set_responder(nullptr);
  ASSERT_TRUE(wait_until_drained(tmp.path, 90s)) << read_file(tmp.path / "edge.log");
  edge->signal(SIGTERM);
  ASSERT_EQ(edge->wait(10s), 0) << read_file(tmp.path / "edge.log");

  // The oracle: the spool assigned seqs 1..N to the samples it committed; each must be stored
  // exactly once, with strictly increasing ts.
  auto spool = edge::Spool::open(tmp.path / "spool.db");
  ASSERT_TRUE(spool);
  const auto stats = spool->stats();
  EXPECT_EQ(stats.depth, 0U);
  EXPECT_EQ(stats.dead_letters, 0U);
  const auto n = static_cast<std::size_t>(stats.last_seq);
  ASSERT_GE(n, 10U) << "too few samples polled for the test to mean anything";

  EXPECT_EQ(receiver.count(), n);
  std::map<std::int64_t, Timestamp> by_seq;
  for (const auto& s : receiver.samples()) {
    EXPECT_EQ(s.device_id, "e2e-sh4");
    EXPECT_TRUE(by_seq.emplace(s.seq, s.ts).second) << "seq " << s.seq << " stored twice";
  }
  ASSERT_EQ(by_seq.size(), n);
  EXPECT_EQ(by_seq.begin()->first, 1);
  EXPECT_EQ(by_seq.rbegin()->first, static_cast<std::int64_t>(n));
  std::optional<Timestamp> previous;
  for (const auto& [seq, ts] : by_seq) {
    if (previous) {
      EXPECT_GT(ts, *previous) << "seq " << seq;
    }
    previous = ts;
  }
  // The faults really happened: re-sends reached the receiver and were not stored again.
  EXPECT_GT(receiver.duplicates(), 0U);
  // Tokens are never logged, not even at debug level across retries and restarts.
  EXPECT_EQ(read_file(tmp.path / "edge.log").find("test-token"), std::string::npos);
  // The operator's view agrees.
  ChildProcess status({kBinDir + "/sungrow-edge", "spool", "status", "--spool-path",
                       (tmp.path / "spool.db").string()},
                      tmp.path / "status.out");
  ASSERT_EQ(status.wait(10s), 0);
  const auto status_text = read_file(tmp.path / "status.out");
  EXPECT_NE(status_text.find("drained"), std::string::npos) << status_text;
  EXPECT_NE(status_text.find("last seq:         " + std::to_string(n)), std::string::npos)
      << status_text;
  RecordProperty("samples", static_cast<int>(n));
  RecordProperty("duplicates_ignored", static_cast<int>(receiver.duplicates()));
}

// Negative control: a server that acks batches it then loses. The same oracle as above must see
// exactly those samples missing, or it could not see a real loss either.
TEST(EndToEnd, TheOracleSeesALossWhenTheServerAcksWithoutStoring) {
  TempDir tmp;
  TestPki pki;
  std::atomic<int> request_no{0};
  std::mutex lost_mutex;
  std::set<std::int64_t> lost;  // seqs the broken server acked and dropped
  HttpsReceiver receiver(receiver_options(pki));
  receiver.set_responder([&](const RequestRecord& r) -> std::optional<Reply> {
    if (++request_no % 4 != 2 || r.seqs.empty()) return std::nullopt;
    std::lock_guard lock(lost_mutex);
    lost.insert(r.seqs.begin(), r.seqs.end());
    return Reply::with_status(200).lost();
  });
  auto [sim, sim_port] = start_sim(tmp.path, {});
  auto edge = start_edge({sim_port, receiver.url(), pki.ca_cert(), tmp.path});
  std::this_thread::sleep_for(4s);
  ASSERT_TRUE(stop_sim(*sim, tmp.path));
  receiver.set_responder(nullptr);
  ASSERT_TRUE(wait_until_drained(tmp.path, 60s)) << read_file(tmp.path / "edge.log");
  edge->signal(SIGTERM);
  ASSERT_EQ(edge->wait(10s), 0);

  auto spool = edge::Spool::open(tmp.path / "spool.db");
  ASSERT_TRUE(spool);
  const auto n = spool->stats().last_seq;
  std::set<std::int64_t> missing;
  const auto keys = receiver.keys();
  for (std::int64_t seq = 1; seq <= n; ++seq) {
    if (!keys.contains({"e2e-sh4", seq})) missing.insert(seq);
  }
  std::lock_guard lock(lost_mutex);
  ASSERT_FALSE(lost.empty()) << "the broken server never lost anything: the control is void";
  EXPECT_EQ(missing, lost);
}

TEST(EndToEnd, WrongCertificateDeliversNothingAndKeepsEverything) {
  TempDir tmp;
  TestPki pki;
  HttpsReceiver receiver(receiver_options(pki));
  auto [sim, sim_port] = start_sim(tmp.path, {});
  auto edge = start_edge({sim_port, receiver.url(), pki.other_ca_cert(), tmp.path});
  // Wait until a failed upload was recorded with samples waiting.
  bool seen = false;
  for (int i = 0; i < 100 && !seen; ++i) {
    std::this_thread::sleep_for(100ms);
    if (auto h = health(tmp.path)) {
      seen = !h->at("upload").at("last_at").is_null() && h->at("spool").at("depth").as_int64() > 0;
      if (seen) {
        EXPECT_FALSE(h->at("upload").at("ok").as_bool());
        EXPECT_EQ(h->at("status").as_string(), "degraded");
      }
    }
  }
  EXPECT_TRUE(seen) << read_file(tmp.path / "edge.log");
  edge->signal(SIGTERM);
  EXPECT_EQ(edge->wait(10s), 0);
  EXPECT_EQ(receiver.count(), 0U);
  EXPECT_EQ(receiver.requests().size(), 0U) << "no request may pass an unverified TLS handshake";
}

TEST(EndToEnd, ASecondAgentOnTheSameSpoolRefusesToStart) {
  TempDir tmp;
  TestPki pki;
  HttpsReceiver receiver(receiver_options(pki));
  auto [sim, sim_port] = start_sim(tmp.path, {});
  auto first = start_edge({sim_port, receiver.url(), pki.ca_cert(), tmp.path});
  ASSERT_TRUE(wait_for_text(tmp.path / "edge.log", "Edge started", 10s));
  auto second = start_edge({sim_port, receiver.url(), pki.ca_cert(), tmp.path});
  EXPECT_EQ(second->wait(10s), 1);
  EXPECT_NE(read_file(tmp.path / "edge.log").find("already running"), std::string::npos);
  EXPECT_TRUE(first->running());
  first->signal(SIGTERM);
  EXPECT_EQ(first->wait(10s), 0);
}

TEST(EndToEnd, ASampleTheServerRefusesIsDeadLetteredVisiblyAndTheRestDelivered) {
  TempDir tmp;
  TestPki pki;
  HttpsReceiver receiver(receiver_options(pki));
  receiver.reject_seqs({3});
  auto [sim, sim_port] = start_sim(tmp.path, {});
  auto edge = start_edge({sim_port, receiver.url(), pki.ca_cert(), tmp.path});
  ASSERT_TRUE(receiver.wait_for_count(6, 30s)) << read_file(tmp.path / "edge.log");
  edge->signal(SIGTERM);
  ASSERT_EQ(edge->wait(10s), 0);
  const auto keys = receiver.keys();
  EXPECT_FALSE(keys.contains({"e2e-sh4", 3}));
  EXPECT_TRUE(keys.contains({"e2e-sh4", 2}));
  EXPECT_TRUE(keys.contains({"e2e-sh4", 4}));

  ChildProcess dead({kBinDir + "/sungrow-edge", "spool", "dead-letters", "--spool-path",
                     (tmp.path / "spool.db").string()},
                    tmp.path / "dead.out");
  ASSERT_EQ(dead.wait(10s), 0);
  const auto line = read_file(tmp.path / "dead.out");
  const auto v = boost::json::parse(line);
  EXPECT_EQ(v.at("seq").as_int64(), 3);
  EXPECT_NE(v.at("reason").as_string().find("422"), boost::json::string::npos) << line;
  EXPECT_EQ(v.at("sample").at("seq").as_int64(), 3);
}

TEST(EndToEnd, SpoolCommandsNeverCreateASpoolOnAMistypedPath) {
  TempDir tmp;
  ChildProcess status({kBinDir + "/sungrow-edge", "spool", "status", "--spool-path",
                       (tmp.path / "typo.db").string()},
                      tmp.path / "status.out");
  EXPECT_EQ(status.wait(10s), 1);
  EXPECT_NE(read_file(tmp.path / "status.out").find("no spool at"), std::string::npos);
  EXPECT_FALSE(fs::exists(tmp.path / "typo.db"));
}

TEST(EndToEnd, PlainHttpToANonLoopbackHostIsRefusedAtStartUp) {
  TempDir tmp;
  ChildProcess edge(
      {kBinDir + "/sungrow-edge", "run", "--host", "192.0.2.10", "--ingest-url",
       "http://vps.example.org/v1/ingest", "--token", "t", "--spool-path",
       (tmp.path / "spool.db").string(), "--health-path", (tmp.path / "health.json").string()},
      tmp.path / "edge.log");
  EXPECT_EQ(edge.wait(10s), 2);
  EXPECT_NE(read_file(tmp.path / "edge.log").find("VPS_INGEST_URL"), std::string::npos);
}

TEST(EndToEnd, PollFasterThanFiveSecondsIsRefused) {
  TempDir tmp;
  ChildProcess edge({kBinDir + "/sungrow-edge", "run", "--host", "192.0.2.10", "--poll-interval",
                     "2", "--ingest-url", "https://vps.example.org/v1/ingest", "--token", "t",
                     "--spool-path", (tmp.path / "spool.db").string()},
                    tmp.path / "edge.log");
  EXPECT_EQ(edge.wait(10s), 2);
  EXPECT_NE(read_file(tmp.path / "edge.log").find("POLL_INTERVAL_S"), std::string::npos);
}

TEST(EndToEnd, OncePrintsOneSampleAndScanDecodesTheMap) {
  TempDir tmp;
  auto [sim, sim_port] = start_sim(tmp.path, {});
  ChildProcess once({kBinDir + "/sungrow-edge", "once", "--host", "127.0.0.1", "--port", sim_port},
                    tmp.path / "once.out");
  ASSERT_EQ(once.wait(20s), 0) << read_file(tmp.path / "once.out");
  const auto out = read_file(tmp.path / "once.out");
  const auto json_start = out.find('{');
  ASSERT_NE(json_start, std::string::npos) << out;
  const auto v = boost::json::parse(out.substr(json_start));
  EXPECT_EQ(v.at("device_id").as_string(), "127.0.0.1");
  EXPECT_FALSE(v.at("battery_soc_pct").is_null());
  EXPECT_FALSE(v.at("grid_frequency_hz").is_null());
  EXPECT_FALSE(v.at("pv_energy_total_kwh").is_null());
  EXPECT_FALSE(v.at("power_flow").is_null());

  ChildProcess scan({kBinDir + "/sungrow-edge", "scan", "--host", "127.0.0.1", "--port", sim_port},
                    tmp.path / "scan.out");
  ASSERT_EQ(scan.wait(30s), 0) << read_file(tmp.path / "scan.out");
  const auto table = read_file(tmp.path / "scan.out");
  EXPECT_NE(table.find("device_type"), std::string::npos);
  EXPECT_NE(table.find("3352"), std::string::npos) << table;  // 0x0D18 = SH4.0RS
  EXPECT_NE(table.find("battery_power"), std::string::npos);
}

TEST(EndToEnd, OnceFailsClearlyWhenTheInverterIsUnreachable) {
  TempDir tmp;
  // A port nobody listens on (the simulator's, after it stopped).
  std::string dead_port;
  {
    auto [sim, port] = start_sim(tmp.path, {});
    dead_port = port;
    sim->signal(SIGTERM);
    sim->wait(5s);
  }
  ChildProcess once({kBinDir + "/sungrow-edge", "once", "--host", "127.0.0.1", "--port", dead_port,
                     "--modbus-timeout", "300"},
                    tmp.path / "once.out");
  EXPECT_EQ(once.wait(20s), 1);
  EXPECT_NE(read_file(tmp.path / "once.out").find("cannot read the inverter"), std::string::npos);
}

}  // namespace
}  // namespace sungrow::test
