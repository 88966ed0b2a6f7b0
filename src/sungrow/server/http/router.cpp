// Exact-path routing with 404/405 replies in the project's JSON error shape.
#include "sungrow/server/http/router.hpp"

#include <algorithm>
#include <stdexcept>

namespace sungrow::http {

Router& Router::add(std::string method, std::string path, Handler handler, std::string route) {
  if (method.empty() || path.empty()) {
    throw std::invalid_argument("http::Router: a route needs a method and a path");
  }
  if (!handler) throw std::invalid_argument("http::Router: empty handler for " + path);
  const bool taken = std::any_of(routes_.begin(), routes_.end(), [&](const Route& r) {
    return r.method == method && r.path == path;
  });
  if (taken) throw std::invalid_argument("http::Router: duplicate route " + method + " " + path);
  if (route.empty()) route = path;
  routes_.push_back(
      Route{std::move(method), std::move(path), std::move(route), std::move(handler)});
  return *this;
}

RouteMatch Router::match(std::string_view method, std::string_view path) const {
  const Route* same_path = nullptr;
  std::string allow;
  for (const Route& r : routes_) {
    if (r.path != path) continue;
    // Methods are case-sensitive (RFC 9110 §9.1): "get" is not GET.
    if (r.method == method) return RouteMatch{.route = r.name, .handler = &r.handler, .error = {}};
    if (same_path == nullptr) same_path = &r;
    if (!allow.empty()) allow += ", ";
    allow += r.method;
  }
  if (same_path == nullptr) {
    return RouteMatch{.route = kUnmatchedRoute,
                      .handler = nullptr,
                      .error = error_response(404, "not_found", "no such path")};
  }
  Response error = error_response(405, "method_not_allowed", "allowed: " + allow);
  error.headers.push_back(Header{.name = "Allow", .value = allow});
  return RouteMatch{.route = same_path->name, .handler = nullptr, .error = std::move(error)};
}

Response Router::dispatch(const Request& request) const {
  RouteMatch m = match(request.method, request.path);
  if (m.handler == nullptr) return std::move(m.error);
  return (*m.handler)(request);
}

}  // namespace sungrow::http
