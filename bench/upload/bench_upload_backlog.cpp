// Drain of a 7-day backlog (120,960 samples) through Uploader::step to a local HTTPS receiver.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>

#include "https_receiver.hpp"
#include "sample_factory.hpp"
#include "sungrow/edge/spool/spool.hpp"
#include "sungrow/edge/upload/uploader.hpp"
#include "test_ca.hpp"

namespace fs = std::filesystem;
using namespace sungrow;
using namespace sungrow::edge;
using Clock = std::chrono::steady_clock;

namespace {

struct Args {
  std::size_t samples = 120'960;  // 7 days at 5 s
  std::size_t max_batch = 1'000;
  std::size_t max_body = 8 * 1024 * 1024;  // receiver limit (413 above it)
  fs::path dir = "/var/tmp";               // real disk, not tmpfs
};

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "bench_upload_backlog: %s\n", what.c_str());
  std::exit(1);
}

Args parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string_view k = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) die("missing value for " + std::string(k));
      return argv[++i];
    };
    if (k == "--samples") {
      a.samples = std::stoul(next());
    } else if (k == "--max-batch") {
      a.max_batch = std::stoul(next());
    } else if (k == "--max-body") {
      a.max_body = std::stoul(next());
    } else if (k == "--dir") {
      a.dir = next();
    } else {
      die("usage: bench_upload_backlog [--samples N] [--max-batch N] [--max-body BYTES] "
          "[--dir PATH]");
    }
  }
  return a;
}

Spool open_spool(const fs::path& p, SpoolSync sync) {
  SpoolOptions o;
  o.synchronous = sync;
  auto s = Spool::open(p, o);
  if (!s) die(s.error().message);
  return std::move(*s);
}

// Copies a closed spool (db file only: it was checkpointed on close) for one drain run.
void copy_spool(const fs::path& from, const fs::path& to) {
  fs::copy_file(from, to, fs::copy_options::overwrite_existing);
}

void drain(const Args& a, const test::TestPki& pki, const fs::path& tmpl, const fs::path& work,
           bool gzip) {
  test::ReceiverOptions ro;
  ro.cert_file = pki.server_cert();
  ro.key_file = pki.server_key();
  ro.token = "bench-token";
  ro.max_body_bytes = a.max_body;
  ro.keep_samples = false;
  test::HttpsReceiver receiver(ro);

  const auto db = work / (gzip ? "drain-gzip.db" : "drain-plain.db");
  copy_spool(tmpl, db);
  auto spool = open_spool(db, SpoolSync::full);  // production durability for the acks

  UploaderSettings s;
  s.url = receiver.url();
  s.token = "bench-token";
  s.ca_file = pki.ca_cert().string();
  s.gzip = gzip;
  s.max_batch_size = a.max_batch;
  Uploader up(s, spool, 1);

  {
    // Context for the figures: what the spool's own bookkeeping costs on a full backlog.
    const auto t0 = Clock::now();
    const auto depth = spool.stats().depth;
    const double stats_ms = seconds_since(t0) * 1e3;
    const auto t1 = Clock::now();
    const auto peeked = spool.peek(a.max_batch);
    const double peek_ms = seconds_since(t1) * 1e3;
    if (!peeked) die(peeked.error().message);
    std::printf("spool at depth %llu: stats() %.1f ms, peek(%zu) %.1f ms\n",
                static_cast<unsigned long long>(depth), stats_ms, a.max_batch, peek_ms);
  }

  std::size_t steps = 0;
  std::size_t posts = 0;
  const auto t0 = Clock::now();
  // Runs the agent's loop minus the sleeps: step until the uploader itself asks for a pause.
  for (;;) {
    const auto step = up.step();
    ++steps;
    posts += step.posts;
    if (!step.ok) die("step failed: " + step.error);
    if (step.dead_lettered != 0) die("unexpected dead letters");
    if (step.wait.count() > 0) break;
  }
  const double secs = seconds_since(t0);
  if (const auto left = spool.stats().depth; left != 0) {
    die("uploader paused with " + std::to_string(left) + " samples still spooled");
  }

  std::size_t wire = 0;
  for (const auto& r : receiver.requests()) wire += r.wire_bytes;
  const auto got = receiver.count();
  std::printf(
      "drain gzip=%-3s max_batch=%zu: %zu samples in %.2f s = %.0f samples/s; %zu steps, %zu "
      "posts, %.1f MB on the wire (%.0f B/sample), %llu TLS connection(s), batch cap %zu%s\n",
      gzip ? "on" : "off", a.max_batch, got, secs, static_cast<double>(got) / secs, steps, posts,
      static_cast<double>(wire) / 1e6, static_cast<double>(wire) / static_cast<double>(got),
      static_cast<unsigned long long>(receiver.connections()), up.batch_size_cap(),
      secs < 60.0 ? "  [goal < 60 s: met]" : "  [goal < 60 s: MISSED]");
  if (got != a.samples || receiver.duplicates() != 0) {
    die("receiver holds " + std::to_string(got) + " samples, " +
        std::to_string(receiver.duplicates()) + " duplicates; expected " +
        std::to_string(a.samples) + " exactly once");
  }
  std::error_code ec;
  fs::remove(db, ec);
  fs::remove(fs::path(db) += "-wal", ec);
  fs::remove(fs::path(db) += "-shm", ec);
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = parse(argc, argv);
  spdlog::set_level(spdlog::level::warn);  // per-batch logs would measure the terminal

  const auto work = a.dir / ("sungrow-bench-upload-" + std::to_string(std::random_device{}()));
  fs::create_directories(work);
  const test::TestPki pki;

  // The fill is setup, not the measurement: synchronous=OFF keeps it short. The drains below
  // reopen copies with the production setting (FULL), so every ack pays its fsync.
  const auto tmpl = work / "backlog.db";
  {
    auto spool = open_spool(tmpl, SpoolSync::off);
    const auto t0 = Clock::now();
    for (std::size_t i = 0; i < a.samples; ++i) {
      const auto out = spool.enqueue(test::realistic_sample(
          "sh40rs-bench", static_cast<std::int64_t>(i), test::sample_epoch()));
      if (!out.durable) die("enqueue failed during fill");
    }
    const double secs = seconds_since(t0);
    std::printf(
        "fill: %zu samples in %.1f s (synchronous=OFF, setup only); spool file %.1f MB "
        "(%.0f B/sample)\n",
        a.samples, secs, static_cast<double>(fs::file_size(tmpl)) / 1e6,
        static_cast<double>(fs::file_size(tmpl)) / static_cast<double>(a.samples));
  }

  drain(a, pki, tmpl, work, false);
  drain(a, pki, tmpl, work, true);

  std::error_code ec;
  fs::remove_all(work, ec);
  return 0;
}
