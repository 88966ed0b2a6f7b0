// Binds the server settings to CLI11 flags + env vars, and validates them all at once.
#include "sungrow/server/app/config.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <boost/asio/ip/address.hpp>
#include <filesystem>
#include <thread>

#include "sungrow/core/log_level.hpp"
#include "sungrow/core/quote.hpp"
#include "sungrow/core/sample.hpp"
#include "sungrow/server/http/client_address.hpp"
#include "sungrow/server/rollup/frames.hpp"
#include "sungrow/server/web/web.hpp"

namespace sungrow::app {

namespace {

template <class T>
void check_range(std::vector<std::string>& problems, const char* name, T value, T lo, T hi) {
  if (value < lo || value > hi) {
    problems.push_back(fmt::format("{} must be between {} and {} (got {})", name, lo, hi, value));
  }
}

bool starts_with_any(std::string_view s, std::initializer_list<std::string_view> prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](std::string_view p) { return s.starts_with(p); });
}

}  // namespace

std::string ServerConfig::sqlite_path() const {
  return (std::filesystem::path(data_dir) / "sungrow.db").string();
}

void bind_options(CLI::App& app, ServerConfig& c) {
  auto opt = [&app](const char* flag, auto& field, const char* env, const char* help) {
    return app.add_option(flag, field, help)->envname(env)->capture_default_str();
  };
  opt("--database-url", c.database_url, "DATABASE_URL",
      "PostgreSQL URL (postgresql://…); unset = SQLite under DATA_DIR");
  opt("--redis-url", c.redis_url, "REDIS_URL", "Redis URL (redis://…); unset = in-process cache");
  opt("--device-tokens", c.device_tokens, "DEVICE_TOKENS",
      "token:device_id pairs, comma separated");
  opt("--device-tokens-file", c.device_tokens_file, "DEVICE_TOKENS_FILE",
      "File with one token:device_id pair per line");
  opt("--cache-ttl", c.cache_ttl_s, "CACHE_TTL_S", "Seconds a realtime cache entry lives");
  opt("--near-cache-ms", c.near_cache_ms, "NEAR_CACHE_MS",
      "With Redis: milliseconds a sample read from it is served from this process (0: never)");
  opt("--listen-addr", c.listen_addr, "LISTEN_ADDR", "Address to listen on");
  opt("--port", c.port, "PORT", "TCP port (0 = any free port, printed at start)");
  opt("--data-dir", c.data_dir, "DATA_DIR", "Directory of the SQLite database");
  opt("--ingest-max-bytes", c.ingest_max_bytes, "INGEST_MAX_BYTES",
      "Largest request body accepted, in bytes");
  opt("--ingest-max-decompressed-bytes", c.ingest_max_decompressed_bytes,
      "INGEST_MAX_DECOMPRESSED_BYTES", "Largest ingest body after gzip decoding, in bytes");
  opt("--max-connections", c.max_connections, "MAX_CONNECTIONS",
      "Concurrent connections (lowered to what the descriptor limit allows)");
  opt("--body-budget", c.body_budget_bytes, "BODY_BUDGET_BYTES",
      "Request-body bytes held in memory at once, all clients together (beyond: 503)");
  opt("--trusted-proxies", c.trusted_proxies, "TRUSTED_PROXIES",
      "Proxies (addresses or networks, comma separated) whose X-Forwarded-For names the client");
  opt("--max-clock-skew", c.max_clock_skew_s, "MAX_CLOCK_SKEW_S",
      "Seconds a sample's ts may lie ahead of the server's clock (beyond: 422 ts_out_of_range)");
  opt("--auth-failure-limit", c.auth_failure_limit, "AUTH_FAILURE_LIMIT",
      "Failed authentications per client address per minute before a cool-down (0: never)");
  opt("--auth-cooldown", c.auth_cooldown_s, "AUTH_COOLDOWN_S",
      "Seconds a client past the failure limit gets 429 for failed attempts");
  opt("--viewer-tokens-file", c.viewer_tokens_file, "VIEWER_TOKENS_FILE",
      "Dashboard viewers: lines of `sungrow-server viewer new` (read again when it changes)");
  opt("--sites-file", c.sites_file, "SITES_FILE",
      "Sites: lines `SITE_ID DEVICE[=master|=slave|=standalone] …` (GET /v1/sites/…)");
  opt("--device-zones", c.device_zones, "DEVICE_ZONES",
      "Default time zone per device for the dashboard: device=Area/City, comma separated");
  opt("--dashboard-stale-after", c.dashboard_stale_after_s, "DASHBOARD_STALE_AFTER_S",
      "Seconds after which the dashboard shows a live value as stale");
  opt("--dashboard-offline-after", c.dashboard_offline_after_s, "DASHBOARD_OFFLINE_AFTER_S",
      "Seconds after which the dashboard shows a device as offline");
  opt("--session-ttl", c.session_ttl_s, "SESSION_TTL_S",
      "Seconds a dashboard session lasts after sign-in");
  opt("--streams-max", c.streams_max, "STREAMS_MAX",
      "Event streams (GET /v1/stream) open at once, all clients together (beyond: 503)");
  opt("--streams-per-credential", c.streams_per_credential, "STREAMS_PER_CREDENTIAL",
      "Event streams open at once per token or session (beyond: 429)");
  opt("--stream-keepalive", c.stream_keepalive_s, "STREAM_KEEPALIVE_S",
      "Seconds between an event stream's credential checks and keep-alive comments");
  opt("--stream-max", c.stream_max_s, "STREAM_MAX_S",
      "Seconds an event stream lasts before the browser reconnects (and is checked again)");
  opt("--web-root", c.web_root, "WEB_ROOT",
      "Serve the dashboard from this folder (node web/build.mjs --dev) instead of the built-in "
      "one");
  opt("--header-timeout", c.header_timeout_s, "HEADER_TIMEOUT_S",
      "Seconds a client has to send the request headers");
  opt("--body-timeout", c.body_timeout_s, "BODY_TIMEOUT_S",
      "Seconds a client has to send the request body");
  opt("--idle-timeout", c.idle_timeout_s, "IDLE_TIMEOUT_S",
      "Seconds an idle keep-alive connection is kept");
  opt("--io-threads", c.io_threads, "IO_THREADS", "Threads running network I/O");
  opt("--worker-threads", c.worker_threads, "WORKER_THREADS",
      "Threads running handlers (store and cache calls)");
  opt("--pg-pool-size", c.pg_pool_size, "PG_POOL_SIZE", "PostgreSQL connections");
  opt("--log-level", c.log_level, "LOG_LEVEL", "trace, debug, info, warn, error");
}

int default_io_threads() {
  const auto cores = static_cast<int>(std::thread::hardware_concurrency());
  return std::clamp(cores, 1, 4);
}

std::vector<std::string> validate(const ServerConfig& c, ServerNeeds needs) {
  std::vector<std::string> problems;
  // libpq takes a URL or "key=value …" conninfo; anything else is most likely a typo.
  if (!c.database_url.empty() && c.database_url.find("://") != std::string::npos &&
      !starts_with_any(c.database_url, {"postgres://", "postgresql://"})) {
    problems.emplace_back("DATABASE_URL must start with postgresql:// or postgres://");
  } else if (!c.database_url.empty() && c.database_url.find("://") == std::string::npos &&
             c.database_url.find('=') == std::string::npos) {
    problems.emplace_back(
        "DATABASE_URL must be a postgresql:// URL or a libpq conninfo (host=… dbname=…)");
  }
  if (c.database_url.empty()) {
    if (c.data_dir.empty()) {
      problems.emplace_back("DATA_DIR must not be empty when DATABASE_URL is unset");
    } else if (std::filesystem::exists(c.data_dir) && !std::filesystem::is_directory(c.data_dir)) {
      problems.push_back(fmt::format("DATA_DIR {} is not a directory", c.data_dir));
    } else if (std::filesystem::exists(c.data_dir) && ::access(c.data_dir.c_str(), W_OK) != 0) {
      problems.push_back(fmt::format("DATA_DIR {} is not writable", c.data_dir));
    }
  }
  check_range(problems, "PG_POOL_SIZE", c.pg_pool_size, 1, 256);
  if (needs == ServerNeeds::serve) {
    if (!c.redis_url.empty() &&
        !starts_with_any(c.redis_url, {"redis://", "rediss://", "unix://"})) {
      problems.emplace_back("REDIS_URL must start with redis:// or unix://");
    }
    if (c.device_tokens.empty() && c.device_tokens_file.empty()) {
      problems.emplace_back(
          "no device tokens: set DEVICE_TOKENS or DEVICE_TOKENS_FILE (sungrow-server token new "
          "DEVICE_ID prints a line to add)");
    }
    if (!c.device_tokens.empty() && !c.device_tokens_file.empty()) {
      problems.emplace_back("set DEVICE_TOKENS or DEVICE_TOKENS_FILE, not both");
    }
    boost::system::error_code ec;
    boost::asio::ip::make_address(c.listen_addr, ec);
    if (ec) {
      problems.push_back(
          fmt::format("LISTEN_ADDR '{}' is not an IPv4 or IPv6 address", c.listen_addr));
    }
    check_range(problems, "PORT", c.port, 0, 65535);
    check_range(problems, "CACHE_TTL_S", c.cache_ttl_s, 1, 86'400);
    check_range(problems, "NEAR_CACHE_MS", c.near_cache_ms, 0, 10'000);
    check_range(problems, "INGEST_MAX_BYTES", c.ingest_max_bytes, 1'024LL, 1LL << 30);
    check_range(problems, "INGEST_MAX_DECOMPRESSED_BYTES", c.ingest_max_decompressed_bytes, 1'024LL,
                1LL << 30);
    check_range(problems, "MAX_CONNECTIONS", c.max_connections, 1, 100'000);
    check_range(problems, "BODY_BUDGET_BYTES", c.body_budget_bytes, 1'024LL, 1LL << 40);
    if (c.body_budget_bytes < c.ingest_max_bytes) {
      problems.emplace_back("BODY_BUDGET_BYTES must be at least INGEST_MAX_BYTES");
    }
    if (auto proxies = http::TrustedProxies::parse(c.trusted_proxies); !proxies) {
      problems.push_back("TRUSTED_PROXIES: " + proxies.error().message);
    }
    check_range(problems, "MAX_CLOCK_SKEW_S", c.max_clock_skew_s, 0, 7 * 86'400);
    check_range(problems, "AUTH_FAILURE_LIMIT", c.auth_failure_limit, 0, 1'000'000);
    check_range(problems, "AUTH_COOLDOWN_S", c.auth_cooldown_s, 1, 86'400);
    check_range(problems, "DASHBOARD_STALE_AFTER_S", c.dashboard_stale_after_s, 1, 86'400);
    check_range(problems, "DASHBOARD_OFFLINE_AFTER_S", c.dashboard_offline_after_s, 1, 7 * 86'400);
    if (c.dashboard_offline_after_s < c.dashboard_stale_after_s) {
      problems.emplace_back("DASHBOARD_OFFLINE_AFTER_S must not be below DASHBOARD_STALE_AFTER_S");
    }
    check_range(problems, "SESSION_TTL_S", c.session_ttl_s, 60, 366 * 86'400);
    check_range(problems, "STREAMS_MAX", c.streams_max, 0, 100'000);
    check_range(problems, "STREAMS_PER_CREDENTIAL", c.streams_per_credential, 1, 1'000);
    check_range(problems, "STREAM_KEEPALIVE_S", c.stream_keepalive_s, 1, 300);
    check_range(problems, "STREAM_MAX_S", c.stream_max_s, 10, 86'400);
    if (auto web = web::check_web_options({.web_root = c.web_root}); !web) {
      problems.push_back("WEB_ROOT: " + web.error().message);
    }
    if (auto zones = parse_device_zones(c.device_zones); !zones) {
      problems.push_back("DEVICE_ZONES: " + zones.error().message);
    }
    check_range(problems, "HEADER_TIMEOUT_S", c.header_timeout_s, 1, 3'600);
    check_range(problems, "BODY_TIMEOUT_S", c.body_timeout_s, 1, 3'600);
    check_range(problems, "IDLE_TIMEOUT_S", c.idle_timeout_s, 1, 3'600);
    check_range(problems, "IO_THREADS", c.io_threads, 1, 64);
    check_range(problems, "WORKER_THREADS", c.worker_threads, 1, 256);
  }
  if (auto problem = log_level_problem(c.log_level)) problems.push_back(std::move(*problem));
  return problems;
}

Result<std::map<std::string, std::string, std::less<>>> parse_device_zones(std::string_view text) {
  std::map<std::string, std::string, std::less<>> zones;
  for (std::size_t start = 0; start < text.size();) {
    const auto comma = std::min(text.find(',', start), text.size());
    auto entry = text.substr(start, comma - start);
    start = comma + 1;
    while (!entry.empty() && entry.front() == ' ') entry.remove_prefix(1);
    while (!entry.empty() && entry.back() == ' ') entry.remove_suffix(1);
    if (entry.empty()) continue;
    const auto equals = entry.find('=');
    const auto device = entry.substr(0, equals);
    const auto zone =
        equals == std::string_view::npos ? std::string_view{} : entry.substr(equals + 1);
    if (!is_valid_device_id(device) || zone.empty()) {
      return fail("entries are device=Area/City (e.g. roof-1=Europe/Berlin)");
    }
    if (!rollup::find_zone(std::string(zone))) {
      return fail(fmt::format("unknown time zone '{}'", quote_untrusted(zone)));
    }
    zones.insert_or_assign(std::string(device), std::string(zone));
  }
  return zones;
}

std::string redact_url(const std::string& url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string::npos) {
    // Keyword conninfo: "… password=secret …" (quoted values end at the closing quote).
    const auto key = url.find("password=");
    if (key == std::string::npos) return url;
    const auto value = key + 9;
    auto end = value;
    if (end < url.size() && url[end] == '\'') {
      end = url.find('\'', end + 1);
      end = end == std::string::npos ? url.size() : end + 1;
    } else {
      end = url.find(' ', end);
      if (end == std::string::npos) end = url.size();
    }
    return url.substr(0, value) + "***" + url.substr(end);
  }
  const auto authority_start = scheme_end + 3;
  const auto at = url.find('@', authority_start);
  const auto slash = url.find('/', authority_start);
  if (at == std::string::npos || (slash != std::string::npos && at > slash)) return url;
  const auto colon = url.find(':', authority_start);
  if (colon == std::string::npos || colon > at) return url;
  return url.substr(0, colon + 1) + "***" + url.substr(at);
}

}  // namespace sungrow::app
