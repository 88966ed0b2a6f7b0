// The v1 API as functions request → response: ingest, realtime, series, health and metrics.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "sungrow/core/time.hpp"
#include "sungrow/server/api/query.hpp"
#include "sungrow/server/auth/failure_throttle.hpp"
#include "sungrow/server/auth/tokens.hpp"
#include "sungrow/server/auth/viewer_tokens.hpp"
#include "sungrow/server/cache/cache.hpp"
#include "sungrow/server/http/message.hpp"
#include "sungrow/server/ingest/ingest.hpp"
#include "sungrow/server/metrics/metrics.hpp"
#include "sungrow/server/rollup/series.hpp"
#include "sungrow/server/sites/site_table.hpp"
#include "sungrow/server/storage/session_store.hpp"
#include "sungrow/server/storage/store.hpp"

namespace sungrow::api {

// GET /v1/stream's limits and rhythm.
struct StreamOptions {
  std::size_t max_streams = 256;       // open at once, all clients together (beyond: 503)
  std::size_t max_per_credential = 8;  // open at once per token or session (beyond: 429)
  // Then the stream ends and the browser reconnects (after `retry`), checked from scratch.
  std::chrono::seconds max_duration{3600};
  std::chrono::milliseconds retry{3000};      // told to the client: reconnect after this
  std::chrono::milliseconds tick{250};        // how often a stream looks for a posted sample
  std::chrono::milliseconds refresh{15'000};  // credential and cache check; keep-alive comment
};

class LiveBoard;
class StreamSlots;
std::shared_ptr<StreamSlots> make_stream_slots(const StreamOptions& options,
                                               metrics::Metrics& metrics);

// What the browser dashboard's endpoints need.
struct DashboardOptions {
  auth::ViewerTokens* viewers = nullptr;      // nullptr: no viewer can sign in
  storage::SessionStore* sessions = nullptr;  // nullptr: no sessions
  std::chrono::seconds session_ttl = std::chrono::days(30);
  // Told to the page: a live value older than this is shown as stale, then as offline.
  std::chrono::seconds stale_after{30};
  std::chrono::seconds offline_after{300};
  std::map<std::string, std::string, std::less<>> device_zones;  // device → IANA zone
  StreamOptions streams;
};

struct ApiOptions {
  // Limits on the decoded body (after gzip); the transport already capped the bytes on the wire.
  ingest::IngestLimits ingest;
  // Told to clients with a 503 so the edge's backoff does not hammer a recovering store.
  std::chrono::seconds retry_after{5};
  // "sqlite" or "postgres", for /health.
  std::string store_kind = "sqlite";
  std::function<Timestamp()> now = now_utc;
  // Failed authentication per client address (see auth::FailureThrottle).
  auth::ThrottleOptions auth_throttle;
  DashboardOptions dashboard;
  // SITES_FILE; nullptr: no sites (the site endpoints answer 403 for every site id).
  const sites::SiteTable* sites = nullptr;
};

struct SeriesQuery;

// Borrows everything; the owner (the server app) keeps them alive longer than the Api. Every
// handler is thread-safe and may block on the store or cache: run them off the I/O threads.
class Api {
 public:
  Api(const auth::TokenTable& tokens, storage::SampleStore& store, cache::RealtimeCache& cache,
      metrics::Metrics& metrics, ApiOptions options = {});

  // POST /v1/ingest: Bearer token, {"samples":[…]} (optionally gzip) → {"received","inserted"}.
  http::Response ingest(const http::Request& request);
  // Ingest's head guard: the token is checked before the transport reads any of the body.
  std::optional<http::Response> ingest_guard(const http::Request& head);
  // GET /v1/realtime[?device_id=]: the newest sample plus age_s; the token's device by default.
  http::Response realtime(const http::Request& request);
  // Its fast path (http::FastPath), run on an I/O thread: the answer when it needs no blocking
  // call — a bearer credential (device and viewer tokens are in memory) and a sample the cache
  // holds in process (RealtimeCache::peek); nullopt otherwise (a session cookie, a miss, Redis
  // without a near copy), and realtime() then runs on a worker.
  std::optional<http::Response> realtime_without_blocking(const http::Request& request);
  // GET /v1/stream[?device_id=]: Server-Sent Events, one "sample" event (the realtime object) per
  // newer sample, starting with the newest one held.
  http::Response stream(const http::Request& request);
  // GET /v1/series?[device_id=&]frame=&from=&to=&tz=: rollup buckets.
  http::Response series(const http::Request& request);
  // GET /v1/sites/realtime?site_id=: the site's summed power and weighted SoC now, with each
  // device's newest sample. GET /v1/sites/series?site_id=&frame=&from=&to=&tz=&format=: the
  // site's buckets (sites::combine_series). A credential reads a site only if it holds every
  // device of it; any other site id, known or not, is 403.
  http::Response site_realtime(const http::Request& request);
  http::Response site_series(const http::Request& request);
  // GET /health: store and cache status; 503 when the store is down. No auth (load balancers).
  http::Response health(const http::Request& request);
  // GET /metrics: Prometheus text. No auth, like most exporters; keep it off the public proxy.
  http::Response metrics(const http::Request& request);

  // POST /v1/session {"token": viewer token} → a session cookie; DELETE /v1/session signs out.
  http::Response open_session(const http::Request& request);
  // Its head guard: another site, another content type, or more than a token's worth of body is
  // refused before the body is read (the route is open to anyone).
  std::optional<http::Response> session_guard(const http::Request& head);
  http::Response close_session(const http::Request& request);
  // GET /v1/me: what the credential (bearer or session cookie) grants, and the page's settings.
  http::Response me(const http::Request& request);

 private:
  // The device's newest sample, from the cache or else the store (refilling the cache).
  struct Newest {
    std::optional<Sample> sample;  // none stored yet
    std::string_view source;       // "cache" or "store"
  };
  storage::StoreResult<Newest> find_newest(std::string_view device_id, Timestamp now);
  http::Response store_failure(const storage::StoreError& error, std::string_view what);
  // One device's buckets over the query's ranges.
  storage::StoreResult<std::vector<rollup::SeriesBucket>> device_buckets(std::string_view device_id,
                                                                         const SeriesQuery& query);
  // A site GET's query and the site it names, or the reply refusing the request.
  struct SiteAccess {
    QueryParams query;
    const sites::Site* site = nullptr;
    std::optional<http::Response> refusal;
  };
  SiteAccess authorize_site(const http::Request& request,
                            std::span<const std::string_view> allowed);
  // A bearer token (a device's, or a viewer's for reads) or a session cookie (a viewer's), plus
  // the failure throttle and metrics: a wrong token counts against the client's address and, while
  // the address cools down, is answered 429 instead. A valid credential is never slowed.
  auth::AuthResult authenticate(const http::Request& request,
                                std::optional<std::string_view> device = std::nullopt);
  // The viewer a live session cookie stands for.
  auth::AuthResult session_credential(std::string_view session_id,
                                      std::optional<std::string_view> device);
  // A GET's query and the device it names (the token's own when the query has none), or the reply
  // refusing the request.
  struct DeviceAccess {
    QueryParams query;
    std::string device_id;
    std::optional<http::Response> refusal;
  };
  DeviceAccess authorize_read(const http::Request& request,
                              std::span<const std::string_view> allowed);

  const auth::TokenTable& tokens_;
  storage::SampleStore& store_;
  cache::RealtimeCache& cache_;
  metrics::Metrics& metrics_;
  ApiOptions options_;
  auth::FailureThrottle throttle_;
  std::shared_ptr<LiveBoard> live_board_;
  std::shared_ptr<StreamSlots> stream_slots_;
};

// GET /v1/realtime's body, and each event's data on GET /v1/stream: the sample, its age, and where
// the server found it ("cache" or "store").
std::string realtime_json(const Sample& sample, double age_s, std::string_view source);

// The session cookie's name: "__Host-sungrow_session" (Secure) everywhere but plain http on
// loopback, where browsers refuse Secure cookies, then "sungrow_session".
inline constexpr std::string_view kSecureSessionCookie = "__Host-sungrow_session";
inline constexpr std::string_view kPlainSessionCookie = "sungrow_session";

// The session id a request carries in either cookie; nullopt when none.
std::optional<std::string_view> session_cookie_of(const http::Request& request);

}  // namespace sungrow::api
