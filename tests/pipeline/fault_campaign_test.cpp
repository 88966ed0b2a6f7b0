// Fault campaigns over the whole pipeline of real processes — sungrow-sim → sungrow-edge → Caddy
// (TLS, verification on) → sungrow-server → PostgreSQL + Redis — each ending with the oracle:
// every sample the edge committed is in PostgreSQL exactly once, in ts order. SUNGROW_SOAK scales
// the fault counts up (`make soak`).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <random>
#include <regex>
#include <set>
#include <thread>

#include "edge_health.hpp"
#include "pipeline.hpp"
#include "sungrow/edge/spool/spool.hpp"
#include "sungrow/sim/history.hpp"

namespace sungrow::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kFaketime = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

// Soak mode: SUNGROW_SOAK=N (a whole number; `make soak` sets 1) gives each campaign N times its
// soak count of faults instead of the short count that `make test` and CI run. 0 or unset: off.
int soak_factor() {
  static const int factor = [] {
    const char* text = std::getenv("SUNGROW_SOAK");
    if (text == nullptr || *text == '\0') return 0;
    int n = 0;
    const char* end = text + std::strlen(text);
    const auto [last, ec] = std::from_chars(text, end, n);
    if (ec != std::errc{} || last != end || n < 0)
      throw std::invalid_argument(fmt::format("SUNGROW_SOAK={} is not a whole number", text));
    return n;
  }();
  return factor;
}

int fault_count(int short_count, int soak_count) {
  return soak_factor() == 0 ? short_count : soak_count * soak_factor();
}

// Stops the simulator (no new samples), lets the backlog drain, stops the edge cleanly and asks
// the oracle. Prints one line per campaign for the record.
OracleReport drain_and_check(Pipeline& p, const std::string& campaign) {
  p.stop_sim();
  EXPECT_TRUE(p.wait_until_drained(120s)) << p.edge_log();
  EXPECT_EQ(p.stop_edge(), 0) << p.edge_log();
  const auto report = p.oracle();
  std::cout << fmt::format("[campaign] {}: {}, wall {:.0f} s", campaign, report.summary(),
                           p.wall_seconds())
            << std::endl;
  EXPECT_TRUE(report.clean()) << report.summary();
  EXPECT_EQ(report.stored_rows, report.committed) << report.summary();
  ::testing::Test::RecordProperty("committed", static_cast<int>(report.committed));
  ::testing::Test::RecordProperty("lost", static_cast<int>(report.missing.size()));
  ::testing::Test::RecordProperty("duplicated", static_cast<int>(report.duplicated.size()));
  return report;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + 1))
    ++n;
  return n;
}

TEST(FaultCampaign, EdgeKilledAtRandomMomentsWhilePollingAndUploading) {
  Pipeline p({.sim_args = {"--drop-every", "40"}});
  std::mt19937 rng(20261127);
  std::uniform_int_distribution<int> run_ms(300, 2500);
  const int kills = fault_count(12, 200);
  for (int round = 0; round < kills; ++round) {
    p.start_edge();
    std::this_thread::sleep_for(std::chrono::milliseconds{run_ms(rng)});
    ASSERT_TRUE(p.edge_running()) << p.edge_log();
    p.kill_edge();
  }
  p.start_edge();
  std::this_thread::sleep_for(2s);
  const auto report = drain_and_check(p, fmt::format("edge SIGKILL x{}", kills));
  EXPECT_GE(report.committed, 40) << "too few samples for the campaign to mean anything";
  EXPECT_EQ(count(p.edge_log(), "Edge started"), static_cast<std::size_t>(kills) + 1U);
}

TEST(FaultCampaign, ServerKilledAfterItsCommitBeforeItsReply) {
  Pipeline p({.server_env = {"SUNGROW_TEST_STORE_FAULT=kill_after_commit:3"}});
  p.start_edge();
  // Play systemd: restart the server each time the fault kills it, until it died often enough.
  const int wanted = fault_count(3, 50);
  int kills = 0;
  const auto deadline = std::chrono::steady_clock::now() + wanted * 30s;
  while (kills < wanted && std::chrono::steady_clock::now() < deadline) {
    if (const auto status = p.server_exit(100ms)) {
      ASSERT_EQ(*status, 128 + SIGKILL) << p.server_log();
      ++kills;
      p.start_server();
    }
  }
  ASSERT_EQ(kills, wanted) << p.server_log();
  // Each kill came right after a commit whose reply never left: those samples are in the
  // database, the edge has them unacked and must re-send them.
  const auto killed =
      lines_after(p.server_log(), "[test-fault] [warning] SIGKILL after committing ");
  ASSERT_EQ(killed.size(), static_cast<std::size_t>(wanted));
  // Caddy answers a request whose upstream died mid-way with 502: to the edge, a failed upload.
  EXPECT_NE(p.edge_log().find("upload failed"), std::string::npos) << p.edge_log();
  // The fault stays on while the backlog drains: a re-sent batch inserts nothing, so it never
  // triggers it again, and new batches may still be hit (which the loop below handles).
  std::thread supervisor;
  std::atomic<bool> done{false};
  supervisor = std::thread([&] {
    while (!done) {
      if (p.server_exit(100ms)) p.start_server();
    }
  });
  p.stop_sim();
  const bool drained = p.wait_until_drained(120s);
  done = true;
  supervisor.join();
  ASSERT_TRUE(drained) << p.edge_log();
  ASSERT_EQ(p.stop_edge(), 0);
  const auto report = p.oracle();
  std::cout
      << fmt::format(
             "[campaign] server SIGKILL after commit x{}: {}, wall {:.0f} s",
             lines_after(p.server_log(), "[test-fault] [warning] SIGKILL after committing ").size(),
             report.summary(), p.wall_seconds())
      << std::endl;
  EXPECT_TRUE(report.clean()) << report.summary();
  EXPECT_EQ(report.stored_rows, report.committed);
}

TEST(FaultCampaign, PostgresRestartedInImmediateModeMidIngest) {
  Pipeline p;
  p.start_edge();
  const int restarts = fault_count(3, 20);
  for (int i = 0; i < restarts; ++i) {
    std::this_thread::sleep_for(1500ms);
    p.restart_postgres_immediate();
  }
  std::this_thread::sleep_for(2s);
  const auto report = drain_and_check(p, fmt::format("PostgreSQL immediate restart x{}", restarts));
  EXPECT_GE(report.committed, 20);
  ::testing::Test::RecordProperty("server_503", static_cast<int>(count(p.server_log(), " 503 ")));
}

TEST(FaultCampaign, RedisStoppedOrHangingCostsFreshnessNeverData) {
  // A long TTL, so the last check sees the write-through rather than an expired entry.
  Pipeline p({.server_env = {"CACHE_TTL_S=300"}});
  p.start_edge();
  ASSERT_TRUE(p.wait_until_drained(30s)) << p.edge_log();

  // Hung: the kernel still accepts connections, nothing answers. Realtime through Caddy still
  // answers (from PostgreSQL) and ingest goes on.
  p.redis().pause();
  std::this_thread::sleep_for(1500ms);
  const auto hung = p.get("/v1/realtime");
  EXPECT_EQ(hung.status, 200) << hung.body;
  std::this_thread::sleep_for(1500ms);
  p.redis().resume();

  // Stopped: health says degraded (200), realtime is answered from the store.
  p.redis().stop();
  std::this_thread::sleep_for(1500ms);
  const auto health = p.get("/health");
  EXPECT_EQ(health.status, 200) << health.body;
  EXPECT_NE(health.body.find("degraded"), std::string::npos) << health.body;
  const auto stopped = p.get("/v1/realtime");
  ASSERT_EQ(stopped.status, 200) << stopped.body;
  EXPECT_EQ(boost::json::parse(stopped.body).at("source").as_string(), "store") << stopped.body;
  std::this_thread::sleep_for(1500ms);
  p.redis().restart();
  std::this_thread::sleep_for(2s);  // at least one batch written through to the new Redis

  const auto report = drain_and_check(p, "Redis hung then stopped");
  // Back: the newest sample is written through to Redis again and served from it.
  const auto after = p.get("/v1/realtime");
  ASSERT_EQ(after.status, 200) << after.body;
  const auto v = boost::json::parse(after.body);
  EXPECT_EQ(v.at("source").as_string(), "cache") << after.body;
  EXPECT_EQ(v.at("seq").as_int64(), report.committed) << after.body;
}

// The link to the server flaps: Caddy stopped at a random moment (mid-upload or between
// uploads) and started again, over and over. Each flap lasts until the edge saw the link fail,
// and the next one starts only after it delivered through the healed link again: every flap is
// a real outage and a real recovery, and the retry backoff never grows past one outage.
TEST(FaultCampaign, CaddyStoppedAndStartedOverAndOver) {
  Pipeline p;
  p.start_edge();
  std::mt19937 rng(20261205);
  std::uniform_int_distribution<int> up_ms(0, 1500);
  const int flaps = fault_count(4, 100);
  for (int flap = 0; flap < flaps; ++flap) {
    std::this_thread::sleep_for(std::chrono::milliseconds{up_ms(rng)});
    const auto down = now_utc();
    p.caddy().stop();
    ASSERT_TRUE(wait_for_edge_report(p.health_path(), EdgeLoop::upload, false, down, 60s))
        << "flap " << flap << ": the edge never saw the link down\n"
        << p.edge_log();
    const auto up = now_utc();
    p.caddy().start();
    ASSERT_TRUE(wait_for_edge_report(p.health_path(), EdgeLoop::upload, true, up, 60s))
        << "flap " << flap << ": the edge never delivered after the link came back\n"
        << p.edge_log();
  }
  const auto report = drain_and_check(p, fmt::format("Caddy stopped and started x{}", flaps));
  EXPECT_GE(report.committed, 20);
}

// What the edge commits over `days` of 5-s polls while the link is down, committed at once: the
// simulator's own household model read through the edge's normalizer (what a poll of sungrow-sim
// returns at each instant), on the 5-s grid of the days before now, through the spool's own
// enqueue. Only while no edge runs: a spool has one writer.
std::int64_t commit_outage_days(const fs::path& spool_path, int days) {
  auto history = sim::HistoryGenerator::create(
      {.device_id = Pipeline::kDevice, .end = now_utc(), .days = days, .step = 5s});
  if (!history) throw std::runtime_error("history: " + history.error().message);
  // Durable once closed; a commit that waits for the disk would only make this slower.
  auto spool = edge::Spool::open(spool_path, {.synchronous = edge::SpoolSync::normal});
  if (!spool) throw std::runtime_error("spool: " + spool.error().message);
  std::int64_t committed = 0;
  while (auto sample = history->next()) {
    if (!spool->enqueue(std::move(*sample)).durable)
      throw std::runtime_error("spool refused a write while committing the outage");
    ++committed;
  }
  return committed;
}

// A long outage, time-compressed: the edge polls every 50 ms (a 5-s WiNet-S poll stands for an
// hour of outage in 36 s of test), and its normal upload pace is slow (30 s). After the link
// heals the backlog must go back-to-back in full batches, not one batch per 30 s. In soak mode
// the link has been down for a week before that (120 960 samples of 5-s polls, committed at once
// before the edge starts), and the edge starts on that backlog with the link still down.
TEST(FaultCampaign, CaddyDownForALongOutageThenTheBacklogDrainsBackToBack) {
  Pipeline p({.edge_args = {"--test-poll-interval-ms", "50", "--batch-size", "10",
                            "--max-batch-size", "25", "--upload-interval", "30"}});
  const int outage_days = fault_count(0, 7);
  std::int64_t week = 0;
  if (outage_days > 0) {
    p.caddy().stop();
    week = commit_outage_days(p.spool_path(), outage_days);
    p.start_edge();
  } else {
    p.start_edge();
    std::this_thread::sleep_for(1s);
    p.caddy().stop();
  }
  constexpr std::uint64_t kBacklog = 150;  // at least 6 full batches polled live
  ASSERT_TRUE(p.wait_for_backlog(static_cast<std::uint64_t>(week) + kBacklog, 60s)) << p.edge_log();
  p.stop_sim();
  const auto waiting = p.edge_health().value().at("spool").at("depth").as_int64();
  p.caddy().start();
  const auto healed = std::chrono::steady_clock::now();
  // One batch per upload interval would need (waiting / 25) × 30 s ≥ 3 minutes; the retry
  // backoff after the outage may add up to its cap of a few tens of seconds, and each full batch
  // back-to-back is allowed half a second.
  const double allowed_s = 90.0 + static_cast<double>(waiting) / 25.0 * 0.5;
  ASSERT_TRUE(p.wait_until_drained(std::chrono::seconds{static_cast<int>(allowed_s) + 60}))
      << p.edge_log();
  const auto drain_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - healed).count();
  EXPECT_LT(drain_s, allowed_s) << "the backlog of " << waiting << " was not sent back-to-back";
  ASSERT_EQ(p.stop_edge(), 0);
  const auto report = p.oracle();
  std::cout << fmt::format(
                   "[campaign] Caddy down for {} days + a live backlog, {} waiting, drained in "
                   "{:.1f} s after the heal: {}, wall {:.0f} s",
                   outage_days, waiting, drain_s, report.summary(), p.wall_seconds())
            << std::endl;
  EXPECT_TRUE(report.clean()) << report.summary();
  EXPECT_GE(report.committed, week + static_cast<std::int64_t>(kBacklog));
  RecordProperty("backlog", static_cast<int>(waiting));
}

// A tmpfs of 1 MiB as the spool's file system, filled to the last byte by a ballast file while
// the server is unreachable (so nothing can be acked either); then freed.
class TmpfsMount {
 public:
  explicit TmpfsMount(const fs::path& where) : where_(where) {
    fs::create_directories(where_);
    mounted_ = ::mount("tmpfs", where_.c_str(), "tmpfs", 0, "size=1m") == 0;
    if (!mounted_) error_ = errno;
  }
  ~TmpfsMount() {
    if (mounted_) ::umount2(where_.c_str(), MNT_DETACH);
    std::error_code ec;
    fs::remove_all(where_, ec);
  }
  bool mounted() const { return mounted_; }
  int error() const { return error_; }  // errno of the failed mount

 private:
  fs::path where_;
  bool mounted_ = false;
  int error_ = 0;
};

void fill_up(const fs::path& ballast) {
  std::ofstream out(ballast, std::ios::binary);
  const std::string block(4096, 'x');
  while (out.write(block.data(), static_cast<std::streamsize>(block.size()))) {
    out.flush();
  }
}

TEST(FaultCampaign, SpoolFileSystemFullThenFreed) {
  const fs::path mount_point =
      fs::temp_directory_path() / ("sungrow-spoolfs-" + std::to_string(::getpid()));
  TmpfsMount fs_mount(mount_point);
  // Not root, or root in a container without CAP_SYS_ADMIN: no file system to fill, and the
  // campaign says so instead of passing. Any other failure is a failure.
  if (!fs_mount.mounted() && fs_mount.error() == EPERM) {
    GTEST_SKIP() << "mounting a tmpfs needs CAP_SYS_ADMIN (root, outside an unprivileged "
                    "container; CI runs as root): mount: "
                 << std::strerror(fs_mount.error());
  }
  ASSERT_TRUE(fs_mount.mounted()) << "mount -t tmpfs failed: " << std::strerror(fs_mount.error());
  Pipeline p({.spool_dir = mount_point});
  p.start_edge();
  ASSERT_TRUE(p.wait_until_drained(30s)) << p.edge_log();
  p.caddy().stop();
  std::this_thread::sleep_for(1s);
  fill_up(mount_point / "ballast");
  // The edge keeps polling; samples it cannot commit stay in memory, in order, seq assigned.
  const auto pending = [](const boost::json::value& h) {
    return h.at("spool").at("pending_in_memory").as_int64();
  };
  ASSERT_TRUE(p.wait_for_health([&](const auto& h) { return pending(h) >= 5; }, 10s))
      << p.edge_log();
  // Samples only in memory: the health file says so loudly.
  EXPECT_EQ(p.edge_health().value().at("status").as_string(), "failing");
  fs::remove(mount_point / "ballast");
  // With room again, the next poll's write takes the held samples to disk first. Only then may
  // the simulator go: the edge retries held samples when it writes a new one (or when it exits),
  // so without a new sample they would stay in memory and "drained" would never come.
  ASSERT_TRUE(p.wait_for_health([&](const auto& h) { return pending(h) == 0; }, 30s))
      << p.edge_log();
  p.caddy().start();
  const auto report = drain_and_check(p, "spool file system full, then freed");
  EXPECT_GE(report.committed, 10);
  EXPECT_NE(p.edge_log().find("kept in memory"), std::string::npos);
}

// libfaketime steps the edge's wall clock back an hour while it runs (monotonic time untouched).
// The edge talks plain http to the server on loopback here: a clock an hour back would rightly
// refuse Caddy's freshly issued certificate as not yet valid.
TEST(FaultCampaign, EdgeClockSteppedBackwardsKeepsTsRisingAndLosesNothing) {
  ASSERT_TRUE(fs::exists(kFaketime))
      << "install the Debian package faketime (scripts/install-deps)";
  const fs::path clock_dir =
      fs::temp_directory_path() / ("sungrow-faketime-" + std::to_string(::getpid()));
  fs::create_directories(clock_dir);
  const auto offset_file = clock_dir / "offset";
  std::ofstream(offset_file) << "+0\n";
  {
    // Under ASan its runtime must come first in the library list; libfaketime only interposes
    // the clock functions, so the order check is safely off for this one process.
    const char* asan = std::getenv("ASAN_OPTIONS");
    Pipeline p({.edge_env = {std::string("LD_PRELOAD=") + kFaketime,
                             "FAKETIME_TIMESTAMP_FILE=" + offset_file.string(),
                             "FAKETIME_NO_CACHE=1", "FAKETIME_DONT_FAKE_MONOTONIC=1",
                             std::string("ASAN_OPTIONS=") + (asan ? std::string(asan) + ":" : "") +
                                 "verify_asan_link_order=0"},
                .via_caddy = false});
    p.start_edge();
    std::this_thread::sleep_for(3s);
    std::ofstream(offset_file) << "-3600\n";
    std::this_thread::sleep_for(3s);
    std::ofstream(offset_file) << "+0\n";
    std::this_thread::sleep_for(2s);
    const auto report = drain_and_check(p, "edge clock stepped back 1 h");
    EXPECT_GE(report.committed, 20);
    EXPECT_NE(p.edge_log().find("clock went back"), std::string::npos)
        << "the clock step never reached the edge:\n"
        << p.edge_log();
  }
  fs::remove_all(clock_dir);
}

// The WiNet-S faults seen in the field, all at once: dropped sessions, WiNet-S-style malformed
// exception frames, an old firmware without the battery power register, slow replies, and a
// second Modbus client (an installer's tool) that the dongle refuses while the edge holds it.
TEST(FaultCampaign, WiNetSFaultsNeverCostACommittedSample) {
  Pipeline p(
      {.sim_args = {"--drop-every", "7", "--malformed-exceptions", "--no-battery-power-register",
                    "--slow-reply-ms", "20", "--refuse-second-client"}});
  p.start_edge();
  int second_client_refused = 0;
  for (int i = 0; i < 4; ++i) {
    std::this_thread::sleep_for(1500ms);
    ChildProcess once({std::string(SUNGROW_BIN_DIR) + "/sungrow-edge", "once", "--host",
                       "127.0.0.1", "--port", p.sim_port(), "--modbus-timeout", "500"},
                      p.dir() / "once.log");
    if (once.wait(20s) != 0) ++second_client_refused;
  }
  std::this_thread::sleep_for(1s);
  const auto report = drain_and_check(p, "WiNet-S faults");
  EXPECT_GE(report.committed, 8);
  // The faults really happened (the simulator counts them at exit).
  std::smatch m;
  const auto sim_log = p.sim_log();
  ASSERT_TRUE(std::regex_search(sim_log, m,
                                std::regex(R"((\d+) exceptions, (\d+) dropped, (\d+) refused)")))
      << sim_log;
  EXPECT_GT(std::stoi(m[1].str()), 0) << sim_log;
  EXPECT_GT(std::stoi(m[2].str()), 0) << sim_log;
  EXPECT_GT(second_client_refused + std::stoi(m[3].str()), 0) << sim_log;
}

// Negative control: the same oracle against a server that acks every third batch without
// storing it must find exactly those samples missing — or it could not see a real loss either.
TEST(FaultCampaign, NegativeControlTheOracleSeesAServerThatAcksWithoutCommitting) {
  Pipeline p({.server_env = {"SUNGROW_TEST_STORE_FAULT=ack_without_commit:3"}});
  p.start_edge();
  std::this_thread::sleep_for(5s);
  p.stop_sim();
  ASSERT_TRUE(p.wait_until_drained(60s)) << p.edge_log();
  ASSERT_EQ(p.stop_edge(), 0);
  std::set<std::int64_t> dropped;
  for (const auto& line : lines_after(p.server_log(), "seqs=")) {
    std::stringstream seqs(line);
    for (std::string seq; std::getline(seqs, seq, ',');) dropped.insert(std::stoll(seq));
  }
  ASSERT_FALSE(dropped.empty()) << "the broken server never dropped a batch: the control is void";
  const auto report = p.oracle();
  std::cout << "[campaign] negative control (ack without commit every 3rd batch): "
            << report.summary() << std::endl;
  EXPECT_FALSE(report.clean());
  EXPECT_EQ(std::set<std::int64_t>(report.missing.begin(), report.missing.end()), dropped);
}

}  // namespace
}  // namespace sungrow::test
