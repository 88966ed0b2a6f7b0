// Scenario 2: a fleet of simulated edges held by one sungrow-server on PostgreSQL + Redis. One
// thread per edge with the edge's own IngestClient (one keep-alive connection each, TLS verified
// against Caddy's root, HTTP/2 to Caddy by ALPN as the real edge). A warm-up round at the real
// pace (each edge's first post, with its connect and handshake, spread over one real upload
// interval, as a fleet's clocks are) precedes the measured, time-compressed schedule: compressing
// the handshakes too would measure a thundering herd no fleet makes.
#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <chrono>
#include <future>
#include <latch>
#include <map>
#include <stdexcept>
#include <thread>
#include <vector>

#include "sample_factory.hpp"
#include "scenarios.hpp"
#include "stack.hpp"
#include "sungrow/core/sample_json.hpp"
#include "sungrow/edge/upload/uploader.hpp"

namespace sungrow::bench {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

using Batch = std::vector<edge::SpooledSample>;

std::string device_name(int d) {
  return fmt::format("fleet-{:04d}", d);
}

std::string device_token(int d) {
  return fmt::format("fleet{:027d}", d);  // 32 characters, as `token new` makes them
}

// Every batch of every device (batch 0 is the warm-up), made before the clock starts so the load
// generator's CPU goes to posting. Device d's sample i is taken 5 s after its sample i-1: ts
// strictly increasing.
std::vector<std::vector<Batch>> make_batches(const FleetOptions& o) {
  std::vector<std::vector<Batch>> all(static_cast<std::size_t>(o.devices));
  for (int d = 0; d < o.devices; ++d) {
    auto& batches = all[static_cast<std::size_t>(d)];
    batches.resize(static_cast<std::size_t>(o.batches) + 1);
    for (int k = 0; k <= o.batches; ++k) {
      for (int j = 0; j < o.samples_per_batch; ++j) {
        const std::int64_t i = std::int64_t{k} * o.samples_per_batch + j;
        Sample s = test::realistic_sample(device_name(d), i, test::sample_epoch());
        s.seq = i + 1;
        batches[static_cast<std::size_t>(k)].push_back({s.seq, s.ts, to_json_text(s)});
      }
    }
  }
  return all;
}

// What one simulated edge saw.
struct EdgeStats {
  double warmup_ms = 0;            // the first post: connect, handshake, request
  std::vector<double> latency_ms;  // measured posts (retries included)
  std::vector<double> sent_s;      // when each left, seconds after the measured start
  std::vector<double> lag_ms;      // how late each batch left against its schedule
  std::uint64_t errors = 0;
  std::uint64_t failed_batches = 0;
  std::uint64_t inserted = 0;
  std::uint64_t samples = 0;
  std::uint64_t connections = 0;
  std::map<std::string, std::uint64_t> error_kinds;
  Clock::time_point last_reply{};
};

// One edge's timetable: the warm-up post at the real pace, then the compressed batches.
struct Schedule {
  Clock::time_point warmup;
  Clock::time_point origin;    // the measured part's start, the same for every edge
  Clock::time_point measured;  // when this edge's batch 1 is due
  Clock::duration period;
};

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

std::uint64_t inserted_of(const std::string& reply) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(reply, ec);
  if (ec || !v.is_object() || !v.as_object().contains("inserted")) return 0;
  return static_cast<std::uint64_t>(v.at("inserted").to_number<std::int64_t>());
}

// Posts one batch like the edge does: 408/429/5xx/network errors are retried with a doubling
// wait and the same batch (the server ignores what it already has). Returns each post's latency.
std::vector<double> deliver(edge::IngestClient& client, const Batch& batch, EdgeStats& st) {
  std::vector<double> latencies;
  for (int attempt = 0;; ++attempt) {
    const auto sent = Clock::now();
    const auto r = client.post(batch);
    latencies.push_back(ms_since(sent));
    st.last_reply = Clock::now();
    if (r.status == edge::PostStatus::delivered) {
      st.samples += batch.size();
      st.inserted += inserted_of(r.detail);
      return latencies;
    }
    ++st.errors;
    ++st.error_kinds[edge::describe(r).substr(0, 100)];
    if (r.status != edge::PostStatus::retry || attempt == 4) {
      ++st.failed_batches;
      return latencies;
    }
    std::this_thread::sleep_for(std::chrono::seconds{1 << attempt});
  }
}

void run_edge(const edge::UploaderSettings& settings, const std::vector<Batch>& batches,
              std::latch& ready, std::shared_future<Schedule> schedule, EdgeStats& st) {
  edge::IngestClient client(settings);
  st.latency_ms.reserve(batches.size());
  st.sent_s.reserve(batches.size());
  st.lag_ms.reserve(batches.size());
  ready.count_down();
  const Schedule plan = schedule.get();
  std::this_thread::sleep_until(plan.warmup);
  st.warmup_ms = deliver(client, batches.front(), st).front();
  for (std::size_t k = 1; k < batches.size(); ++k) {
    // A late batch leaves at once, as an edge catching up would; it never overlaps its own
    // previous post (an edge is sequential).
    const auto due = plan.measured + plan.period * static_cast<long>(k - 1);
    std::this_thread::sleep_until(due);
    const auto left = Clock::now();
    st.lag_ms.push_back(std::max(0.0, ms_since(due)));
    for (const double ms : deliver(client, batches[k], st)) {
      st.latency_ms.push_back(ms);
      st.sent_s.push_back(std::chrono::duration<double>(left - plan.origin).count());
    }
  }
  st.connections = client.connections_opened();
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto rank = static_cast<std::size_t>(p / 100.0 * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(rank, v.size() - 1)];
}

// Latency by when the posts left, in ten slices of the measured run: a queue that builds up and
// drains looks like a steady tail in whole-run percentiles.
std::string timeline(const std::vector<EdgeStats>& stats, double seconds) {
  constexpr int kSlices = 10;
  std::vector<std::vector<double>> slices(kSlices);
  for (const auto& st : stats) {
    for (std::size_t i = 0; i < st.latency_ms.size(); ++i) {
      const auto at = static_cast<int>(st.sent_s[i] / seconds * kSlices);
      slices[static_cast<std::size_t>(std::clamp(at, 0, kSlices - 1))].push_back(st.latency_ms[i]);
    }
  }
  std::string out;
  for (int i = 0; i < kSlices; ++i) {
    auto& v = slices[static_cast<std::size_t>(i)];
    const double p50 = percentile(v, 50);  // sorts v: back() is the max from here on
    const double p99 = percentile(v, 99);
    out += fmt::format(
        "    {:6.1f}-{:6.1f} s: {:6} posts, p50 {:8.1f} ms, p99 {:8.1f} ms, max {:8.1f} ms\n",
        seconds * i / kSlices, seconds * (i + 1) / kSlices, v.size(), p50, p99,
        v.empty() ? 0.0 : v.back());
  }
  return out;
}

}  // namespace

FleetResult run_fleet(test::PostgresInstance& pg, const FleetOptions& o) {
  fs::create_directories(o.dir);
  FleetResult r;
  r.label = fmt::format("{} edges -> {}", o.devices,
                        o.via_caddy ? "Caddy (TLS) -> server" : "server (loopback http)");
  const auto batches = make_batches(o);
  StackOptions so{
      .via_caddy = o.via_caddy, .tokens = {}, .dir = o.dir, .pg_statements = o.pg_statements};
  for (int d = 0; d < o.devices; ++d) so.tokens.emplace_back(device_token(d), device_name(d));
  Stack stack(pg, so);
  const pid_t postmaster = postmaster_pid();

  const auto period = std::chrono::duration_cast<Clock::duration>(
      std::chrono::duration<double>(o.interval_s / o.compression));
  const auto real_interval =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.interval_s));
  std::vector<EdgeStats> stats(static_cast<std::size_t>(o.devices));
  std::latch ready(o.devices);
  std::vector<std::promise<Schedule>> plans(static_cast<std::size_t>(o.devices));
  std::vector<std::jthread> edges;
  edges.reserve(static_cast<std::size_t>(o.devices));
  for (int d = 0; d < o.devices; ++d) {
    edge::UploaderSettings s;
    s.url = stack.ingest_url();
    s.token = device_token(d);
    if (stack.via_caddy()) s.ca_file = stack.ca_file();
    const auto i = static_cast<std::size_t>(d);
    edges.emplace_back(run_edge, s, std::cref(batches[i]), std::ref(ready),
                       plans[i].get_future().share(), std::ref(stats[i]));
  }
  ready.wait();
  // Edges spread evenly over one interval, as a real fleet's upload clocks are; the measured
  // schedule starts a second after the warm-up round, so its queue has drained.
  const auto t0 = Clock::now() + 100ms;
  const auto t1 = t0 + real_interval + 1s;
  for (int d = 0; d < o.devices; ++d) {
    plans[static_cast<std::size_t>(d)].set_value(
        Schedule{.warmup = t0 + real_interval * d / o.devices,
                 .origin = t1,
                 .measured = t1 + period * d / o.devices,
                 .period = period});
  }
  // How many connections the server holds: 1,000 edges directly, or Caddy's upstream pool.
  std::jthread sampler([&](std::stop_token stop) {
    while (!stop.stop_requested()) {
      r.server_sockets_peak = std::max(r.server_sockets_peak, socket_count(stack.server_pid()));
      std::this_thread::sleep_for(100ms);
    }
  });
  std::this_thread::sleep_until(t1);
  stack.reset_statements();
  const auto metrics0 = stack.ingest_metrics();
  auto cpu0 = stack.cpu(postmaster);
  cpu0.seconds["load generator"] = self_cpu_seconds();
  for (auto& t : edges) t.join();
  sampler.request_stop();
  sampler.join();
  auto cpu1 = stack.cpu(postmaster);
  cpu1.seconds["load generator"] = self_cpu_seconds();
  const auto metrics1 = stack.ingest_metrics();

  std::vector<double> latency;
  std::vector<double> warmup;
  std::vector<double> lag;
  Clock::time_point end = t1;
  for (const auto& st : stats) {
    latency.insert(latency.end(), st.latency_ms.begin(), st.latency_ms.end());
    lag.insert(lag.end(), st.lag_ms.begin(), st.lag_ms.end());
    warmup.push_back(st.warmup_ms);
    r.errors += st.errors;
    r.failed_batches += st.failed_batches;
    r.inserted_reported += st.inserted;
    r.samples_sent += st.samples;
    r.connections += st.connections;
    end = std::max(end, st.last_reply);
    for (const auto& [kind, n] : st.error_kinds) r.error_kinds += fmt::format("{}× {}; ", n, kind);
  }
  r.requests = latency.size();
  r.samples_measured = static_cast<std::uint64_t>(o.devices) *
                       static_cast<std::uint64_t>(o.batches) *
                       static_cast<std::uint64_t>(o.samples_per_batch);
  r.seconds = std::chrono::duration<double>(end - t1).count();
  r.p50_ms = percentile(latency, 50);
  r.p90_ms = percentile(latency, 90);
  r.p99_ms = percentile(latency, 99);
  r.max_ms = latency.empty() ? 0 : latency.back();  // sorted by percentile()
  r.warmup_p50_ms = percentile(warmup, 50);
  r.warmup_p99_ms = percentile(warmup, 99);
  r.warmup_max_ms = warmup.empty() ? 0 : warmup.back();
  r.lag_p99_ms = percentile(lag, 99);
  r.lag_max_ms = lag.empty() ? 0 : lag.back();
  r.timeline = timeline(stats, r.seconds);
  r.server_rss_kib = stack.server_kib("VmRSS");
  r.server_hwm_kib = stack.server_kib("VmHWM");
  if (const auto caddy = stack.caddy_pid()) r.caddy_hwm_kib = status_kib(caddy.value(), "VmHWM");
  r.loadgen_hwm_kib = status_kib(::getpid(), "VmHWM");
  const double handled = metrics1.count - metrics0.count;
  r.server_ingest_mean_ms = handled > 0 ? 1e3 * (metrics1.seconds - metrics0.seconds) / handled : 0;
  r.cpu = cpu_breakdown(cpu0, cpu1, static_cast<int>(std::thread::hardware_concurrency()));
  r.statements = stack.top_statements(8);
  r.server_clients = stack.ingest_clients();

  // The oracle: every sample sent is in PostgreSQL exactly once (duplicates of a retried batch
  // are absorbed by ON CONFLICT, so rows == samples sent even then).
  r.rows = stack.rows();
  const auto expected = static_cast<std::uint64_t>(o.devices) *
                        (static_cast<std::uint64_t>(o.batches) + 1) *
                        static_cast<std::uint64_t>(o.samples_per_batch);
  if (r.failed_batches != 0 || r.samples_sent != expected ||
      r.rows != static_cast<std::int64_t>(expected) ||
      (r.errors == 0 && r.inserted_reported != expected))
    r.problem = fmt::format(
        "{} samples to send, {} acknowledged, {} reported inserted, {} rows in PostgreSQL; {} "
        "failed batches",
        expected, r.samples_sent, r.inserted_reported, r.rows, r.failed_batches);
  return r;
}

}  // namespace sungrow::bench
