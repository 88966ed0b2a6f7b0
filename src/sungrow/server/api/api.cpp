// The v1 handlers: authentication, parsing, store and cache calls, and the status of each outcome.
#include "sungrow/server/api/api.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>

#include "sungrow/core/json_writer.hpp"
#include "sungrow/core/logger.hpp"
#include "sungrow/core/sample_json.hpp"
#include "sungrow/server/api/live_board.hpp"
#include "sungrow/server/api/query.hpp"
#include "sungrow/server/api/replies.hpp"
#include "sungrow/server/api/series_json.hpp"
#include "sungrow/server/api/series_query.hpp"
#include "sungrow/server/ingest/gunzip.hpp"
#include "sungrow/server/rollup/frames.hpp"
#include "sungrow/server/rollup/series.hpp"

namespace sungrow::api {

namespace {
spdlog::logger& log() {
  return component_logger("api");
}
}  // namespace

namespace {

using http::error_response;
using http::json_response;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "application/json; charset=utf-8" → "application/json".
std::string media_type(std::string_view content_type) {
  return lower(trim(content_type.substr(0, content_type.find(';'))));
}

// A viewer's credential on a route that writes.
http::Response read_only() {
  auto r = error_response(403, "read_only", "a viewer credential may only read");
  return r;
}

}  // namespace

http::Response unauthorized(const auth::AuthResult& auth) {
  auto r = error_response(auth.status, auth.code, auth.detail);
  if (!auth.www_authenticate.empty()) {
    r.headers.push_back({"WWW-Authenticate", auth.www_authenticate});
  }
  if (auth.retry_after_s > 0) {
    r.headers.push_back({"Retry-After", std::to_string(auth.retry_after_s)});
  }
  return r;
}

std::string realtime_json(const Sample& sample, double age_s, std::string_view source) {
  JsonWriter w;
  w.begin_object();
  write_sample_fields(w, sample);
  w.field("age_s", age_s).field("source", source).end_object();
  return w.take();
}

namespace {

double age_seconds(Timestamp now, Timestamp ts) {
  return std::chrono::duration<double>(now - ts).count();
}

constexpr std::array<std::string_view, 1> kRealtimeParams{"device_id"};
constexpr std::array<std::string_view, 6> kSeriesParams{"device_id", "frame", "from",
                                                        "to",        "tz",    "format"};

}  // namespace

// The token is checked before the query is judged, so an unauthenticated caller learns nothing
// about the API's parameters.
Api::DeviceAccess Api::authorize_read(const http::Request& request,
                                      std::span<const std::string_view> allowed) {
  const auto refuse = [](http::Response reply) { return DeviceAccess{{}, {}, std::move(reply)}; };
  auto parsed = parse_query(request.query, allowed);
  if (!parsed) {
    const auto auth = authenticate(request);
    if (!auth.ok()) return refuse(unauthorized(auth));
    return refuse(error_response(400, "invalid_query", parsed.error().message));
  }
  QueryParams query = std::move(parsed).value();
  const auto requested = query.get("device_id");
  if (requested && !is_valid_device_id(*requested)) {
    // Checked before the token so the reply cannot be used to probe which ids exist.
    const auto auth = authenticate(request);
    if (!auth.ok()) return refuse(unauthorized(auth));
    return refuse(
        error_response(400, "invalid_query", "device_id must match [A-Za-z0-9._:-]{1,64}"));
  }
  const auto auth = authenticate(request, requested);
  if (!auth.ok()) return refuse(unauthorized(auth));
  return {std::move(query), auth.device_id, std::nullopt};
}

auth::AuthResult Api::authenticate(const http::Request& request,
                                   std::optional<std::string_view> device) {
  auto result = [&] {
    const auto header = request.header_value("Authorization");
    if (header.empty()) {
      if (auto cookie = session_cookie_of(request)) return session_credential(*cookie, device);
    }
    auto by_token = auth::check(tokens_, header, device);
    if (by_token.reason != "unknown_token" || options_.dashboard.viewers == nullptr) {
      return by_token;
    }
    // Not a device's token: a viewer's may read.
    const auto viewers = options_.dashboard.viewers->current();
    const auto bearer = auth::bearer_token(header);
    if (const auto* entry = viewers->find(auth::token_digest(bearer.token))) {
      return auth::granted(*entry, auth::CredentialKind::viewer, device);
    }
    return by_token;
  }();
  if (result.ok()) return result;
  // Only a presented credential that is wrong counts against the address: a browser without a
  // session, or with an expired one, is not guessing anything.
  if (result.status == 401 && (result.reason == "unknown_token" || result.reason == "malformed")) {
    if (const auto left = throttle_.cooling(request.client_addr); left.count() > 0) {
      result.status = 429;
      result.code = "too_many_failures";
      result.detail = "too many failed authentication attempts from this address; retry later";
      result.www_authenticate.clear();
      result.reason = "throttled";
      result.retry_after_s = static_cast<int>(left.count());
    } else {
      throttle_.record_failure(request.client_addr, result.reason);
    }
  }
  metrics_.add_auth_failure(result.reason);
  return result;
}

std::optional<http::Response> Api::ingest_guard(const http::Request& head) {
  const auto auth = authenticate(head);
  if (!auth.ok()) return unauthorized(auth);
  if (auth.kind != auth::CredentialKind::device) return read_only();
  return std::nullopt;
}

Api::Api(const auth::TokenTable& tokens, storage::SampleStore& store, cache::RealtimeCache& cache,
         metrics::Metrics& metrics, ApiOptions options)
    : tokens_(tokens),
      store_(store),
      cache_(cache),
      metrics_(metrics),
      options_(std::move(options)),
      throttle_(options_.auth_throttle),
      live_board_(std::make_shared<LiveBoard>()),
      stream_slots_(make_stream_slots(options_.dashboard.streams, metrics)) {}

http::Response Api::store_failure(const storage::StoreError& error, std::string_view what) {
  metrics_.add_store_error();
  switch (error.kind) {
    case storage::StoreErrorKind::unavailable: {
      log().warn("store unavailable during {}: {}", what, error.message);
      auto r = error_response(503, "store_unavailable",
                              "the store is temporarily unavailable; retry later");
      r.headers.push_back({"Retry-After", std::to_string(options_.retry_after.count())});
      return r;
    }
    case storage::StoreErrorKind::rejected:
      log().warn("store rejected {}: {}", what, error.message);
      return error_response(422, "rejected_by_store", error.message);
    case storage::StoreErrorKind::internal:
      break;
  }
  log().error("store failed during {}: {}", what, error.message);
  return error_response(500, "internal_error", "the store failed; see the server log");
}

http::Response Api::ingest(const http::Request& request) {
  const auto auth = authenticate(request);
  if (!auth.ok()) return unauthorized(auth);
  if (auth.kind != auth::CredentialKind::device) return read_only();

  if (media_type(request.header_value("Content-Type")) != "application/json") {
    return error_response(415, "unsupported_media_type", "Content-Type must be application/json");
  }
  const auto encoding = lower(trim(request.header_value("Content-Encoding")));
  std::string inflated;
  std::string_view json = request.body;
  if (encoding == "gzip") {
    auto out =
        ingest::gunzip_limited(std::span<const char>(request.body), options_.ingest.max_json_bytes);
    if (!out)
      return error_response(out.error().http_status(), out.error().code(), out.error().message);
    inflated = std::move(*out);
    json = inflated;
  } else if (!encoding.empty() && encoding != "identity") {
    return error_response(415, "unsupported_encoding", "Content-Encoding must be gzip or absent");
  }

  auto parsed = ingest::parse_ingest(json, auth.devices, options_.ingest, options_.now());
  if (!parsed) {
    return http::Response{.status = parsed.error().status,
                          .content_type = "application/json",
                          .body = std::move(parsed.error().body),
                          .headers = {}};
  }
  const auto& batch = *parsed;
  const auto write = store_.insert_batch(batch.samples);
  if (!write) return store_failure(write.error(), "ingest");
  const storage::WriteOutcome written = write.value();

  const auto received = static_cast<std::int64_t>(batch.received);
  metrics_.add_samples_inserted(written.inserted);
  metrics_.add_samples_duplicate(received - written.inserted);

  // Write-through after the commit: the cache only ever holds committed samples. A cache failure
  // costs freshness, not data, so the ingest still succeeds.
  if (!batch.samples.empty()) {
    const auto newest =
        std::max_element(batch.samples.begin(), batch.samples.end(),
                         [](const Sample& a, const Sample& b) { return a.ts < b.ts; });
    live_board_->post(*newest);
    if (const auto put = cache_.put_if_newer(*newest); !put) {
      metrics_.add_cache_error();
      // Debug only: the cache logs its own up/down transitions, and a per-request warning would
      // flood the log while Redis is down (the metrics count every failure).
      log().debug("realtime cache ({}) write failed: {}", cache_.kind(), put.error().message);
    }
  }

  JsonWriter w;
  w.begin_object().field("received", received).field("inserted", written.inserted).end_object();
  return json_response(w.take());
}

http::Response Api::realtime(const http::Request& request) {
  auto access = authorize_read(request, kRealtimeParams);
  if (access.refusal) return std::move(*access.refusal);

  const auto now = options_.now();
  const auto newest = find_newest(access.device_id, now);
  if (!newest) return store_failure(newest.error(), "realtime");
  if (!newest->sample) {
    return error_response(404, "no_data", "no sample has been stored for this device yet");
  }
  return json_response(
      realtime_json(*newest->sample, age_seconds(now, newest->sample->ts), newest->source));
}

std::optional<http::Response> Api::realtime_without_blocking(const http::Request& request) {
  // A session is looked up in the store: that blocks.
  if (request.header_value("Authorization").empty()) return std::nullopt;
  auto access = authorize_read(request, kRealtimeParams);
  if (access.refusal) return std::move(*access.refusal);
  auto cached = cache_.peek(access.device_id);
  if (!cached) return std::nullopt;
  metrics_.add_cache_hit();
  return json_response(realtime_json(*cached, age_seconds(options_.now(), cached->ts), "cache"));
}

storage::StoreResult<Api::Newest> Api::find_newest(std::string_view device_id, Timestamp now) {
  // value() rather than operator*: GCC 12 flags the latter on a result as a null dereference.
  if (auto cached = cache_.get(device_id); cached && cached.value().has_value()) {
    metrics_.add_cache_hit();
    return Newest{.sample = std::move(cached.value()), .source = "cache"};
  } else if (!cached) {
    metrics_.add_cache_error();
    log().debug("realtime cache ({}) read failed, answering from the store: {}", cache_.kind(),
                cached.error().message);
  }
  metrics_.add_cache_miss();

  // A sample stamped further ahead than ingest would accept today (stored by an older server) must
  // not stay "newest" for ever.
  auto latest = store_.latest(device_id, now + options_.ingest.max_clock_skew);
  if (!latest) return latest.error();
  if (!latest.value().has_value()) return Newest{.sample = std::nullopt, .source = "store"};
  // Refill so the next read is a hit; older data never replaces newer (put_if_newer).
  if (const auto put = cache_.put_if_newer(latest.value().value()); !put) {
    metrics_.add_cache_error();
  }
  return Newest{.sample = std::move(latest.value()), .source = "store"};
}

std::variant<SeriesQuery, http::Response> parse_series_query(const QueryParams& query,
                                                             Timestamp now) {
  const auto parsed_frame = rollup::parse_frame(query.get("frame").value_or("hour"));
  if (!parsed_frame) return error_response(400, "invalid_query", parsed_frame.error().message);
  SeriesQuery q;
  q.tz = std::string(query.get("tz").value_or("UTC"));
  const auto found_zone = rollup::find_zone(q.tz);
  if (!found_zone) return error_response(400, "invalid_query", found_zone.error().message);
  // value() after the check: GCC 12 flags operator* of a result as a possible null dereference.
  q.frame = parsed_frame.value();
  q.zone = found_zone.value();

  std::optional<Timestamp> from;
  std::optional<Timestamp> to;
  for (const auto& [name, slot] : {std::pair{"from", &from}, std::pair{"to", &to}}) {
    if (const auto text = query.get(name)) {
      *slot = parse_rfc3339(*text);
      if (!*slot) {
        return error_response(400, "invalid_query",
                              fmt::format("{} must be an RFC 3339 time such as "
                                          "2026-10-25T00:00:00+02:00 or 2026-10-24T22:00:00Z",
                                          name));
      }
    }
  }
  // Omitted ends: the frame's default window, anchored at whichever end was given.
  const auto defaults = rollup::default_range(q.frame, now, q.zone);
  const auto span = defaults.to - defaults.from;
  if (!from && !to) {
    from = defaults.from;
    to = defaults.to;
  } else if (!from) {
    from = *to - span;
  } else if (!to) {
    to = *from + span;
  }
  if (*to <= *from) return error_response(400, "invalid_query", "from must be before to");
  if (const auto ok = rollup::check_range(q.frame, *from, *to); !ok) {
    return error_response(400, "range_too_large", ok.error().message);
  }
  const auto format = query.get("format").value_or("json");
  if (format != "json" && format != "csv") {
    return error_response(400, "invalid_query", "format must be json or csv");
  }
  q.csv = format == "csv";
  q.from = *from;
  q.to = *to;
  q.ranges = rollup::buckets(q.frame, q.zone, q.from, q.to);
  return q;
}

http::Response series_reply(const SeriesHeader& header, const SeriesQuery& query,
                            std::span<const rollup::SeriesBucket> buckets,
                            std::string_view file_stem) {
  if (query.csv) {
    std::string file = fmt::format("{}-{}-{}.csv", file_stem, rollup::to_string(query.frame),
                                   header.from_local.substr(0, 10));
    std::replace(file.begin(), file.end(), ':', '_');  // device ids may hold ':'
    return http::Response{
        .status = 200,
        .content_type = "text/csv; charset=utf-8",
        .body = series_csv(buckets),
        .headers = {{"Content-Disposition", "attachment; filename=\"" + file + "\""},
                    {"Cache-Control", "no-store"}}};
  }
  return json_response(series_json(header, buckets));
}

storage::StoreResult<std::vector<rollup::SeriesBucket>> Api::device_buckets(
    std::string_view device_id, const SeriesQuery& query) {
  if (query.ranges.empty()) return std::vector<rollup::SeriesBucket>{};
  // Precomputed hour/day spans inside the buckets, base buckets only at unaligned edges.
  const auto pieces = store_.series_spans(device_id, query.ranges);
  if (!pieces) return pieces.error();
  return rollup::aggregate_spans(*pieces, query.ranges);
}

http::Response Api::series(const http::Request& request) {
  auto access = authorize_read(request, kSeriesParams);
  if (access.refusal) return std::move(*access.refusal);
  auto parsed = parse_series_query(access.query, options_.now());
  if (auto* refusal = std::get_if<http::Response>(&parsed)) return std::move(*refusal);
  const auto& query = std::get<SeriesQuery>(parsed);
  const auto buckets = device_buckets(access.device_id, query);
  if (!buckets) return store_failure(buckets.error(), "series");
  const SeriesHeader header{.device_id = access.device_id,
                            .site = nullptr,
                            .frame = query.frame,
                            .tz = query.tz,
                            .from_local = rollup::format_local(query.from, query.zone),
                            .to_local = rollup::format_local(query.to, query.zone)};
  return series_reply(header, query, buckets.value(), access.device_id);
}

http::Response Api::health(const http::Request&) {
  const auto store = store_.ping();
  const auto cache = cache_.ping();
  const char* status = !store ? "unavailable" : !cache ? "degraded" : "ok";
  JsonWriter w;
  w.begin_object().field("status", status);
  w.key("store").begin_object().field("kind", options_.store_kind).field("ok", bool(store));
  if (!store) w.field("detail", store.error().message);
  w.end_object();
  w.key("cache").begin_object().field("kind", cache_.kind()).field("ok", bool(cache));
  if (!cache) w.field("detail", cache.error().message);
  w.end_object().end_object();
  return json_response(w.take(), store ? 200 : 503);
}

http::Response Api::metrics(const http::Request&) {
  metrics_.set_store_rows_skipped(store_.skipped_rows());
  return http::Response{.status = 200,
                        .content_type = "text/plain; version=0.0.4; charset=utf-8",
                        .body = metrics_.render(),
                        .headers = {}};
}

}  // namespace sungrow::api
