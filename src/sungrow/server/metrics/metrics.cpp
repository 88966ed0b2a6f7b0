// Prometheus text exposition of the server's counters and the request latency histogram.
#include "sungrow/server/metrics/metrics.hpp"

#include <fmt/format.h>

#include <iterator>

namespace sungrow::metrics {

namespace {
// Label values are our own route patterns, but escape anyway: the format must never break.
std::string escape_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void counter(std::string& out, std::string_view name, std::string_view help, std::int64_t value) {
  fmt::format_to(std::back_inserter(out), "# HELP {0} {1}\n# TYPE {0} counter\n{0} {2}\n", name,
                 help, value);
}
}  // namespace

void Metrics::observe_request(std::string_view route, int status,
                              std::chrono::nanoseconds latency) {
  const double seconds = std::chrono::duration<double>(latency).count();
  std::lock_guard lock(mutex_);
  ++requests_[{std::string(route), status}];
  auto it = latency_.find(route);
  if (it == latency_.end()) it = latency_.emplace(std::string(route), Histogram{}).first;
  Histogram& h = it->second;
  for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
    if (seconds <= kLatencyBuckets[i]) {
      ++h.buckets[i];
      break;
    }
  }
  ++h.count;
  h.sum_seconds += seconds;
}

std::string Metrics::render() const {
  std::string out;
  auto it = std::back_inserter(out);
  {
    std::lock_guard lock(mutex_);
    out +=
        "# HELP sungrow_http_requests_total HTTP requests by route and status.\n"
        "# TYPE sungrow_http_requests_total counter\n";
    for (const auto& [key, n] : requests_) {
      fmt::format_to(it, "sungrow_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                     escape_label(key.first), key.second, n);
    }
    out +=
        "# HELP sungrow_http_request_duration_seconds Request latency by route.\n"
        "# TYPE sungrow_http_request_duration_seconds histogram\n";
    for (const auto& [route, h] : latency_) {
      const std::string label = escape_label(route);
      std::uint64_t cumulative = 0;
      for (std::size_t i = 0; i < kLatencyBuckets.size(); ++i) {
        cumulative += h.buckets[i];
        fmt::format_to(
            it, "sungrow_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} {}\n",
            label, kLatencyBuckets[i], cumulative);
      }
      fmt::format_to(it,
                     "sungrow_http_request_duration_seconds_bucket{{route=\"{}\",le=\"+Inf\"}} {}\n"
                     "sungrow_http_request_duration_seconds_sum{{route=\"{}\"}} {}\n"
                     "sungrow_http_request_duration_seconds_count{{route=\"{}\"}} {}\n",
                     label, h.count, label, h.sum_seconds, label, h.count);
    }
  }
  counter(out, "sungrow_samples_inserted_total", "Samples newly stored by ingest.",
          samples_inserted_.load());
  counter(out, "sungrow_samples_duplicate_total",
          "Samples received again (same device and ts) and ignored.", samples_duplicate_.load());
  counter(out, "sungrow_store_errors_total", "Store calls that failed.", store_errors_.load());
  counter(out, "sungrow_cache_hits_total", "Realtime reads answered by the cache.",
          cache_hits_.load());
  counter(out, "sungrow_cache_misses_total", "Realtime reads the cache could not answer.",
          cache_misses_.load());
  counter(out, "sungrow_cache_errors_total", "Cache calls that failed.", cache_errors_.load());
  counter(out, "sungrow_store_rows_skipped_total",
          "Stored rows reads skipped because they could not be served.",
          store_rows_skipped_.load());
  fmt::format_to(it,
                 "# HELP sungrow_event_streams_open Event streams (GET /v1/stream) open now.\n"
                 "# TYPE sungrow_event_streams_open gauge\n"
                 "sungrow_event_streams_open {}\n",
                 open_streams_.load());
  out +=
      "# HELP sungrow_auth_failures_total Failed authentications by reason.\n"
      "# TYPE sungrow_auth_failures_total counter\n";
  for (std::size_t i = 0; i < kAuthFailureReasons.size(); ++i) {
    fmt::format_to(it, "sungrow_auth_failures_total{{reason=\"{}\"}} {}\n", kAuthFailureReasons[i],
                   auth_failures_[i].load());
  }
  return out;
}

void Metrics::add_auth_failure(std::string_view reason) {
  std::size_t i = 0;
  while (i + 1 < kAuthFailureReasons.size() && kAuthFailureReasons[i] != reason) ++i;
  ++auth_failures_[i];
}

}  // namespace sungrow::metrics
