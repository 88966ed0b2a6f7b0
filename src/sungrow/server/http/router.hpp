// Router: exact (method, path) routes to handlers, with the route name metrics and logs use.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sungrow/server/http/message.hpp"

namespace sungrow::http {

// The metrics/log route of a request that matched no path: one label for every unknown path, so
// a scanner cannot grow the label set.
inline constexpr std::string_view kUnmatchedRoute = "unmatched";
// The route of what the transport refused before routing: a malformed request line or headers,
// headers over the limit.
inline constexpr std::string_view kInvalidRoute = "invalid";
// The route of connections refused with 503 because the connection cap was reached.
inline constexpr std::string_view kOverloadedRoute = "overloaded";

// Runs on an I/O thread right after a request's headers, before any byte of its body is read
// and before any `100 Continue`: a request it refuses (the reply it returns) costs the server no
// body memory. Sees the request without its body. Must be quick and must never block.
using HeadGuard = std::function<std::optional<Response>(const Request& head)>;

// Runs on an I/O thread after the whole request is read, before the handler: returns the reply
// when it can be made without blocking (no store, no network, only short locks), or nullopt to
// hand the request to the handler on the worker pool. Spares the hottest reads two thread hops.
using FastPath = std::function<std::optional<Response>(const Request& request)>;

struct RouteOptions {
  std::string name;  // in metrics and the access log; empty: the path
  // Whether the route reads a request body. A request with a body to a route that takes none is
  // refused with 413 before the body is read. Default: POST, PUT and PATCH take one.
  std::optional<bool> takes_body;
  HeadGuard guard;     // optional
  FastPath fast_path;  // optional
};

// What routing decided: either a handler to run, or a finished error reply (404/405).
struct RouteMatch {
  std::string_view route;            // the route's name, or kUnmatchedRoute
  const Handler* handler = nullptr;  // null when `error` is the reply
  Response error;
  bool takes_body = false;
  const HeadGuard* guard = nullptr;     // null: no guard
  const FastPath* fast_path = nullptr;  // null: none
};

// Built once at start-up, then only read (safe to share between threads without locking).
class Router {
 public:
  // Registers `handler` for exactly `method` and `path` (no patterns, no trailing-slash folding).
  // `route` names the route in metrics and the access log; empty means `path`. Throws
  // std::invalid_argument on a duplicate (method, path) or an empty method/path: a programming
  // error at start-up, not a runtime condition.
  Router& add(std::string method, std::string path, Handler handler, std::string route = {});
  Router& add(std::string method, std::string path, Handler handler, RouteOptions options);

  // Unknown path → 404 not_found; known path, other method → 405 method_not_allowed with an
  // `Allow` header listing the path's methods.
  RouteMatch match(std::string_view method, std::string_view path) const;

  // Runs the matched route's guard, fast path and handler (or returns the error reply): for tests
  // and callers without a worker pool. Exceptions from the handler propagate.
  Response dispatch(const Request& request) const;

 private:
  struct Route {
    std::string method;
    std::string path;
    std::string name;
    Handler handler;
    bool takes_body;
    HeadGuard guard;
    FastPath fast_path;
  };
  std::vector<Route> routes_;  // a handful of routes: a linear scan beats any map here
};

}  // namespace sungrow::http
