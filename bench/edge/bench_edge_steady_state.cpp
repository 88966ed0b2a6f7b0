// Edge RSS and CPU per poll in steady state: sungrow-sim → sungrow-edge → in-process HTTPS
// receiver. Usage: bench_edge_steady_state [seconds=60] [poll_ms=500]. Prints peak/current RSS and
// CPU per poll.
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "child_process.hpp"
#include "https_receiver.hpp"
#include "test_ca.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using sungrow::test::ChildProcess;

namespace {

const std::string kBinDir = SUNGROW_BIN_DIR;

// A "Key:   123 kB" line of /proc/PID/<file> (status or smaps_rollup), in KiB; -1 if absent.
long proc_kib(int pid, const std::string& file, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  }
  return -1;
}

// utime + stime in clock ticks (/proc/PID/stat fields 14 and 15).
long cpu_ticks(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  std::getline(in, text);  // one line
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  long utime = 0;
  long stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

}  // namespace

int main(int argc, char** argv) {
  const int seconds = argc > 1 ? std::atoi(argv[1]) : 60;
  const int poll_ms = argc > 2 ? std::atoi(argv[2]) : 500;
  char tmpl[] = "/tmp/sungrow-bench-edge.XXXXXX";
  const fs::path dir = ::mkdtemp(tmpl);

  sungrow::test::TestPki pki;
  sungrow::test::ReceiverOptions options;
  options.cert_file = pki.server_cert();
  options.key_file = pki.server_key();
  options.keep_samples = false;
  sungrow::test::HttpsReceiver receiver(options);
  ChildProcess sim({kBinDir + "/sungrow-sim", "--port", "0"}, dir / "sim.log");
  const auto sim_text = sungrow::test::wait_for_text(dir / "sim.log", "listening on", 10s);
  std::smatch m;
  const std::regex port_re(R"(listening on [0-9.]+:([0-9]+))");
  if (!sim_text || !std::regex_search(*sim_text, m, port_re)) {
    std::fprintf(stderr, "sungrow-sim did not start\n");
    return 1;
  }
  ChildProcess edge({kBinDir + "/sungrow-edge",
                     "run",
                     "--host",
                     "127.0.0.1",
                     "--port",
                     m[1].str(),
                     "--device-id",
                     "bench",
                     "--ingest-url",
                     receiver.url(),
                     "--token",
                     "test-token",
                     "--ca-file",
                     pki.ca_cert().string(),
                     "--spool-path",
                     (dir / "spool.db").string(),
                     "--health-path",
                     (dir / "health.json").string(),
                     "--test-poll-interval-ms",
                     std::to_string(poll_ms),
                     "--upload-interval",
                     "1",
                     "--log-level",
                     "warn"},
                    dir / "edge.log");

  // Warm up (first connect, device info, first uploads), then measure.
  std::this_thread::sleep_for(5s);
  const auto samples0 = receiver.count();
  const auto ticks0 = cpu_ticks(edge.pid());
  const auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::seconds{seconds});
  const auto ticks1 = cpu_ticks(edge.pid());
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  receiver.wait_for_count(receiver.count() + 1, 3s);
  const auto polls = receiver.count() - samples0;
  const long rss = proc_kib(edge.pid(), "status", "VmRSS");
  const long hwm = proc_kib(edge.pid(), "status", "VmHWM");
  const long rss_anon = proc_kib(edge.pid(), "status", "RssAnon");
  const long rss_file = proc_kib(edge.pid(), "status", "RssFile");
  const long pss = proc_kib(edge.pid(), "smaps_rollup", "Pss");
  const double cpu_s =
      static_cast<double>(ticks1 - ticks0) / static_cast<double>(::sysconf(_SC_CLK_TCK));

  std::printf("edge steady state over %.1f s, poll every %d ms\n", elapsed, poll_ms);
  std::printf("  samples delivered:   %zu\n", polls);
  std::printf("  RSS now / peak:      %.1f MiB / %.1f MiB\n", static_cast<double>(rss) / 1024.0,
              static_cast<double>(hwm) / 1024.0);
  std::printf(
      "  of which anonymous:  %.1f MiB (heap, stacks); mapped files %.1f MiB (shared libs)\n",
      static_cast<double>(rss_anon) / 1024.0, static_cast<double>(rss_file) / 1024.0);
  std::printf("  PSS:                 %.1f MiB (shared pages split among their users)\n",
              static_cast<double>(pss) / 1024.0);
  std::printf("  CPU (user+sys):      %.2f s = %.1f %% of one core\n", cpu_s,
              100.0 * cpu_s / elapsed);
  if (polls > 0)
    std::printf("  CPU per poll:        %.2f ms (poll + normalize + spool commit + upload share)\n",
                1000.0 * cpu_s / static_cast<double>(polls));
  std::printf("  at the real 5 s interval that is %.3f %% of one core\n",
              polls > 0 ? 100.0 * (cpu_s / static_cast<double>(polls)) / 5.0 : 0.0);
  edge.signal(SIGTERM);
  edge.wait(10s);
  sim.signal(SIGTERM);
  sim.wait(5s);
  fs::remove_all(dir);
  return 0;
}
