// The uploader: spool → HTTPS POST {VPS_INGEST_URL} → ack, with retry, split and dead-letter rules.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "sungrow/core/backoff.hpp"
#include "sungrow/core/result.hpp"
#include "sungrow/edge/spool/spool.hpp"

namespace sungrow::edge {

struct UploaderSettings {
  std::string url;                     // https://…/v1/ingest (http:// only to a loopback host)
  std::string token;                   // bearer token; never logged
  std::optional<std::string> ca_file;  // PEM bundle for a self-hosted CA; verification stays on
  bool gzip = false;
  std::chrono::milliseconds timeout{30'000};
  std::size_t batch_size = 30;         // normal pace
  std::size_t max_batch_size = 1'000;  // catch-up batches while a backlog exists
  std::chrono::milliseconds upload_interval{10'000};
};

// https:// always; http:// only when the host is a loopback address (127.0.0.0/8, ::1, localhost).
Result<void> validate_ingest_url(std::string_view url);

enum class PostStatus {
  delivered,    // 2xx
  retry,        // 408, 429, 5xx, network error, timeout
  unauthorized, // 401, 403: keep the data, retry slowly, log loudly
  rejected,     // 400, 422: some sample is bad — split to isolate it
  too_large,    // 413: split, never resend unchanged
};

struct PostResult {
  PostStatus status = PostStatus::retry;
  long http_status = 0;  // 0 when no HTTP answer
  std::string detail;    // curl error or the first 1 KiB of the body
  std::optional<std::chrono::seconds> retry_after;
};

// One HTTPS connection (kept alive between posts). RAII over CURL*.
class IngestClient {
 public:
  explicit IngestClient(UploaderSettings settings);
  IngestClient(IngestClient&&) noexcept;
  IngestClient& operator=(IngestClient&&) noexcept;
  ~IngestClient();
  // POSTs {"samples":[…]} built from the stored JSON bodies.
  PostResult post(std::span<const SpooledSample> batch);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// What one upload step did, and how long the caller should wait before the next step.
struct UploadStep {
  std::size_t sent = 0;          // samples acked by the server in this step
  std::size_t dead_lettered = 0;
  bool ok = true;                // false when the step ended in a failure to retry later
  PostStatus last_status = PostStatus::delivered;
  std::chrono::milliseconds wait{0};
  std::string error;             // for logs and health when !ok
};

// Drives one spool through one client. Not thread-safe; owned by the upload thread.
class Uploader {
 public:
  Uploader(UploaderSettings settings, Spool& spool, std::uint64_t seed = std::random_device{}());
  // Peek a batch (max_batch_size while a backlog exists, else batch_size), post it, then ack,
  // back off, or split and dead-letter. Returns immediately when the spool is empty.
  UploadStep step();

 private:
  UploaderSettings settings_;
  Spool& spool_;
  IngestClient client_;
  Backoff backoff_;
};

}  // namespace sungrow::edge
