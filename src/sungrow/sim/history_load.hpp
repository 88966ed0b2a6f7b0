// Loading simulated history into a server's POST /v1/ingest through the edge's own IngestClient.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>

#include "sungrow/core/result.hpp"
#include "sungrow/edge/upload/uploader.hpp"
#include "sungrow/sim/history.hpp"

namespace sungrow::sim {

struct HistoryLoadOptions {
  // url, token, ca_file, gzip and timeout, checked exactly as the edge checks them; the upload
  // pace fields are not used (the load posts back to back).
  edge::UploaderSettings client;
  std::size_t batch_size = 1'000;  // the edge's catch-up batch (MAX_BATCH_SIZE)
  // Posts of one batch, for answers worth retrying (408, 429, 5xx, network errors, timeouts).
  unsigned attempts = 5;
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_cap{8'000};
};

// The server takes at most this many samples per POST (IngestLimits::max_samples).
inline constexpr std::size_t kMaxHistoryBatch = 10'000;

// Batch size 1..kMaxHistoryBatch, at least one attempt.
Result<void> validate(const HistoryLoadOptions& options);

struct HistoryLoadProgress {
  std::size_t sent = 0;      // samples the server acknowledged
  std::size_t inserted = 0;  // of those, new to it (it ignores timestamps it already has)
  std::size_t total = 0;     // samples the whole load will send
  std::size_t retries = 0;   // posts repeated after a retryable answer
  std::chrono::duration<double> elapsed{};
};

using HistoryProgressFn = std::function<void(const HistoryLoadProgress&)>;

// Generates every sample of `generator` and posts them in batches, oldest first; `on_batch` runs
// after each acknowledged batch. The first answer that will not heal by retrying (401/403, a
// refused sample, 413, a wrong URL) or a batch still failing after `attempts` posts ends the load
// with an error that says which and why; batches acknowledged before stay stored, and a re-run
// with the same options resends them harmlessly (the server ignores timestamps it already has).
Result<HistoryLoadProgress> load_history(HistoryGenerator& generator,
                                         const HistoryLoadOptions& options,
                                         const HistoryProgressFn& on_batch = {});

}  // namespace sungrow::sim
