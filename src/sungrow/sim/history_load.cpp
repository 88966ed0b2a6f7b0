// load_history: generated batches → IngestClient::post, retrying what may heal, explaining the
// rest.
#include "sungrow/sim/history_load.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <thread>
#include <vector>

#include "sungrow/core/backoff.hpp"
#include "sungrow/core/logger.hpp"
#include "sungrow/core/sample_json.hpp"

namespace sungrow::sim {

namespace {
spdlog::logger& log() {
  return component_logger("history");
}
}  // namespace

namespace {

using Clock = std::chrono::steady_clock;

// A Retry-After beyond this is not worth sitting through in an interactive load.
constexpr std::chrono::seconds kMaxRetryAfter{60};

struct Counts {
  std::size_t received = 0;
  std::size_t inserted = 0;
};

// {"received":n,"inserted":k}; anything else on a 2xx is not the ingest API answering.
Result<Counts> parse_counts(const edge::PostResult& r, const std::string& url) {
  boost::system::error_code ec;
  const auto doc = boost::json::parse(r.detail, ec);
  const auto* obj = ec ? nullptr : doc.if_object();
  const auto* received = obj != nullptr ? obj->if_contains("received") : nullptr;
  const auto* inserted = obj != nullptr ? obj->if_contains("inserted") : nullptr;
  if (received == nullptr || inserted == nullptr || !received->is_int64() ||
      !inserted->is_int64() || received->get_int64() < 0 || inserted->get_int64() < 0) {
    return fail(fmt::format(
        "{} answered HTTP {} without the ingest reply {{\"received\":n,\"inserted\":k}}; is it "
        "the server's /v1/ingest? Reply: {}",
        url, r.http_status, r.detail.empty() ? std::string("(empty)") : r.detail));
  }
  return Counts{static_cast<std::size_t>(received->get_int64()),
                static_cast<std::size_t>(inserted->get_int64())};
}

// Why an answer that retrying will not change ended the load, and what to check.
Error refusal(const edge::PostResult& r, const std::string& url, std::string_view device,
              std::span<const edge::SpooledSample> batch) {
  const auto what = edge::describe(r);
  switch (r.status) {
    case edge::PostStatus::unauthorized:
      return fail(fmt::format(
          "{} refused the token ({}): check --token, and that it is the token of device '{}'", url,
          what, device));
    case edge::PostStatus::rejected:
      return fail(fmt::format("{} refused the samples seq {}–{} ({})", url, batch.front().seq,
                              batch.back().seq, what));
    case edge::PostStatus::too_large:
      return fail(fmt::format(
          "{} found the batch of {} samples too large ({}): use a smaller batch size or gzip", url,
          batch.size(), what));
    default:
      return fail(fmt::format(
          "{} answered {}: is the URL the server's /v1/ingest, with no proxy in the way?", url,
          what));
  }
}

Result<Counts> post_with_retries(edge::IngestClient& client, const HistoryLoadOptions& options,
                                 std::string_view device,
                                 std::span<const edge::SpooledSample> batch, Backoff& backoff,
                                 std::size_t& retries) {
  for (unsigned attempt = 1;; ++attempt) {
    const auto r = client.post(batch);
    if (r.status == edge::PostStatus::delivered) {
      backoff.reset();
      auto counts = parse_counts(r, client.url());
      if (counts && counts.value().received != batch.size()) {
        return fail(fmt::format("{} acknowledged {} samples of a batch of {}", client.url(),
                                counts.value().received, batch.size()));
      }
      return counts;
    }
    if (r.status != edge::PostStatus::retry) return refusal(r, client.url(), device, batch);
    if (attempt >= options.attempts) {
      return fail(fmt::format("{} did not take the batch after {} attempt(s); last: {}",
                              client.url(), attempt, edge::describe(r)));
    }
    auto wait = backoff.next_delay();
    // The server's own estimate (503 store unavailable) wins over a shorter backoff.
    if (r.retry_after)
      wait = std::max<std::chrono::milliseconds>(wait, std::min(*r.retry_after, kMaxRetryAfter));
    log().warn("{} (attempt {} of {}); retrying in {:.1f} s", edge::describe(r), attempt,
               options.attempts, std::chrono::duration<double>(wait).count());
    std::this_thread::sleep_for(wait);
    ++retries;
  }
}

}  // namespace

Result<void> validate(const HistoryLoadOptions& o) {
  if (o.batch_size < 1 || o.batch_size > kMaxHistoryBatch)
    return fail(fmt::format("batch size must be 1–{}, got {}", kMaxHistoryBatch, o.batch_size));
  if (o.attempts < 1) return fail("attempts must be at least 1");
  return {};
}

Result<HistoryLoadProgress> load_history(HistoryGenerator& generator,
                                         const HistoryLoadOptions& options,
                                         const HistoryProgressFn& on_batch) {
  if (auto ok = validate(options); !ok) return ok.error();
  auto client = edge::IngestClient::create(options.client);
  if (!client) return client.error();
  Backoff backoff(options.backoff_base, options.backoff_cap);

  const auto started = Clock::now();
  HistoryLoadProgress progress;
  progress.total = generator.total() - generator.produced();
  std::vector<edge::SpooledSample> batch;
  batch.reserve(options.batch_size);
  for (;;) {
    batch.clear();
    while (batch.size() < options.batch_size) {
      auto sample = generator.next();
      if (!sample) break;
      const auto& s = sample.value();
      batch.push_back(edge::SpooledSample{s.seq, s.ts, to_json_text(s)});
    }
    if (batch.empty()) break;
    auto counts = post_with_retries(client.value(), options, generator.options().device_id, batch,
                                    backoff, progress.retries);
    if (!counts) {
      return fail(fmt::format("{} (after {} of {} samples were stored)", counts.error().message,
                              progress.sent, progress.total));
    }
    progress.sent += counts.value().received;
    progress.inserted += counts.value().inserted;
    progress.elapsed = Clock::now() - started;
    if (on_batch) on_batch(progress);
  }
  progress.elapsed = Clock::now() - started;
  return progress;
}

}  // namespace sungrow::sim
