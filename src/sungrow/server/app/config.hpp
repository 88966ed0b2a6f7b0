// Server configuration: store, cache and token settings plus listen address, limits and timeouts.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sungrow/core/result.hpp"

namespace CLI {
class App;
}

namespace sungrow::app {

// The number of cores (std::thread::hardware_concurrency), between 1 and 4.
int default_io_threads();

struct ServerConfig {
  // Storage and cache. Empty = the embedded defaults: SQLite under data_dir,
  // an in-process cache.
  std::string database_url;
  std::string redis_url;
  std::string device_tokens;       // "token:device_id,…"
  std::string device_tokens_file;  // one pair per line; preferred (no secrets in the process env)
  int cache_ttl_s = 5;             // seconds a realtime entry lives
  int near_cache_ms = 1000;        // with Redis: how long a read sample is kept in process

  std::string listen_addr = "127.0.0.1";  // behind Caddy; set 0.0.0.0 only with a firewall
  int port = 8000;
  std::string data_dir = "/var/lib/sungrow-server";

  // Limits.
  long long ingest_max_bytes = 4 << 20;  // on the wire (gzip or not)
  long long ingest_max_decompressed_bytes = 32 << 20;
  int max_connections = 1024;              // lowered at start to what the descriptor limit allows
  long long body_budget_bytes = 64 << 20;  // request bodies in memory at once, all clients
  std::string trusted_proxies = "127.0.0.0/8,::1";  // whose X-Forwarded-For names the client
  int max_clock_skew_s = 600;   // how far ahead of the server's clock a sample's ts may be
  int auth_failure_limit = 20;  // failed authentications per client per minute; 0: no cool-down
  int auth_cooldown_s = 300;    // how long such a client's failures are answered 429

  // The dashboard.
  std::string viewer_tokens_file;  // "<sha-256> devices" lines (sungrow-server viewer new)
  std::string device_zones;        // "roof-1=Europe/Berlin,garage=Europe/Berlin"
  std::string sites_file;          // "home roof-1=master roof-2=slave" lines; empty: no sites
  int dashboard_stale_after_s = 30;
  int dashboard_offline_after_s = 300;
  int session_ttl_s = 30 * 86'400;
  int streams_max = 256;           // event streams open at once, all clients
  int streams_per_credential = 8;  // event streams open at once per token or session
  int stream_keepalive_s = 15;     // credential and cache re-check, keep-alive comment
  int stream_max_s = 3'600;        // a stream's longest life before the client reconnects
  std::string web_root;  // empty: the dashboard built into the binary; else a dev build's folder
  int header_timeout_s = 10;
  int body_timeout_s = 30;
  int idle_timeout_s = 60;
  // One per core, up to 4: cache-hit reads are answered on the I/O threads (no hop to a worker),
  // so a single one would cap them at one core.
  int io_threads = default_io_threads();
  int worker_threads = 4;
  int pg_pool_size = 4;
  std::string log_level = "info";

  // SQLite file used when database_url is empty.
  std::string sqlite_path() const;
};

// Binds every field to a flag and its environment variable (flag wins over env over default).
void bind_options(CLI::App& app, ServerConfig& config);

enum class ServerNeeds { serve, migrate };

// One clear message per problem; empty when usable. Never quotes a token or a password.
std::vector<std::string> validate(const ServerConfig& config, ServerNeeds needs);

// DEVICE_ZONES: "device=Area/City" entries, comma separated, every zone a known IANA name.
Result<std::map<std::string, std::string, std::less<>>> parse_device_zones(std::string_view text);

// "postgres://user:***@host/db" — for logs.
std::string redact_url(const std::string& url);

}  // namespace sungrow::app
