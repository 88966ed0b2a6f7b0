// Wires config → token table, store, cache, Api, router and HTTP server, and runs them.
#include "sungrow/server/app/server_app.hpp"

#include <fmt/format.h>
#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <mutex>
#include <stop_token>
#include <thread>

#include "sungrow/core/logger.hpp"
#include "sungrow/server/api/api.hpp"
#include "sungrow/server/api/openapi.hpp"
#include "sungrow/server/auth/tokens.hpp"
#include "sungrow/server/cache/make_cache.hpp"
#include "sungrow/server/http/descriptor_limit.hpp"
#include "sungrow/server/http/router.hpp"
#include "sungrow/server/http/server.hpp"
#include "sungrow/server/metrics/metrics.hpp"
#include "sungrow/server/sites/site_table.hpp"
#include "sungrow/server/storage/pg_store.hpp"
#include "sungrow/server/storage/sqlite_store.hpp"
#include "sungrow/server/web/web.hpp"

#ifdef SUNGROW_TEST_HOOKS
#include "sungrow/server/app/fault_store.hpp"
#endif

namespace sungrow::app {

namespace {
spdlog::logger& log() {
  return component_logger("server");
}
}  // namespace

namespace {

struct OpenStore {
  std::unique_ptr<storage::SampleStore> store;
  storage::SessionStore* sessions = nullptr;  // the same database, owned by `store`
  std::string kind;
};

Result<OpenStore> open_store(const ServerConfig& c) {
  if (c.database_url.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(c.data_dir, ec);
    if (ec) return fail(fmt::format("cannot create DATA_DIR {}: {}", c.data_dir, ec.message()));
    auto store = storage::SqliteStore::open(c.sqlite_path());
    if (!store)
      return fail(fmt::format("SQLite store {}: {}", c.sqlite_path(), store.error().message));
    storage::SessionStore* sessions = store.value().get();
    return OpenStore{std::move(*store), sessions, "sqlite"};
  }
  storage::PgOptions options;
  options.pool_size = static_cast<std::size_t>(c.pg_pool_size);
  auto store = storage::PgStore::open(c.database_url, options);
  if (!store) {
    return fail(
        fmt::format("PostgreSQL at {}: {}", redact_url(c.database_url), store.error().message));
  }
  storage::SessionStore* sessions = store.value().get();
  return OpenStore{std::move(*store), sessions, "postgres"};
}

Result<OpenStore> open_migrated_store(const ServerConfig& c) {
  auto opened = open_store(c);
  if (!opened) return opened;
  if (auto migrated = opened->store->migrate(); !migrated) {
    return fail(fmt::format("migrating the {} store: {}", opened->kind, migrated.error().message));
  }
  return opened;
}

Result<auth::TokenTable> load_tokens(const ServerConfig& c) {
  auto table = c.device_tokens_file.empty() ? auth::parse_device_tokens(c.device_tokens)
                                            : auth::load_device_tokens_file(c.device_tokens_file);
  if (!table) {
    std::string all;
    for (const auto& e : table.error()) all += (all.empty() ? "" : "; ") + e.message;
    return fail(all);
  }
  if (table->empty()) return fail("the device token list is empty");
  return std::move(*table);
}

// Descriptors the server needs besides its client connections: the store's and the cache's
// connections, SQLite's files, logs, the listening socket, the event loop, and refusals under way.
std::size_t descriptor_reserve(const ServerConfig& c) {
  constexpr std::size_t kBase = 32;
  constexpr std::size_t kRedisPool = 4;
  return kBase + static_cast<std::size_t>(c.pg_pool_size) + kRedisPool +
         http::ServerOptions::kMaxRefusalsInFlight;
}

http::ServerOptions transport_options(const ServerConfig& c) {
  using std::chrono::seconds;
  http::ServerOptions o;
  o.listen_address = c.listen_addr;
  o.port = static_cast<std::uint16_t>(c.port);
  o.io_threads = static_cast<std::size_t>(c.io_threads);
  o.worker_threads = static_cast<std::size_t>(c.worker_threads);
  o.max_body_bytes = static_cast<std::size_t>(c.ingest_max_bytes);
  o.header_timeout = seconds(c.header_timeout_s);
  o.body_timeout = seconds(c.body_timeout_s);
  o.idle_timeout = seconds(c.idle_timeout_s);
  o.max_body_bytes_in_flight = static_cast<std::size_t>(c.body_budget_bytes);
  o.trusted_proxies = c.trusted_proxies;
  const auto limit = http::raise_descriptor_limit();
  const auto reserve = descriptor_reserve(c);
  o.max_connections =
      http::connection_cap(static_cast<std::size_t>(c.max_connections), limit.soft, reserve);
  log().info(
      "descriptors: limit {} (was {}, hard {}); connection cap {} (MAX_CONNECTIONS {}, "
      "{} kept for the store, cache, logs and 503 answers)",
      limit.soft, limit.soft_before, limit.hard, o.max_connections, c.max_connections, reserve);
  if (o.max_connections < static_cast<std::size_t>(c.max_connections)) {
    log().warn(
        "the descriptor limit lowers the connection cap from {} to {}; raise LimitNOFILE "
        "(systemd) or ulimit -n to serve more",
        c.max_connections, o.max_connections);
  }
  return o;
}

// glibc keeps freed memory for reuse, and its threshold for giving large blocks their own mapping
// rises with every large free: after a burst of big request bodies the process would keep their
// memory for good, which on a small VPS looks just like a leak. A fixed threshold returns every
// large block on free; the trim gives back what small allocations left free inside the heaps.
constexpr int kMmapThresholdBytes = 128 * 1024;
constexpr auto kTrimInterval = std::chrono::seconds(2);

void return_freed_memory_after_bursts(const http::HttpServer& server, std::stop_token stop) {
  std::mutex mutex;
  std::condition_variable_any wake;
  std::uint64_t trimmed_at = server.body_bytes_read();
  std::unique_lock lock(mutex);
  for (;;) {
    wake.wait_for(lock, stop, kTrimInterval, [] { return false; });
    if (stop.stop_requested()) return;
    const auto read = server.body_bytes_read();
    if (read != trimmed_at) {
      ::malloc_trim(0);
      trimmed_at = read;
    }
  }
}

http::Router make_router(api::Api& api, const web::WebOptions& web_options) {
  http::Router router;
  router.add(
      "POST", "/v1/ingest", [&api](const http::Request& r) { return api.ingest(r); },
      http::RouteOptions{
          .name = {},
          .takes_body = true,
          .guard = [&api](const http::Request& head) { return api.ingest_guard(head); },
          .fast_path = {}});
  router.add(
      "GET", "/v1/realtime", [&api](const http::Request& r) { return api.realtime(r); },
      http::RouteOptions{.name = {},
                         .takes_body = std::nullopt,
                         .guard = {},
                         .fast_path = [&api](const http::Request& r) {
                           return api.realtime_without_blocking(r);
                         }});
  router.add("GET", "/v1/series", [&api](const http::Request& r) { return api.series(r); });
  router.add("GET", "/v1/sites/realtime",
             [&api](const http::Request& r) { return api.site_realtime(r); });
  router.add("GET", "/v1/sites/series",
             [&api](const http::Request& r) { return api.site_series(r); });
  router.add("GET", "/v1/stream", [&api](const http::Request& r) { return api.stream(r); });
  router.add(
      "POST", "/v1/session", [&api](const http::Request& r) { return api.open_session(r); },
      http::RouteOptions{
          .name = {},
          .takes_body = true,
          .guard = [&api](const http::Request& head) { return api.session_guard(head); },
          .fast_path = {}});
  router.add("DELETE", "/v1/session",
             [&api](const http::Request& r) { return api.close_session(r); });
  router.add("GET", "/v1/me", [&api](const http::Request& r) { return api.me(r); });
  router.add("GET", "/health", [&api](const http::Request& r) { return api.health(r); });
  router.add("GET", "/metrics", [&api](const http::Request& r) { return api.metrics(r); });
  router.add("GET", "/v1/openapi.json", api::openapi);
  web::add_web_routes(router, web_options);
  return router;
}

// Blocks until SIGINT or SIGTERM (blocked in all threads by main, so only this thread sees them).
int wait_for_stop_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

}  // namespace

int serve(const ServerConfig& c) {
  ::mallopt(M_MMAP_THRESHOLD, kMmapThresholdBytes);
  // Each result is checked, then moved out with value(): GCC 12 flags operator* on a result as a
  // possible null dereference.
  auto loaded = load_tokens(c);
  if (!loaded) {
    log().error("device tokens: {}", loaded.error().message);
    return kExitUsage;
  }
  const auth::TokenTable tokens = std::move(loaded).value();
  auto opened = open_migrated_store(c);
  if (!opened) {
    log().error("{}", opened.error().message);
    return kExitFailure;
  }
  OpenStore store = std::move(opened).value();
#ifdef SUNGROW_TEST_HOOKS
  // Compiled only into test builds: the fault campaigns' server-side faults.
  if (const char* fault_text = std::getenv("SUNGROW_TEST_STORE_FAULT")) {
    auto fault = parse_store_fault(fault_text);
    if (!fault) {
      log().error("{}", fault.error().message);
      return kExitUsage;
    }
    log().warn("test build: store fault {} is on", fault_text);
    store.store = with_store_fault(std::move(store.store), fault.value());
  }
#endif
  cache::CacheOptions cache_options;
  cache_options.near_ttl = std::chrono::milliseconds(c.near_cache_ms);
  auto made = cache::make_cache(
      c.redis_url.empty() ? std::nullopt : std::optional<std::string>(c.redis_url),
      std::chrono::seconds(c.cache_ttl_s), cache_options);
  if (!made) {
    log().error("realtime cache: {}", made.error().message);
    return kExitUsage;
  }
  const std::unique_ptr<cache::RealtimeCache> cache = std::move(made).value();
  metrics::Metrics metrics;
  api::ApiOptions api_options;
  api_options.ingest.max_json_bytes = static_cast<std::size_t>(c.ingest_max_decompressed_bytes);
  api_options.ingest.max_clock_skew = std::chrono::seconds(c.max_clock_skew_s);
  api_options.store_kind = store.kind;
  api_options.auth_throttle.max_failures = static_cast<std::uint32_t>(c.auth_failure_limit);
  api_options.auth_throttle.cooldown = std::chrono::seconds(c.auth_cooldown_s);
  auth::ViewerTokens viewers(c.viewer_tokens_file);
  if (auto read = viewers.reload(); !read) {
    log().error("{}", read.error().message);
    return kExitUsage;
  }
  api_options.dashboard.viewers = &viewers;
  api_options.dashboard.sessions = store.sessions;
  api_options.dashboard.session_ttl = std::chrono::seconds(c.session_ttl_s);
  api_options.dashboard.stale_after = std::chrono::seconds(c.dashboard_stale_after_s);
  api_options.dashboard.offline_after = std::chrono::seconds(c.dashboard_offline_after_s);
  api_options.dashboard.streams = {
      .max_streams = static_cast<std::size_t>(c.streams_max),
      .max_per_credential = static_cast<std::size_t>(c.streams_per_credential),
      .max_duration = std::chrono::seconds(c.stream_max_s),
      .retry = std::chrono::milliseconds(3'000),
      .tick = std::chrono::milliseconds(250),
      .refresh = std::chrono::seconds(c.stream_keepalive_s)};
  api_options.dashboard.device_zones = parse_device_zones(c.device_zones).value();  // validated
  sites::SiteTable site_table;
  if (!c.sites_file.empty()) {
    auto loaded_sites = sites::load_sites_file(c.sites_file);
    if (!loaded_sites) {
      for (const auto& e : loaded_sites.error()) log().error("{}", e.message);
      return kExitUsage;
    }
    site_table = std::move(loaded_sites).value();
    log().info("{} site(s) from {}", site_table.sites().size(), c.sites_file);
  }
  api_options.sites = &site_table;
  api::Api api(tokens, *store.store, *cache, metrics, api_options);

  auto started = http::HttpServer::start(transport_options(c),
                                         make_router(api, {.web_root = c.web_root}), metrics);
  if (!started) {
    log().error("{}", started.error().message);
    return kExitFailure;
  }
  const std::unique_ptr<http::HttpServer> server = std::move(started).value();
  std::jthread trimmer(
      [&server](std::stop_token stop) { return_freed_memory_after_bursts(*server, stop); });
  log().info("store: {} {}, cache: {}, {} device token(s), {} viewer token(s)", store.kind,
             c.database_url.empty() ? c.sqlite_path() : redact_url(c.database_url), cache->kind(),
             tokens.size(), viewers.current()->size());
  // Tests and the demo wait for this line; stdout so it is never mixed into the log format.
  std::cout << "sungrow-server listening on " << c.listen_addr << ":" << server->port()
            << std::endl;

  const int sig = wait_for_stop_signal();
  log().info("signal {}: stopping (in-flight requests finish first)", sig);
  trimmer.request_stop();
  trimmer.join();
  server->stop();
  log().info("stopped");
  return kExitOk;
}

int migrate(const ServerConfig& c) {
  auto opened = open_migrated_store(c);
  if (!opened) {
    std::cerr << "sungrow-server: " << opened.error().message << "\n";
    return kExitFailure;
  }
  std::cout << "sungrow-server: the " << opened->kind << " store is up to date\n";
  return kExitOk;
}

}  // namespace sungrow::app
