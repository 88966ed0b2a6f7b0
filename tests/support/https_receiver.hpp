// An in-process HTTPS ingest receiver for tests: records samples and answers from a script.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sungrow/core/sample.hpp"

namespace sungrow::test {

// One scripted answer. Samples are recorded (deduplicated on (device_id, ts) like the server)
// when the reply is a 2xx that reaches the client, or when `commit` is set.
struct Reply {
  unsigned status = 200;
  std::string body;  // empty: {"received":n,"inserted":k} for 2xx, a short JSON error otherwise
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. {"Retry-After", "7"}
  std::chrono::milliseconds delay{0};  // wait before answering (client timeout tests)
  bool reset = false;                  // answer nothing; close the TCP connection with RST
  bool commit = false;  // record the batch even though no 2xx arrives (the "ack lost" case)
  // Answer 2xx but store nothing: a broken server that acks before its commit and then loses the
  // batch. Only for negative controls, to prove an oracle can see a loss.
  bool lose = false;

  // Builders, e.g. Reply::with_status(429).header("Retry-After", "7") or
  // Reply::with_status(200).after(2s).committed() (GCC 12 warns on partial designated inits).
  static Reply with_status(unsigned code) {
    Reply r;
    r.status = code;
    return r;
  }
  static Reply connection_reset() {
    Reply r;
    r.reset = true;
    return r;
  }
  Reply header(std::string name, std::string value) && {
    headers.emplace_back(std::move(name), std::move(value));
    return std::move(*this);
  }
  Reply after(std::chrono::milliseconds d) && {
    delay = d;
    return std::move(*this);
  }
  Reply then_reset() && {
    reset = true;
    return std::move(*this);
  }
  Reply committed() && {
    commit = true;
    return std::move(*this);
  }
  Reply lost() && {
    lose = true;
    return std::move(*this);
  }
};

// What a request looked like, for tests that check what was (re)sent.
struct RequestRecord {
  std::string method;
  std::string target;
  bool authorized = false;  // bearer token matched
  bool gzip = false;        // Content-Encoding: gzip
  std::size_t wire_bytes = 0;
  std::vector<std::int64_t> seqs;  // as sent, in order (empty when the body did not parse)
  unsigned status = 0;             // what was answered; 0 for a reset
  std::uint64_t connection = 0;    // 1-based index of the TCP connection it arrived on
};

struct ReceiverOptions {
  std::filesystem::path cert_file;  // PEM chain (TestPki::server_cert)
  std::filesystem::path key_file;   // PEM key (TestPki::server_key)
  // Any 127.0.0.0/8 address works on Linux; e.g. 127.0.0.2 is not in TestPki's certificate.
  std::string address = "127.0.0.1";
  std::string token = "test-token";
  std::optional<std::string> device_id;      // set: a sample of another device → 403
  std::size_t max_body_bytes = 1024 * 1024;  // wire bytes; larger → 413 (Beast's own default)
  bool keep_samples = true;  // false: keep only keys (benchmarks with 100k+ samples)
};

// Listens on options.address (127.0.0.1) at an ephemeral port, on its own thread, from construction
// until stop() or destruction. Without a script it behaves like POST /v1/ingest (docs/api.md):
// 401 on a bad token, 403 on another device, 413 over max_body_bytes, 400 on malformed JSON, 422 on
// an invalid sample (or one whose seq is in reject_seqs), else 200 with dedupe. Thread-safe.
class HttpsReceiver {
 public:
  explicit HttpsReceiver(ReceiverOptions options);
  ~HttpsReceiver();
  HttpsReceiver(const HttpsReceiver&) = delete;
  HttpsReceiver& operator=(const HttpsReceiver&) = delete;

  std::uint16_t port() const;
  std::string url() const;  // https://<address>:<port>/v1/ingest

  // Scripted answers, consumed one per POST in order, before the default behaviour applies.
  void push(Reply reply);
  void push(std::initializer_list<Reply> replies);
  // Consulted when the queue is empty: return a Reply to override the default for a request.
  using Responder = std::function<std::optional<Reply>(const RequestRecord&)>;
  void set_responder(Responder responder);
  // Batches holding any of these seqs get 422 (with the index of the bad sample).
  void reject_seqs(std::set<std::int64_t> seqs);
  void set_max_body_bytes(std::size_t bytes);
  void set_token(std::string token);

  // Observations.
  std::size_t count() const;            // distinct samples stored
  std::size_t duplicates() const;       // samples received again after being stored
  std::vector<Sample> samples() const;  // stored, in arrival order (if keep_samples)
  std::set<std::pair<std::string, std::int64_t>> keys() const;  // (device_id, seq) stored
  std::vector<RequestRecord> requests() const;
  std::uint64_t connections() const;  // TCP connections accepted
  // Blocks until count() >= n or the timeout passes; returns whether it got there.
  bool wait_for_count(std::size_t n, std::chrono::milliseconds timeout) const;

  // Closes every connection and joins the thread; idempotent, also done by the destructor.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sungrow::test
