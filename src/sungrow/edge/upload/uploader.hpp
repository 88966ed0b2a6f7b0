// The uploader: spool → HTTPS POST {VPS_INGEST_URL} → ack, with retry, split and dead-letter rules.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sungrow/core/backoff.hpp"
#include "sungrow/core/result.hpp"
#include "sungrow/edge/spool/spool.hpp"

namespace sungrow::edge {

struct UploaderSettings {
  std::string url;    // https://…/v1/ingest (http:// only to a loopback host)
  std::string token;  // bearer token; never logged
  // The device whose samples this uploader sends (with its token); empty = the spool's only device.
  std::string device_id;
  std::optional<std::string> ca_file;  // PEM bundle for a self-hosted CA; verification stays on
  bool gzip = false;
  std::chrono::milliseconds timeout{30'000};  // whole request, connect included
  std::size_t batch_size = 30;                // normal pace
  std::size_t max_batch_size = 1'000;         // catch-up batches while a backlog exists
  std::chrono::milliseconds upload_interval{10'000};
  // Retry schedule for 408/429/5xx/network errors: 1 s doubling to 300 s, with jitter.
  std::chrono::milliseconds backoff_base{1'000};
  std::chrono::milliseconds backoff_cap{300'000};
  // 401/403 and misconfigured answers (404, 405, proxy errors…) will not heal by themselves
  // quickly: never retry faster than this.
  std::chrono::milliseconds unauthorized_min_wait{60'000};
};

// https:// always; http:// only when the host is a loopback address (127.0.0.0/8, ::1, localhost).
// Also refuses credentials in the URL (they would end up in logs; the token is the credential).
Result<void> validate_ingest_url(std::string_view url);

// The bearer token must be non-empty and hold no control characters (CR/LF would inject headers)
// and no whitespace (a bearer token has none; a stray space is a copy-paste slip). Messages never
// echo the token.
Result<void> validate_token(std::string_view token);

// True for a bare host that can only mean this machine: an IPv4 literal in 127.0.0.0/8, the IPv6
// loopback ::1 or an IPv4-mapped ::ffff:127.x.y.z (with or without [brackets]), or "localhost"
// in any case. Any other name is false: DNS or /etc/hosts could point it anywhere.
bool is_loopback_host(std::string_view host);

enum class PostStatus {
  delivered,     // 2xx
  retry,         // 408, 429, 5xx, network error, timeout, TLS failure
  unauthorized,  // 401, 403: keep the data, retry slowly, log loudly
  rejected,      // 400, 422 only: some sample is bad — split to isolate it
  too_large,     // 413: split, never resend unchanged
  // Every other 4xx (404 wrong path, 405, 407 proxy, 415, 431…) and any 1xx/3xx/unknown code:
  // the endpoint or something in between is wrong, not the data. Keep it all, retry slowly
  // (like unauthorized), log loudly.
  misconfigured,
};

std::string_view to_string(PostStatus s);

struct PostResult {
  PostStatus status = PostStatus::retry;
  long http_status = 0;  // 0 when no HTTP answer
  // curl error or the first 1 KiB of the body (on 2xx too: the ingest reply's counts)
  std::string detail;
  std::optional<std::chrono::seconds> retry_after;
};

// "HTTP 503: {…body…}", "HTTP 404" or the curl error: one answer for a log line or a message.
std::string describe(const PostResult& r);

// One HTTPS connection (kept alive between posts). RAII over CURL*.
class IngestClient {
 public:
  // Fails when the URL fails validate_ingest_url, the token fails validate_token, or libcurl
  // cannot be set up. Never throws for these (only std::bad_alloc can escape).
  static Result<IngestClient> create(UploaderSettings settings);
  // Same checks, but throws ErrorException on failure (convenient in tests).
  explicit IngestClient(UploaderSettings settings);
  IngestClient(IngestClient&&) noexcept;
  IngestClient& operator=(IngestClient&&) noexcept;
  ~IngestClient();
  // POSTs {"samples":[…]} built from the stored JSON bodies.
  PostResult post(std::span<const SpooledSample> batch);
  // TCP connections opened so far (keep-alive keeps this at 1 while the server allows it).
  std::uint64_t connections_opened() const;
  const std::string& url() const;

 private:
  struct Impl;
  explicit IngestClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// What one upload step did, and how long the caller should wait before the next step.
struct UploadStep {
  std::size_t sent = 0;  // samples acked by the server in this step
  std::size_t dead_lettered = 0;
  std::size_t posts = 0;  // HTTP requests made (more than one when a batch was split)
  bool ok = true;         // false when the step ended in a failure to retry later
  PostStatus last_status = PostStatus::delivered;
  std::chrono::milliseconds wait{0};
  std::string error;  // for logs and health when !ok
};

// Drives one spool through one client. Not thread-safe; owned by the upload thread.
class Uploader {
 public:
  // The non-throwing way in (what the agent uses): fails like IngestClient::create. `spool` must
  // outlive the Uploader. Movable (move-construct only: it holds a Spool&).
  static Result<Uploader> create(UploaderSettings settings, Spool& spool,
                                 std::uint64_t seed = std::random_device{}());
  // Same, but throws ErrorException on failure (convenient in tests).
  Uploader(UploaderSettings settings, Spool& spool, std::uint64_t seed = std::random_device{}());
  // Peek a batch (max_batch_size while a backlog exists, else batch_size), post it, then ack,
  // back off, or split and dead-letter (400/413/422 only; every other 4xx keeps the data and
  // waits at least unauthorized_min_wait). Returns immediately when the spool is empty. After a
  // full batch is delivered the wait is 0 (catch-up runs back to back), else upload_interval.
  // A batch answered 400/413/422 is bisected and the halves posted in the same step; if a half
  // then fails with a retryable error, the remaining halves are kept and resumed by the next
  // step, so a rejected batch is never re-sent unchanged.
  UploadStep step();

  std::uint32_t consecutive_failures() const { return backoff_.failures(); }
  // Largest batch the server has accepted since a 413 (max_batch_size until one happens).
  std::size_t batch_size_cap() const { return size_cap_; }

 private:
  struct PendingDeadLetter {
    std::int64_t seq;
    std::string reason;
  };
  Uploader(UploaderSettings settings, Spool& spool, IngestClient client, std::uint64_t seed);
  UploadStep finish_failure(UploadStep out, const PostResult& r);
  // The spool calls, for settings_.device_id or the spool's only device.
  Result<std::vector<SpooledSample>> peek(std::size_t max);
  Result<void> ack(std::span<const std::int64_t> seqs);
  Result<void> dead_letter(std::int64_t seq, std::string_view reason);
  bool settle_pending(UploadStep& out);

  UploaderSettings settings_;
  Spool& spool_;
  IngestClient client_;
  Backoff backoff_;
  std::size_t size_cap_;
  // Sub-batches still to post after a split (oldest first); they stay in the spool meanwhile.
  std::vector<std::vector<SpooledSample>> pending_parts_;
  // Bookkeeping the spool refused (disk trouble) and that must be retried before new posts.
  std::vector<std::int64_t> unacked_;
  std::vector<PendingDeadLetter> undead_lettered_;
};

}  // namespace sungrow::edge
