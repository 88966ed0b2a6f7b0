// Uploader::step: one round of spool → POST → ack / back off / split and dead-letter.
#include "sungrow/edge/upload/uploader.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "sungrow/core/logger.hpp"

namespace sungrow::edge {

namespace {

spdlog::logger& log() {
  return component_logger("uploader");
}

// "1.5s": waits are logged for humans, and whole seconds would print sub-second waits as 0s.
std::string secs(std::chrono::milliseconds d) {
  return fmt::format("{:.1f}s", std::chrono::duration<double>(d).count());
}

std::vector<std::int64_t> seqs_of(std::span<const SpooledSample> part) {
  std::vector<std::int64_t> seqs;
  seqs.reserve(part.size());
  for (const auto& s : part) seqs.push_back(s.seq);
  return seqs;
}

}  // namespace

Result<Uploader> Uploader::create(UploaderSettings settings, Spool& spool, std::uint64_t seed) {
  auto client = IngestClient::create(settings);
  if (!client) return client.error();
  return Uploader(std::move(settings), spool, std::move(*client), seed);
}

Uploader::Uploader(UploaderSettings settings, Spool& spool, std::uint64_t seed)
    : Uploader(create(std::move(settings), spool, seed).value()) {}

Uploader::Uploader(UploaderSettings settings, Spool& spool, IngestClient client, std::uint64_t seed)
    : settings_(std::move(settings)),
      spool_(spool),
      client_(std::move(client)),
      backoff_(settings_.backoff_base, settings_.backoff_cap, seed),
      size_cap_(0) {
  settings_.batch_size = std::max<std::size_t>(settings_.batch_size, 1);
  settings_.max_batch_size = std::max(settings_.max_batch_size, settings_.batch_size);
  size_cap_ = settings_.max_batch_size;
}

Result<std::vector<SpooledSample>> Uploader::peek(std::size_t max) {
  if (settings_.device_id.empty()) return spool_.peek(max);
  return spool_.peek(settings_.device_id, max);
}

Result<void> Uploader::ack(std::span<const std::int64_t> seqs) {
  if (settings_.device_id.empty()) return spool_.ack(seqs);
  return spool_.ack(settings_.device_id, seqs);
}

Result<void> Uploader::dead_letter(std::int64_t seq, std::string_view reason) {
  if (settings_.device_id.empty()) return spool_.dead_letter(seq, reason);
  return spool_.dead_letter(settings_.device_id, seq, reason);
}

UploadStep Uploader::finish_failure(UploadStep out, const PostResult& r) {
  out.ok = false;
  out.last_status = r.status;
  out.error = describe(r);
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(backoff_.next_delay());
  if (r.retry_after) wait = std::max<std::chrono::milliseconds>(wait, *r.retry_after);
  if (r.status == PostStatus::unauthorized) {
    wait = std::max(wait, settings_.unauthorized_min_wait);
    log().error(
        "INGEST REFUSED OUR CREDENTIALS ({}): uploads are paused and all data stays in the "
        "spool; check {} and that it belongs to this device. Next try in {}",
        out.error,
        settings_.device_id.empty()
            ? std::string("VPS_DEVICE_TOKEN")
            : fmt::format("the token_file of device {}", settings_.device_id),
        secs(wait));
  } else if (r.status == PostStatus::misconfigured) {
    wait = std::max(wait, settings_.unauthorized_min_wait);
    // The URL has passed validate_ingest_url, so it holds no credentials; the token is never
    // part of a log line.
    log().error(
        "INGEST ENDPOINT {} ANSWERED HTTP {} — WRONG URL PATH OR A PROXY IN THE WAY? Uploads are "
        "paused and all data stays in the spool; check VPS_INGEST_URL and any proxy. Reply: {}. "
        "Next try in {}",
        client_.url(), r.http_status, r.detail.empty() ? std::string("(empty)") : r.detail,
        secs(wait));
  } else {
    log().warn("upload failed ({}), attempt {}, next try in {}", out.error, backoff_.failures(),
               secs(wait));
  }
  out.wait = wait;
  return out;
}

// Retries spool bookkeeping that failed earlier. False (with `out` filled) when it still fails.
bool Uploader::settle_pending(UploadStep& out) {
  const auto spool_failure = [&](const std::string& what) {
    out.ok = false;
    out.error = what;
    out.wait = backoff_.next_delay();
    log().error("{}; retrying in {}", what, secs(out.wait));
    return false;
  };
  if (!unacked_.empty()) {
    if (auto r = ack(unacked_); !r) {
      return spool_failure(fmt::format("spool ack of {} delivered samples failed: {}",
                                       unacked_.size(), r.error().message));
    }
    unacked_.clear();
  }
  while (!undead_lettered_.empty()) {
    const auto& d = undead_lettered_.back();
    if (auto r = dead_letter(d.seq, d.reason); !r) {
      return spool_failure(
          fmt::format("spool dead-letter of seq {} failed: {}", d.seq, r.error().message));
    }
    undead_lettered_.pop_back();
  }
  return true;
}

UploadStep Uploader::step() {
  UploadStep out;
  if (!settle_pending(out)) return out;

  // `work` is a stack: back() is the oldest part, posted next.
  std::vector<std::vector<SpooledSample>> work = std::move(pending_parts_);
  pending_parts_.clear();
  std::size_t requested = 0;
  std::size_t got = 0;
  bool split = !work.empty();  // resuming the halves of a refused batch
  if (work.empty()) {
    // Peeking the catch-up size and looking at what came back is the same rule as "depth >
    // batch_size → max_batch_size, else batch_size" (a shorter answer is the whole spool), but
    // it needs no row count, which the spool pays for with a table scan on a large backlog.
    requested = std::max(std::min(settings_.max_batch_size, size_cap_), settings_.batch_size);
    auto peeked = peek(requested);
    if (!peeked) {
      return finish_failure(
          std::move(out),
          PostResult{PostStatus::retry, 0, "spool peek failed: " + peeked.error().message, {}});
    }
    if (peeked->empty()) {
      out.wait = settings_.upload_interval;
      return out;
    }
    got = peeked->size();
    work.push_back(std::move(*peeked));
  }

  bool saw_too_large = false;
  std::size_t largest_delivered = 0;
  while (!work.empty()) {
    std::vector<SpooledSample> part = std::move(work.back());
    work.pop_back();
    const PostResult r = client_.post(part);
    ++out.posts;
    out.last_status = r.status;

    switch (r.status) {
      case PostStatus::delivered: {
        // The server has committed: from here on a failure only means a harmless re-send later.
        backoff_.reset();
        out.sent += part.size();
        largest_delivered = std::max(largest_delivered, part.size());
        auto seqs = seqs_of(part);
        if (auto acked = ack(seqs); !acked) {
          unacked_ = std::move(seqs);
          pending_parts_ = std::move(work);
          out.ok = false;
          out.error = "spool ack failed: " + acked.error().message;
          out.wait = backoff_.next_delay();
          log().error("{} ({} delivered samples will be acked on the next step)", out.error,
                      unacked_.size());
          return out;
        }
        log().debug("delivered {} samples (seq {}..{})", part.size(), part.front().seq,
                    part.back().seq);
        break;
      }
      case PostStatus::rejected:
      case PostStatus::too_large: {
        saw_too_large = saw_too_large || r.status == PostStatus::too_large;
        if (part.size() == 1) {
          const auto& s = part.front();
          std::string reason = describe(r);
          log().error(
              "server refuses sample seq {} on its own ({}); moved to the dead-letter table", s.seq,
              reason);
          ++out.dead_lettered;
          if (auto d = dead_letter(s.seq, reason); !d) {
            log().error("spool dead-letter of seq {} failed: {}", s.seq, d.error().message);
            undead_lettered_.push_back(PendingDeadLetter{s.seq, std::move(reason)});
          }
          break;
        }
        // Bisect: log2(n) extra posts isolate one bad sample, and neither half equals the
        // batch that was just refused.
        const auto mid = part.size() / 2;
        const auto middle = part.begin() + static_cast<std::ptrdiff_t>(mid);
        log().warn("batch of {} (seq {}..{}) refused ({}); splitting", part.size(),
                   part.front().seq, part.back().seq, describe(r));
        std::vector<SpooledSample> newer(std::make_move_iterator(middle),
                                         std::make_move_iterator(part.end()));
        part.erase(middle, part.end());
        work.push_back(std::move(newer));
        work.push_back(std::move(part));
        split = true;
        break;
      }
      case PostStatus::retry:
      case PostStatus::unauthorized:
      case PostStatus::misconfigured: {
        // Not the batch's fault: the same part may be sent again as it is. Only the halves of a
        // refused batch are carried over; an unsplit batch is simply peeked afresh next time.
        if (split) {
          work.push_back(std::move(part));
          pending_parts_ = std::move(work);
        }
        return finish_failure(std::move(out), r);
      }
    }
  }

  if (saw_too_large && largest_delivered > 0) {
    // Catch-up batches that the server's body limit refuses would be split on every step;
    // remember what fit. Normal-pace batches are never capped below batch_size.
    size_cap_ = std::clamp(largest_delivered, settings_.batch_size, size_cap_);
  }
  if (!undead_lettered_.empty()) {
    out.ok = false;
    out.error = "dead-letter bookkeeping pending in the spool";
    out.wait = backoff_.next_delay();
    return out;
  }
  // A full batch means more is probably waiting (catch-up: go on at once); a short one means
  // the spool was drained and the normal pace resumes. A resumed split counts as full.
  out.wait = got == requested ? std::chrono::milliseconds{0} : settings_.upload_interval;
  return out;
}

}  // namespace sungrow::edge
