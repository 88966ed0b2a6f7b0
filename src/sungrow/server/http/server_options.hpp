// ServerOptions: where the HTTP server listens and the limits that protect it from clients.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sungrow/core/result.hpp"

namespace sungrow::http {

struct ServerOptions {
  std::string listen_address = "0.0.0.0";  // an IPv4 or IPv6 literal; "::" listens dual-stack
  std::uint16_t port = 8080;               // 0: an ephemeral port (HttpServer::port() tells)

  std::size_t io_threads = 1;      // sockets and parsing only; handlers never run here
  std::size_t worker_threads = 4;  // the pool that runs handlers (blocking store/cache calls)

  // INGEST_MAX_BYTES: a larger Content-Length is refused with 413 before the body is read; a
  // chunked body is cut off with 413 as soon as it passes the limit.
  std::size_t max_body_bytes = 4 * 1024 * 1024;
  std::uint32_t max_header_bytes = 8 * 1024;  // request line + headers; beyond → 431

  // From the connection's accept (or a keep-alive request's first byte) to the end of the
  // headers: a client trickling headers is closed when it runs out.
  std::chrono::milliseconds header_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds body_timeout{std::chrono::seconds(30)};   // the whole body
  std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};  // the whole response
  // A keep-alive connection waiting for its next request is closed after this.
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(60)};
  // stop(): how long in-flight requests may take to finish before their connections are closed.
  std::chrono::milliseconds drain_timeout{std::chrono::seconds(10)};

  // Connections beyond this are accepted, answered 503 {"error":"overloaded"} with
  // Connection: close and Retry-After, and closed — a clear answer rather than a silent hang in
  // the kernel's backlog. The app lowers it to what the descriptor limit allows.
  std::size_t max_connections = 1024;

  // Request bodies held in memory at once, all connections together. A body is counted (its
  // Content-Length, or max_body_bytes when chunked) before its first byte is read; one that does
  // not fit is answered 503 + Retry-After instead, so no number of clients can make bodies take
  // more memory than this.
  std::size_t max_body_bytes_in_flight = 64 * 1024 * 1024;

  // Peers whose X-Forwarded-For names the client (addresses or networks, comma separated): a
  // proxy on this host by default. Request::client_addr is what per-client limits key on.
  std::string trusted_proxies = "127.0.0.0/8,::1";

  // Connections being answered 503 at one time; more are closed without an answer, so a flood
  // cannot spend the descriptors kept in reserve for answering.
  static constexpr std::size_t kMaxRefusalsInFlight = 64;
};

// One Error per problem (zero thread counts, zero limits or deadlines, a bad listen address),
// each naming the setting; empty when the options can start a server.
std::vector<Error> problems(const ServerOptions& options);

}  // namespace sungrow::http
