// Integration tests of the spool: kill -9 at random moments, two threads, and a real I/O error.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "spool_test_support.hpp"

namespace sungrow::edge {
namespace {

using test::decode_body;
using test::kT0;
using test::make_sample;
using test::open_or_die;

// A row's identity: seq counts per device (DESIGN §3).
using Key = std::pair<std::string, std::int64_t>;  // (device_id, seq)

// Reads what is available on `fd` into `text` until a full line arrived or `timeout` passed.
void read_first_line(int fd, std::string& text, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  while (text.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd readable{fd, POLLIN, 0};
    if (poll(&readable, 1, 10) <= 0) continue;
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) return;
    text.append(buffer, static_cast<std::size_t>(n));
  }
}

enum class KillFrom {
  spawn,         // lands anywhere, including in open() and WAL recovery of the previous kill
  first_commit,  // lands among commits
};

// Runs the child until SIGKILL `delay` after `from`; returns what it reported as durable.
std::map<Key, std::int64_t> run_and_kill(const std::filesystem::path& spool_path, KillFrom from,
                                         std::chrono::milliseconds delay) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {  // only async-signal-safe calls until exec
    dup2(out[1], STDOUT_FILENO);
    execl(SPOOL_CRASH_CHILD, SPOOL_CRASH_CHILD, spool_path.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(out[1]);
  std::string text;
  if (from == KillFrom::first_commit) read_first_line(out[0], text, std::chrono::seconds(10));
  std::this_thread::sleep_for(delay);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);

  char buffer[4096];
  for (ssize_t n; (n = read(out[0], buffer, sizeof buffer)) > 0;) {
    text.append(buffer, static_cast<std::size_t>(n));
  }
  close(out[0]);
  // The child must have died by our signal, not by an error of its own.
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "child exited by itself with status " << status;

  std::map<Key, std::int64_t> reported;                        // → ts_ms
  const auto complete = text.substr(0, text.rfind('\n') + 1);  // a torn last line is ignored
  std::istringstream lines(complete);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::int64_t seq = 0;
    std::int64_t ts_ms = 0;
    std::string device;
    if (fields >> seq >> ts_ms >> device) {
      reported[Key{device, seq}] = ts_ms;
    } else {
      ADD_FAILURE() << "unexpected line from the child: " << line;
    }
  }
  return reported;
}

TEST(SpoolCrash, KillNineAtRandomMomentsLosesAndDuplicatesNothing) {
  test::TempDir dir;
  const auto path = dir / "spool.db";
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> delay_ms(1, 50);

  std::map<Key, std::int64_t> reported_ever;  // what the child said was durable → ts_ms
  std::set<Key> acked;
  std::map<Key, std::int64_t> seen_ever;  // every row the spool has shown us → ts_ms
  constexpr int kRounds = 40;
  int rounds_with_commits = 0;

  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const auto from = round % 2 == 0 ? KillFrom::spawn : KillFrom::first_commit;
    const auto reported = run_and_kill(path, from, std::chrono::milliseconds(delay_ms(rng)));
    if (!reported.empty()) ++rounds_with_commits;
    reported_ever.insert(reported.begin(), reported.end());

    auto spool = open_or_die(path);  // recovery after the kill
    ASSERT_TRUE(spool.verify_integrity());
    const auto rows = spool.peek(1'000'000).value();

    // Per device: the highest seq seen before this round, and the previous row's seq.
    std::map<std::string, std::int64_t> max_seen_before;
    for (const auto& [key, ts] : seen_ever) max_seen_before[key.first] = key.second;
    std::map<std::string, std::int64_t> previous_seq;
    for (const auto& row : rows) {
      const Key key{row.device_id, row.seq};
      ASSERT_GT(row.seq, previous_seq[row.device_id]) << "seqs out of order or duplicated";
      previous_seq[row.device_id] = row.seq;
      ASSERT_FALSE(acked.contains(key)) << "an acked row came back: " << row.seq;
      const Sample body = decode_body(row.json);
      ASSERT_EQ(body.seq, row.seq);
      ASSERT_EQ(body.device_id, row.device_id);
      ASSERT_EQ(body.ts, row.ts);
      const auto ts_ms = row.ts.time_since_epoch().count();
      if (const auto it = seen_ever.find(key); it != seen_ever.end()) {
        ASSERT_EQ(it->second, ts_ms) << "a stored row changed: " << row.seq;
      } else {
        ASSERT_GT(row.seq, max_seen_before[row.device_id])
            << "a new row appeared below an older seq";
        seen_ever[key] = ts_ms;
      }
    }
    for (const auto& [key, ts_ms] : reported) {
      ASSERT_TRUE(seen_ever.contains(key))
          << "committed seq " << key.second << " of " << key.first << " was lost";
      ASSERT_EQ(seen_ever[key], ts_ms);
    }

    // Ack the older half, so the next kill can also land on a database with deletes behind it.
    std::map<std::string, std::vector<std::int64_t>> to_ack;
    for (std::size_t i = 0; i < rows.size() / 2; ++i)
      to_ack[rows[i].device_id].push_back(rows[i].seq);
    for (const auto& [device, seqs] : to_ack) {
      ASSERT_TRUE(spool.ack(device, seqs));
      for (const auto seq : seqs) acked.insert(Key{device, seq});
    }
  }

  // Per device: seq 1, 2, 3, … with no gap, and ts strictly increasing in seq order.
  std::map<std::string, std::int64_t> last_ts;
  std::map<std::string, std::int64_t> last_seq;
  for (const auto& [key, ts_ms] : seen_ever) {
    const auto& [device, seq] = key;
    EXPECT_EQ(seq, last_seq[device] + 1) << "a gap in the seqs of " << device;
    last_seq[device] = seq;
    if (const auto it = last_ts.find(device); it != last_ts.end()) {
      EXPECT_GT(ts_ms, it->second) << "ts not increasing for " << device << " at " << seq;
    }
    last_ts[device] = ts_ms;
  }
  // The test has power only if the child was killed while committing, many times.
  EXPECT_GE(rounds_with_commits, kRounds / 2);
  EXPECT_GE(reported_ever.size(), static_cast<std::size_t>(kRounds));
  std::printf("crash test: %d rounds, %d with commits, %zu samples reported durable, %zu seen\n",
              kRounds, rounds_with_commits, reported_ever.size(), seen_ever.size());
}

TEST(SpoolThreads, EnqueueAndDrainOnTwoThreadsDeliverEachSeqExactlyOnce) {
  test::TempDir dir;
  // NORMAL only to keep the test quick: this is about locking, not about power loss.
  auto spool = open_or_die(dir / "spool.db", SpoolOptions{.synchronous = SpoolSync::normal});
  constexpr std::int64_t kSamples = 3000;
  std::atomic<bool> producing = true;
  std::atomic<int> not_durable = 0;

  std::jthread producer([&] {
    for (std::int64_t i = 0; i < kSamples; ++i) {
      if (!spool.enqueue(make_sample("inv-1", kT0 + i * 5000)).durable) ++not_durable;
    }
    producing = false;
  });

  std::vector<std::int64_t> delivered;
  for (;;) {
    const bool was_producing = producing;
    const auto batch = spool.peek(97).value();
    if (batch.empty() && !was_producing) break;
    std::vector<std::int64_t> seqs;
    for (const auto& row : batch) seqs.push_back(row.seq);
    ASSERT_TRUE(spool.ack(seqs));
    delivered.insert(delivered.end(), seqs.begin(), seqs.end());
  }
  producer.join();

  EXPECT_EQ(not_durable, 0);
  ASSERT_EQ(delivered.size(), static_cast<std::size_t>(kSamples));
  for (std::size_t i = 0; i < delivered.size(); ++i) {
    ASSERT_EQ(delivered[i], static_cast<std::int64_t>(i) + 1);
  }
  EXPECT_EQ(spool.stats().depth, 0u);
}

// Lowers RLIMIT_FSIZE so growing a file fails with EFBIG (SQLITE_IOERR_WRITE): a real I/O error
// from the kernel that works as root, unlike a read-only directory. Restored on scope exit.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &saved_);
    signal(SIGXFSZ, SIG_IGN);  // otherwise the process is killed instead of seeing EFBIG
    rlimit lowered = saved_;
    lowered.rlim_cur = bytes;
    setrlimit(RLIMIT_FSIZE, &lowered);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;
  ~FileSizeLimit() { setrlimit(RLIMIT_FSIZE, &saved_); }

 private:
  rlimit saved_{};
};

TEST(SpoolIoError, FailedWritesAreHeldAndRetriedInOrder) {
  test::TempDir dir;
  const auto path = dir / "spool.db";
  auto spool = open_or_die(path);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(spool.enqueue(make_sample("inv-1", kT0 + i)).durable);

  std::vector<EnqueueOutcome> held;
  {
    const auto wal_size = std::filesystem::file_size(path.string() + "-wal");
    FileSizeLimit limit(static_cast<rlim_t>(wal_size));
    for (int i = 3; i < 6; ++i) held.push_back(spool.enqueue(make_sample("inv-1", kT0 + i)));
    for (const auto& out : held) EXPECT_FALSE(out.durable);
    const auto s = spool.stats();
    EXPECT_EQ(s.pending_in_memory, 3u);
    ASSERT_TRUE(s.last_write_error);
    EXPECT_NE(s.last_write_error->find("I/O"), std::string::npos) << *s.last_write_error;
    EXPECT_EQ(spool.peek(100).value().size(), 3u);
  }
  ASSERT_TRUE(spool.flush_pending());
  const auto rows = spool.peek(100).value();
  ASSERT_EQ(rows.size(), 6u);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].seq, static_cast<std::int64_t>(i) + 1);
  }
  EXPECT_EQ(rows[5].json, to_json_text(held[2].stored));
  EXPECT_TRUE(spool.verify_integrity());
}

}  // namespace
}  // namespace sungrow::edge
