// The dashboard's sign-in: viewer tokens exchanged for session cookies, sessions checked on every
// read, and /v1/me telling the page what it may show.
#include <boost/json/parse.hpp>
#include <cctype>
#include <charconv>

#include "sungrow/core/json_writer.hpp"
#include "sungrow/core/logger.hpp"
#include "sungrow/server/api/api.hpp"
#include "sungrow/server/http/cookies.hpp"

namespace sungrow::api {

namespace {

using http::error_response;
using http::json_response;

spdlog::logger& log() {
  return component_logger("api");
}

// A session body is one token: anything much longer is not a sign-in.
constexpr std::size_t kMaxSessionBody = 2048;

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// host[:port] of an Origin ("https://host:8443" → "host:8443"); empty when it has no scheme.
std::string_view origin_authority(std::string_view origin) {
  const auto scheme = origin.find("://");
  if (scheme == std::string_view::npos) return {};
  auto rest = origin.substr(scheme + 3);
  return rest.substr(0, rest.find('/'));
}

// A request a browser sent from another site. Browsers send Origin on every POST and DELETE; the
// proxy in front keeps Host. Scheme is not compared: behind Caddy the server sees plain http.
bool cross_origin(const http::Request& request) {
  const auto origin = request.header_value("Origin");
  if (origin.empty()) return false;
  return lower(origin_authority(origin)) != lower(request.header_value("Host"));
}

bool loopback_host(std::string_view host) {
  const auto name =
      host.starts_with('[') ? host.substr(0, host.find(']') + 1) : host.substr(0, host.rfind(':'));
  return name == "localhost" || name == "[::1]" || name.starts_with("127.");
}

// Plain http on loopback (the demo, a developer) cannot keep a Secure cookie; everything else,
// including anything a proxy forwarded, gets the __Host- prefix and Secure.
bool secure_cookie(const http::Request& request) {
  return !(loopback_host(request.header_value("Host")) &&
           request.header_value("X-Forwarded-Proto").empty() &&
           (request.client_addr.starts_with("127.") || request.client_addr == "::1"));
}

http::Response cross_origin_refusal() {
  return error_response(403, "cross_origin", "requests from another site are refused");
}

}  // namespace

std::optional<std::string_view> session_cookie_of(const http::Request& request) {
  const auto header = request.header_value("Cookie");
  if (header.empty()) return std::nullopt;
  if (auto secure = http::cookie_value(header, kSecureSessionCookie)) return secure;
  return http::cookie_value(header, kPlainSessionCookie);
}

auth::AuthResult Api::session_credential(std::string_view session_id,
                                         std::optional<std::string_view> device) {
  auth::AuthResult out;
  out.code = "unauthorized";
  out.reason = "session";
  out.detail = "the session has ended; sign in again";
  const auto& dashboard = options_.dashboard;
  if (dashboard.sessions == nullptr || dashboard.viewers == nullptr) return out;
  const auto found = dashboard.sessions->find_session(auth::to_hex(auth::token_digest(session_id)),
                                                      options_.now());
  if (!found) {
    log().warn("session lookup failed: {}", found.error().message);
    out.status = 503;
    out.code = "store_unavailable";
    out.detail = "the store is temporarily unavailable; retry later";
    out.reason = "other";
    out.retry_after_s = static_cast<int>(options_.retry_after.count());
    return out;
  }
  if (!found.value()) return out;
  // Checked against the viewer file as it is now: a revoked viewer's sessions end with it.
  const auto viewer = auth::digest_from_hex(found.value()->viewer_digest);
  const auto viewers = dashboard.viewers->current();
  const auto* entry = viewer ? viewers->find(*viewer) : nullptr;
  if (entry == nullptr) return out;
  return auth::granted(*entry, auth::CredentialKind::viewer, device);
}

std::optional<http::Response> Api::session_guard(const http::Request& head) {
  if (cross_origin(head)) return cross_origin_refusal();
  if (!lower(head.header_value("Content-Type")).starts_with("application/json")) {
    return error_response(415, "unsupported_media_type", "Content-Type must be application/json");
  }
  const auto length = head.header_value("Content-Length");
  std::size_t bytes = 0;
  const auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), bytes);
  if (length.empty() || ec != std::errc{} || end != length.data() + length.size() ||
      bytes > kMaxSessionBody) {
    return error_response(413, "body_too_large",
                          "a sign-in body is one token, sent with a Content-Length");
  }
  return std::nullopt;
}

http::Response Api::open_session(const http::Request& request) {
  if (cross_origin(request)) return cross_origin_refusal();
  const auto type = lower(request.header_value("Content-Type"));
  if (!type.starts_with("application/json")) {
    return error_response(415, "unsupported_media_type", "Content-Type must be application/json");
  }
  if (request.body.size() > kMaxSessionBody) {
    return error_response(413, "body_too_large", "a sign-in body is one token");
  }
  boost::system::error_code ec;
  const auto body = boost::json::parse(request.body, ec);
  const auto* object = ec ? nullptr : body.if_object();
  const auto* token = object != nullptr ? object->if_contains("token") : nullptr;
  if (token == nullptr || !token->is_string() || token->get_string().empty()) {
    return error_response(400, "invalid_body", R"(the body must be {"token": "<viewer token>"})");
  }
  const std::string_view presented = token->get_string();
  const auto& dashboard = options_.dashboard;
  const auto viewers = dashboard.viewers != nullptr ? dashboard.viewers->current() : nullptr;
  const auto* entry = viewers != nullptr ? viewers->find(auth::token_digest(presented)) : nullptr;
  if (entry == nullptr || dashboard.sessions == nullptr) {
    // Counted and throttled like any wrong token; a device's token does not open sessions either.
    http::Request as_bearer = request;
    as_bearer.headers = {{"Authorization", "Bearer " + std::string(presented)}};
    auto refused = authenticate(as_bearer);
    if (refused.ok()) {
      refused.status = 401;
      refused.code = "unauthorized";
      refused.detail = "not a viewer token: only viewer tokens open dashboard sessions";
    } else if (refused.status != 429) {
      refused.detail = "unknown viewer token";
    }
    refused.www_authenticate.clear();
    auto reply = error_response(refused.status, refused.code, refused.detail);
    if (refused.retry_after_s > 0) {
      reply.headers.push_back({"Retry-After", std::to_string(refused.retry_after_s)});
    }
    return reply;
  }
  const std::string session_id = auth::new_token();
  const auto now = options_.now();
  if (auto saved = dashboard.sessions->save_session(auth::to_hex(auth::token_digest(session_id)),
                                                    auth::to_hex(entry->digest), now,
                                                    now + dashboard.session_ttl);
      !saved) {
    return store_failure(saved.error(), "sign-in");
  }
  JsonWriter w;
  w.begin_object().key("devices").begin_array();
  for (const auto& device : entry->devices) w.value(std::string_view(device));
  w.end_array().end_object();
  auto reply = json_response(w.take());
  const bool secure = secure_cookie(request);
  reply.headers.push_back(
      {"Set-Cookie", http::session_cookie(secure ? kSecureSessionCookie : kPlainSessionCookie,
                                          session_id, dashboard.session_ttl, secure)});
  return reply;
}

http::Response Api::close_session(const http::Request& request) {
  if (cross_origin(request)) return cross_origin_refusal();
  if (const auto id = session_cookie_of(request); id && options_.dashboard.sessions != nullptr) {
    if (auto gone =
            options_.dashboard.sessions->delete_session(auth::to_hex(auth::token_digest(*id)));
        !gone) {
      return store_failure(gone.error(), "sign-out");
    }
  }
  http::Response reply{.status = 204, .content_type = "", .body = "", .headers = {}};
  const bool secure = secure_cookie(request);
  reply.headers.push_back(
      {"Set-Cookie", http::session_cookie(secure ? kSecureSessionCookie : kPlainSessionCookie, "",
                                          std::chrono::seconds{0}, secure)});
  return reply;
}

http::Response Api::me(const http::Request& request) {
  const auto auth = authenticate(request);
  if (!auth.ok()) {
    auto r = error_response(auth.status, auth.code, auth.detail);
    if (auth.retry_after_s > 0)
      r.headers.push_back({"Retry-After", std::to_string(auth.retry_after_s)});
    return r;
  }
  const auto& dashboard = options_.dashboard;
  JsonWriter w;
  w.begin_object()
      .field("kind", auth.kind == auth::CredentialKind::viewer ? "viewer" : "device")
      .key("devices")
      .begin_array();
  for (const auto& device : auth.devices) {
    w.begin_object().field("device_id", std::string_view(device)).key("tz");
    if (const auto zone = dashboard.device_zones.find(device);
        zone != dashboard.device_zones.end()) {
      w.value(std::string_view(zone->second));
    } else {
      w.null();
    }
    w.end_object();
  }
  w.end_array().key("sites").begin_array();
  if (options_.sites != nullptr) {
    for (const auto* site : options_.sites->held_by(auth.devices)) {
      w.begin_object().field("site_id", std::string_view(site->id)).key("devices").begin_array();
      for (const auto& d : site->devices) {
        w.begin_object()
            .field("device_id", std::string_view(d.device_id))
            .field("role", sites::to_string(d.role))
            .end_object();
      }
      w.end_array().end_object();
    }
  }
  w.end_array()
      .field("stale_after_s", std::int64_t{dashboard.stale_after.count()})
      .field("offline_after_s", std::int64_t{dashboard.offline_after.count()})
      .end_object();
  return json_response(w.take());
}

}  // namespace sungrow::api
