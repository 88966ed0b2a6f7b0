// GET /v1/stream: the newest sample of a device as Server-Sent Events, pushed when ingest commits
// one, checked again against the cache and the credential every refresh, within stream limits.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <chrono>

#include "sungrow/core/logger.hpp"
#include "sungrow/server/api/api.hpp"
#include "sungrow/server/api/live_board.hpp"

namespace sungrow::api {

namespace {

using http::error_response;

spdlog::logger& log() {
  return component_logger("api");
}

constexpr std::array<std::string_view, 1> kStreamParams{"device_id"};

// One event, its data written exactly as GET /v1/realtime writes its body (one line: compact
// JSON), its id the sample's seq.
std::string sample_event(const Sample& sample, double age_s, std::string_view source) {
  return fmt::format("event: sample\nid: {}\ndata: {}\n\n", sample.seq,
                     realtime_json(sample, age_s, source));
}

double age_seconds(Timestamp now, Timestamp ts) {
  return std::chrono::duration<double>(now - ts).count();
}

}  // namespace

// Counts open streams, in all and per credential; a Slot gives its place back when the stream
// ends. Shared with the streams, which may outlive a stopping Api by a moment.
class StreamSlots {
 public:
  class Slot {
   public:
    Slot(std::shared_ptr<StreamSlots> owner, std::string key)
        : owner_(std::move(owner)), key_(std::move(key)) {}
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { owner_->give_back(key_); }

   private:
    std::shared_ptr<StreamSlots> owner_;
    std::string key_;
  };
  enum class Refusal { none, credential_full, server_full };

  StreamSlots(const StreamOptions& options, metrics::Metrics& metrics)
      : options_(options), metrics_(metrics) {}

  static std::pair<std::unique_ptr<Slot>, Refusal> take(const std::shared_ptr<StreamSlots>& self,
                                                        const std::string& key) {
    const std::lock_guard lock(self->mutex_);
    if (self->open_ >= self->options_.max_streams) return {nullptr, Refusal::server_full};
    auto& mine = self->per_key_[key];
    if (mine >= self->options_.max_per_credential) return {nullptr, Refusal::credential_full};
    ++mine;
    ++self->open_;
    self->metrics_.add_open_streams(1);
    return {std::make_unique<Slot>(self, key), Refusal::none};
  }

 private:
  void give_back(const std::string& key) {
    const std::lock_guard lock(mutex_);
    if (const auto it = per_key_.find(key); it != per_key_.end() && --it->second == 0) {
      per_key_.erase(it);
    }
    --open_;
    metrics_.add_open_streams(-1);
  }

  StreamOptions options_;
  metrics::Metrics& metrics_;
  std::mutex mutex_;
  std::size_t open_ = 0;
  std::map<std::string, std::size_t, std::less<>> per_key_;
};

namespace {

// One client's stream of one device. Between refreshes it only looks at the board (no lock
// unless something was posted); a refresh re-checks the credential (an ended session or a revoked
// viewer ends the stream) and reads the newest sample through the cache, for samples another
// server process committed.
class SampleStream final : public http::EventStream {
 public:
  using Refresh = std::function<std::optional<std::optional<Sample>>()>;

  SampleStream(std::string device_id, std::shared_ptr<const LiveBoard> board, Timestamp last_sent,
               Timestamp ends, std::function<Timestamp()> now, Refresh refresh,
               std::unique_ptr<StreamSlots::Slot> slot, const StreamOptions& options)
      : device_id_(std::move(device_id)),
        board_(std::move(board)),
        last_sent_(last_sent),
        ends_(ends),
        now_(std::move(now)),
        refresh_(std::move(refresh)),
        slot_(std::move(slot)),
        tick_(options.tick),
        refresh_interval_(options.refresh) {}

  std::optional<std::string> poll() override {
    const auto now = now_();
    if (now >= ends_) return std::nullopt;  // the client reconnects and is checked again
    const auto version = board_->version();
    if (version == seen_version_) return std::string{};
    seen_version_ = version;
    const auto entry = board_->find(device_id_);
    if (!entry || entry->sample.ts <= last_sent_) return std::string{};
    last_sent_ = entry->sample.ts;
    // The sample ingest has just written through to the cache: "cache", as realtime would say.
    return sample_event(entry->sample, age_seconds(now, entry->sample.ts), "cache");
  }

  std::optional<std::string> refresh() override {
    auto newest = refresh_();
    if (!newest) return std::nullopt;
    if (!*newest || (*newest)->ts <= last_sent_) return std::string{};
    last_sent_ = (*newest)->ts;
    return sample_event(**newest, age_seconds(now_(), last_sent_), "cache");
  }

  std::chrono::milliseconds tick() const override { return tick_; }
  std::chrono::milliseconds refresh_interval() const override { return refresh_interval_; }

 private:
  std::string device_id_;
  std::shared_ptr<const LiveBoard> board_;
  std::uint64_t seen_version_ = 0;
  Timestamp last_sent_;
  Timestamp ends_;
  std::function<Timestamp()> now_;
  Refresh refresh_;
  std::unique_ptr<StreamSlots::Slot> slot_;
  std::chrono::milliseconds tick_;
  std::chrono::milliseconds refresh_interval_;
};

}  // namespace

std::shared_ptr<StreamSlots> make_stream_slots(const StreamOptions& options,
                                               metrics::Metrics& metrics) {
  return std::make_shared<StreamSlots>(options, metrics);
}

http::Response Api::stream(const http::Request& request) {
  auto access = authorize_read(request, kStreamParams);
  if (access.refusal) return std::move(*access.refusal);
  const StreamOptions& options = options_.dashboard.streams;

  // Keyed by the credential itself (its digest), so one browser's tabs share one allowance.
  const auto session = session_cookie_of(request);
  const std::string credential = request.header_value("Authorization").empty() && session
                                     ? std::string(*session)
                                     : std::string(request.header_value("Authorization"));
  const auto retry_after = std::to_string(
      std::max<std::int64_t>(1, std::chrono::ceil<std::chrono::seconds>(options.refresh).count()));
  auto [slot, refusal] =
      StreamSlots::take(stream_slots_, auth::to_hex(auth::token_digest(credential)));
  if (refusal == StreamSlots::Refusal::credential_full) {
    auto r = error_response(429, "too_many_streams",
                            fmt::format("at most {} event streams per credential are open at once",
                                        options.max_per_credential));
    r.headers.push_back({"Retry-After", retry_after});
    return r;
  }
  if (refusal == StreamSlots::Refusal::server_full) {
    auto r = error_response(503, "streams_full",
                            "the server has as many event streams open as it allows; poll "
                            "/v1/realtime or retry later");
    r.headers.push_back({"Retry-After", retry_after});
    return r;
  }

  const auto now = options_.now();
  auto found = find_newest(access.device_id, now);
  if (!found) return store_failure(found.error(), "stream");
  // value(): GCC 12 flags operator-> of a result as a possible null dereference.
  const Newest& newest = found.value();

  std::string body = fmt::format("retry: {}\n\n", options.retry.count());
  Timestamp last_sent{};
  if (newest.sample) {
    const Sample& sample = newest.sample.value();
    body += sample_event(sample, age_seconds(now, sample.ts), newest.source);
    last_sent = sample.ts;
  }
  // The refresh sees the request as it came (its credential), never its body (a GET has none).
  auto refresh = [this, head = request,
                  device_id = access.device_id]() -> std::optional<std::optional<Sample>> {
    const auto auth = authenticate(head, device_id);
    if (auth.status == 401 || auth.status == 403) return std::nullopt;
    if (!auth.ok()) return std::optional<Sample>{};  // the store or throttle: try again later
    auto again = find_newest(device_id, options_.now());
    if (!again) {
      log().debug("event stream refresh of {} failed: {}", device_id, again.error().message);
      return std::optional<Sample>{};
    }
    return std::move(again.value().sample);
  };
  http::Response reply{
      .status = 200, .content_type = "text/event-stream", .body = std::move(body), .headers = {}};
  reply.stream = std::make_shared<SampleStream>(access.device_id, live_board_, last_sent,
                                                now + options.max_duration, options_.now,
                                                std::move(refresh), std::move(slot), options);
  return reply;
}

}  // namespace sungrow::api
