// HttpServer: the HTTP/1.1 transport (Beast on Asio coroutines) in front of a Router.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "sungrow/core/result.hpp"
#include "sungrow/server/http/router.hpp"
#include "sungrow/server/http/server_options.hpp"

namespace sungrow::metrics {
class Metrics;
}

namespace sungrow::http {

// Listens from start() until stop() (or destruction). I/O threads only read, parse and write;
// every handler runs on a separate worker pool. Each finished request is observed in `metrics`
// under its route name and written to the access log (spdlog, info).
class HttpServer {
 public:
  // Binds and starts listening, the I/O threads and the worker pool. Invalid options or a bind
  // failure (address in use, no permission) are an Error naming the address and the reason.
  // `metrics` must outlive the server.
  static Result<std::unique_ptr<HttpServer>> start(ServerOptions options, Router router,
                                                   metrics::Metrics& metrics);

  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  ~HttpServer();  // stop()

  // Graceful shutdown; blocking, idempotent, safe from any thread except a handler's. Stops
  // accepting (new connections are refused), closes idle keep-alive connections, lets requests
  // in flight finish and answers them with `Connection: close`; after drain_timeout the
  // remaining connections are closed. Returns once every thread has been joined (a handler
  // still running is waited for: a thread cannot be interrupted).
  void stop();

  std::uint16_t port() const;  // the bound port (the ephemeral one when options.port was 0)
  std::size_t connection_count() const;  // open connections (those answered 503 not counted)
  std::vector<std::thread::id> io_thread_ids() const;  // for checking handlers run elsewhere
  // Request-body bytes read since start: the app returns freed memory to the system after bursts.
  std::uint64_t body_bytes_read() const;

 private:
  struct Impl;
  explicit HttpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sungrow::http
