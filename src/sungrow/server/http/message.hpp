// The server's request and response as plain values: handlers never see Beast or a socket.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sungrow::http {

struct Header {
  std::string name;  // as received; compare case-insensitively (header_value does)
  std::string value;
};

struct Request {
  std::string method;  // "GET", "POST", …
  std::string path;    // the target's path, still percent-encoded ("/v1/series")
  std::string query;   // after '?', still percent-encoded; "" when absent
  std::vector<Header> headers;
  std::string body;         // complete; the transport has already enforced the body limit
  std::string remote_addr;  // the peer, "127.0.0.1:53412", for the access log
  // The client's IP address ("203.0.113.7"): the peer's, or, when the peer is a trusted proxy,
  // the address that proxy forwarded (X-Forwarded-For). What per-client limits key on.
  std::string client_addr;

  // The first header named `name` (case-insensitive), "" when absent.
  std::string_view header_value(std::string_view name) const;
};

// A reply that stays open and goes on sending (Server-Sent Events): the transport writes the head
// and the Response's body at once, then asks for more on a fixed rhythm until the stream ends, the
// client goes away or the server stops. The transport owns it and never calls it concurrently.
class EventStream {
 public:
  EventStream() = default;
  EventStream(const EventStream&) = delete;
  EventStream& operator=(const EventStream&) = delete;
  virtual ~EventStream() = default;

  // On an I/O thread, every tick(): must be quick and never block. What to send now ("" for
  // nothing); nullopt ends the stream.
  virtual std::optional<std::string> poll() = 0;
  // On the worker pool, every refresh_interval(): may block briefly (store, cache, credentials).
  // What to send now; nullopt ends the stream. When nothing was sent since the previous refresh,
  // the transport sends a comment so proxies and clients see the connection alive.
  virtual std::optional<std::string> refresh() = 0;

  virtual std::chrono::milliseconds tick() const { return std::chrono::milliseconds{250}; }
  virtual std::chrono::milliseconds refresh_interval() const { return std::chrono::seconds{15}; }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<Header> headers;  // extra headers (Retry-After, WWW-Authenticate, …)
  // Set (with status 200): the body is the stream's beginning and the reply goes on (see
  // EventStream). Never kept alive for another request afterwards.
  std::shared_ptr<EventStream> stream = nullptr;
};

// {"error":code,"detail":detail}: the shape of every error reply's body.
std::string error_body(std::string_view code, std::string_view detail);

// error_body(code, detail) with `status`.
Response error_response(int status, std::string_view code, std::string_view detail);

// A JSON body with status 200 (or `status`).
Response json_response(std::string body, int status = 200);

// Handlers may block (store and cache calls): the transport runs them on a worker pool, never on
// an I/O thread. They must not throw for expected failures; anything thrown becomes a 500.
using Handler = std::function<Response(const Request&)>;

}  // namespace sungrow::http
