// Request/response conversion and the response headers the transport always owns.
#include "sungrow/server/http/beast_message.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/field.hpp>

#include "sungrow/core/logger.hpp"
#include "sungrow/server/http/request_head.hpp"

namespace sungrow::http::detail {

namespace {
spdlog::logger& log() {
  return component_logger("http");
}
}  // namespace

namespace bhttp = boost::beast::http;

namespace {

constexpr std::array<std::string_view, 7> kTransportOwned{
    "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
    "server",         "content-type"};

bool transport_owned(std::string_view name) {
  return std::any_of(kTransportOwned.begin(), kTransportOwned.end(),
                     [&](std::string_view owned) { return boost::beast::iequals(owned, name); });
}

bool has_forbidden_byte(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

bool is_json(std::string_view content_type) {
  return boost::beast::iequals(content_type.substr(0, 16), "application/json");
}

}  // namespace

Request to_request_head(const BeastRequest& head, std::string remote_addr,
                        std::string client_addr) {
  Request out;
  out.method = std::string(head.method_string());
  if (auto target = split_target(head.target())) {
    out.path = std::move(target->path);
    out.query = std::move(target->query);
  } else {
    out.path = std::string(head.target());
  }
  for (const auto& field : head) {
    out.headers.push_back(
        Header{.name = std::string(field.name_string()), .value = std::string(field.value())});
  }
  out.remote_addr = std::move(remote_addr);
  out.client_addr = std::move(client_addr);
  return out;
}

BeastResponse to_beast(Response&& response, unsigned version, bool keep_alive, bool head) {
  if (response.status < 200 || response.status > 599) {
    log().error("a handler answered with status {}; sending 500 instead", response.status);
    response = error_response(500, "internal", "the handler produced an invalid status");
  }
  BeastResponse out{static_cast<bhttp::status>(response.status), version};
  out.set(bhttp::field::server, "sungrow-server");
  // 204 and 304 carry no body by definition; Beast refuses to frame one.
  const bool bodiless = response.status == 204 || response.status == 304;
  if (!bodiless && !response.content_type.empty()) {
    out.set(bhttp::field::content_type, response.content_type);
  }
  bool cache_control = false;
  for (auto& header : response.headers) {
    if (header.name.empty() || has_forbidden_byte(header.name) ||
        has_forbidden_byte(header.value)) {
      log().warn("dropped a response header with an empty name or a CR/LF/NUL byte");
      continue;
    }
    if (transport_owned(header.name)) continue;
    if (boost::beast::iequals(header.name, "cache-control")) cache_control = true;
    out.insert(header.name, header.value);
  }
  if (!cache_control && is_json(response.content_type)) {
    out.set(bhttp::field::cache_control, "no-store");
  }
  out.keep_alive(keep_alive);
  if (bodiless) return out;
  if (head) {
    out.content_length(response.body.size());
    return out;
  }
  out.body() = std::move(response.body);
  out.prepare_payload();
  return out;
}

}  // namespace sungrow::http::detail
