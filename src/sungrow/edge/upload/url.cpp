// validate_ingest_url: the HTTPS-only rule (plaintext to loopback alone), checked with Boost.URL;
// plus the token rule and the loopback-host rule config validation shares.
#include <fmt/format.h>

#include <algorithm>
#include <boost/url/ipv4_address.hpp>
#include <boost/url/ipv6_address.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "sungrow/edge/upload/uploader.hpp"

namespace sungrow::edge {

namespace urls = boost::urls;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool is_loopback(const urls::ipv4_address& a) {
  return a.to_bytes()[0] == 127;
}

bool is_loopback(const urls::ipv6_address& a) {
  return a.is_loopback() || (a.is_v4_mapped() && a.to_bytes()[12] == 127);
}

// Only forms that cannot resolve anywhere else count: a name other than "localhost" could be
// pointed at any address by DNS or /etc/hosts.
bool is_loopback_host(const urls::url_view& u) {
  switch (u.host_type()) {
    case urls::host_type::ipv4:
      return is_loopback(u.host_ipv4_address());
    case urls::host_type::ipv6:
      return is_loopback(u.host_ipv6_address());
    case urls::host_type::name:
      return iequals(u.host_name(), "localhost");
    default:
      return false;
  }
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  if (iequals(host, "localhost")) return true;
  if (const auto v4 = urls::parse_ipv4_address(host)) return is_loopback(*v4);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (const auto v6 = urls::parse_ipv6_address(host)) return is_loopback(*v6);
  return false;
}

Result<void> validate_token(std::string_view token) {
  // No message below may quote the token: it is the device's credential.
  if (token.empty()) return fail("ingest token is empty (set VPS_DEVICE_TOKEN)");
  const auto control = [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  };
  if (std::any_of(token.begin(), token.end(), control)) {
    return fail(
        "ingest token (VPS_DEVICE_TOKEN) contains control characters (a stray newline or tab?)");
  }
  if (token.find(' ') != std::string_view::npos) {
    return fail(
        "ingest token (VPS_DEVICE_TOKEN) contains spaces; a bearer token has none (copy-paste "
        "slip?)");
  }
  return {};
}

Result<void> validate_ingest_url(std::string_view url) {
  if (url.empty()) return fail("ingest URL is empty (set VPS_INGEST_URL)");
  const auto parsed = urls::parse_absolute_uri(url);
  if (!parsed) {
    return fail(fmt::format("ingest URL '{}' is not a valid absolute URL: {}", url,
                            parsed.error().message()));
  }
  const urls::url_view& u = *parsed;
  if (u.has_userinfo()) {
    // Checked first, so no later message echoes a URL that holds a password.
    return fail("ingest URL must not carry credentials (user:password@); use the bearer token");
  }
  const bool https = u.scheme_id() == urls::scheme::https;
  const bool http = u.scheme_id() == urls::scheme::http;
  if (!https && !http) {
    return fail(fmt::format("ingest URL '{}' must use https:// (scheme '{}' is not supported)", url,
                            u.scheme()));
  }
  if (!u.has_authority() || u.encoded_host().empty()) {
    return fail(fmt::format("ingest URL '{}' has no host", url));
  }
  // RFC 3986 wants "/" or nothing after the authority. Boost.URL 1.81 accepts
  // "http://127.0.0.1.evil.example/" as host 127.0.0.1 with path ".evil.example/", while curl
  // would resolve the whole name — so a host with trailing junk must not get this far.
  if (const auto path = u.encoded_path(); !path.empty() && path.front() != '/') {
    return fail(fmt::format("ingest URL '{}' is not a valid absolute URL: bad host", url));
  }
  if (u.has_port() && u.port_number() == 0) {
    return fail(fmt::format("ingest URL '{}' has an invalid port", url));
  }
  if (http && !is_loopback_host(u)) {
    return fail(
        fmt::format("ingest URL '{}' uses plaintext http:// to a non-loopback host; use https:// "
                    "(http:// is allowed only for 127.0.0.0/8, [::1] and localhost)",
                    url));
  }
  return {};
}

}  // namespace sungrow::edge
