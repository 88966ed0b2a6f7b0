// Server metrics in Prometheus text format: requests, latency, ingest counts, store and cache.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>

namespace sungrow::metrics {

// Thread-safe. Counters are atomics; the per-route/status tables take a mutex (one short lock per
// request is far below the cost of the request itself).
class Metrics {
 public:
  // One finished request. `route` is the router's pattern ("/v1/ingest", or "unmatched"), never
  // the raw path, so a scanner cannot blow up the label set.
  void observe_request(std::string_view route, int status, std::chrono::nanoseconds latency);

  void add_samples_inserted(std::int64_t n) { samples_inserted_ += n; }
  void add_samples_duplicate(std::int64_t n) { samples_duplicate_ += n; }
  void add_store_error() { ++store_errors_; }
  void add_cache_hit() { ++cache_hits_; }
  void add_cache_miss() { ++cache_misses_; }
  void add_cache_error() { ++cache_errors_; }
  // A failed authentication by its reason (auth::FailureReason); other strings count as "other".
  void add_auth_failure(std::string_view reason);
  // Stored rows reads skipped because they could not be served (SampleStore::skipped_rows).
  void set_store_rows_skipped(std::int64_t n) { store_rows_skipped_ = n; }
  // Event streams (GET /v1/stream) open now.
  void add_open_streams(std::int64_t delta) { open_streams_ += delta; }

  static constexpr std::array<std::string_view, 6> kAuthFailureReasons{
      "missing", "malformed", "unknown_token", "forbidden", "throttled", "other"};

  // The exposition text (text/plain; version=0.0.4).
  std::string render() const;

  // Seconds; upper bounds of the latency histogram (+Inf is implicit).
  static constexpr std::array<double, 12> kLatencyBuckets{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                          0.05,   0.1,   0.25,   0.5,   1.0,  2.5};

 private:
  struct Histogram {
    std::array<std::uint64_t, kLatencyBuckets.size()> buckets{};  // non-cumulative
    std::uint64_t count = 0;
    double sum_seconds = 0;
  };

  mutable std::mutex mutex_;
  std::map<std::pair<std::string, int>, std::uint64_t, std::less<>> requests_;
  std::map<std::string, Histogram, std::less<>> latency_;

  std::atomic<std::int64_t> samples_inserted_{0};
  std::atomic<std::int64_t> samples_duplicate_{0};
  std::atomic<std::int64_t> store_errors_{0};
  std::atomic<std::int64_t> cache_hits_{0};
  std::atomic<std::int64_t> cache_misses_{0};
  std::atomic<std::int64_t> cache_errors_{0};
  std::array<std::atomic<std::int64_t>, kAuthFailureReasons.size()> auth_failures_{};
  std::atomic<std::int64_t> store_rows_skipped_{0};
  std::atomic<std::int64_t> open_streams_{0};
};

}  // namespace sungrow::metrics
