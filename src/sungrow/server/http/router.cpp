// Exact-path routing with 404/405 replies in the project's JSON error shape.
#include "sungrow/server/http/router.hpp"

#include <algorithm>
#include <stdexcept>

namespace sungrow::http {

Router& Router::add(std::string method, std::string path, Handler handler, std::string route) {
  return add(
      std::move(method), std::move(path), std::move(handler),
      RouteOptions{
          .name = std::move(route), .takes_body = std::nullopt, .guard = {}, .fast_path = {}});
}

Router& Router::add(std::string method, std::string path, Handler handler, RouteOptions options) {
  if (method.empty() || path.empty()) {
    throw std::invalid_argument("http::Router: a route needs a method and a path");
  }
  if (!handler) throw std::invalid_argument("http::Router: empty handler for " + path);
  const bool taken = std::any_of(routes_.begin(), routes_.end(), [&](const Route& r) {
    return r.method == method && r.path == path;
  });
  if (taken) throw std::invalid_argument("http::Router: duplicate route " + method + " " + path);
  if (options.name.empty()) options.name = path;
  const bool takes_body =
      options.takes_body.value_or(method == "POST" || method == "PUT" || method == "PATCH");
  routes_.push_back(Route{std::move(method), std::move(path), std::move(options.name),
                          std::move(handler), takes_body, std::move(options.guard),
                          std::move(options.fast_path)});
  return *this;
}

RouteMatch Router::match(std::string_view method, std::string_view path) const {
  const Route* same_path = nullptr;
  std::string allow;
  for (const Route& r : routes_) {
    if (r.path != path) continue;
    // Methods are case-sensitive (RFC 9110 §9.1): "get" is not GET.
    if (r.method == method) {
      return RouteMatch{.route = r.name,
                        .handler = &r.handler,
                        .error = {},
                        .takes_body = r.takes_body,
                        .guard = r.guard ? &r.guard : nullptr,
                        .fast_path = r.fast_path ? &r.fast_path : nullptr};
    }
    if (same_path == nullptr) same_path = &r;
    if (!allow.empty()) allow += ", ";
    allow += r.method;
  }
  if (same_path == nullptr) {
    return RouteMatch{.route = kUnmatchedRoute,
                      .handler = nullptr,
                      .error = error_response(404, "not_found", "no such path"),
                      .takes_body = false,
                      .guard = nullptr,
                      .fast_path = nullptr};
  }
  Response error = error_response(405, "method_not_allowed", "allowed: " + allow);
  error.headers.push_back(Header{.name = "Allow", .value = allow});
  return RouteMatch{.route = same_path->name,
                    .handler = nullptr,
                    .error = std::move(error),
                    .takes_body = false,
                    .guard = nullptr,
                    .fast_path = nullptr};
}

Response Router::dispatch(const Request& request) const {
  RouteMatch m = match(request.method, request.path);
  if (m.handler == nullptr) return std::move(m.error);
  if (m.guard != nullptr) {
    if (auto refused = (*m.guard)(request)) return std::move(*refused);
  }
  if (m.fast_path != nullptr) {
    if (auto answered = (*m.fast_path)(request)) return std::move(*answered);
  }
  return (*m.handler)(request);
}

}  // namespace sungrow::http
