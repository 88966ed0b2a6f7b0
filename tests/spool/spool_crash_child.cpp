// Helper of the crash test: enqueues forever and prints "<seq> <ts_ms> <device>" once each is
// durable.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "sungrow/edge/spool/spool.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <spool path>\n", argv[0]);
    return 2;
  }
  // stdout carries only the committed seqs the parent parses; the spool's log goes to stderr.
  spdlog::set_default_logger(spdlog::stderr_color_st("spool_crash_child"));
  auto spool = sungrow::edge::Spool::open(argv[1]);
  if (!spool) {
    std::fprintf(stderr, "spool_crash_child: %s\n", spool.error().message.c_str());
    return 2;
  }
  for (std::int64_t i = 0;; ++i) {
    sungrow::Sample sample;
    sample.device_id = i % 3 == 0 ? "inv-b" : "inv-a";
    sample.ts = sungrow::now_utc();
    // Every 7th poll sees a clock one hour behind, so bumped timestamps get killed mid-write too.
    if (i % 7 == 6) sample.ts -= std::chrono::hours(1);
    sample.pv_power_w = static_cast<double>(i);
    const auto out = spool->enqueue(std::move(sample));
    if (!out.durable) {
      std::fprintf(stderr, "spool_crash_child: write failed: %s\n",
                   spool->stats().last_write_error.value_or("?").c_str());
      return 3;
    }
    // One write(2) per line, after the commit: the parent only counts lines it saw complete.
    const std::string line = std::to_string(out.stored.seq) + ' ' +
                             std::to_string(out.stored.ts.time_since_epoch().count()) + ' ' +
                             out.stored.device_id + '\n';
    if (write(STDOUT_FILENO, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      return 4;
    }
  }
}
