// parse_redis_url on Boost.URL, with the checks Boost.URL leaves to the application.
#include "sungrow/server/cache/redis_url.hpp"

#include <fmt/format.h>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>
#include <limits>

namespace sungrow::cache {

namespace urls = boost::urls;

namespace {

template <class Int>
bool parse_decimal(std::string_view text, Int& out) {
  if (text.empty()) return false;
  const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), out);
  return err == std::errc{} && end == text.data() + text.size();
}

Result<std::uint32_t> parse_db(std::string_view text) {
  std::uint32_t db = 0;
  // Redis allows up to `databases` (16 by default, configurable); the server refuses a SELECT
  // beyond it with a clear error, so only the form is checked here.
  if (!parse_decimal(text, db) ||
      db > static_cast<std::uint32_t>(std::numeric_limits<int>::max())) {
    return fail(fmt::format("REDIS_URL: database '{}' is not a non-negative integer", text));
  }
  return db;
}

}  // namespace

std::string RedisEndpoint::redacted() const {
  std::string credentials;
  if (!username.empty() || !password.empty()) {
    credentials = fmt::format("{}:{}@", username, password.empty() ? "" : "***");
  }
  if (transport == Transport::unix_socket) {
    return fmt::format("unix://{}{}?db={}", credentials, socket_path, db);
  }
  const bool ipv6 = host.find(':') != std::string::npos;
  return fmt::format("redis://{}{}{}{}:{}/{}", credentials, ipv6 ? "[" : "", host, ipv6 ? "]" : "",
                     port, db);
}

Result<RedisEndpoint> parse_redis_url(std::string_view url) {
  // No message below quotes the whole URL: it may carry the password.
  if (url.empty()) return fail("REDIS_URL is empty");
  const auto parsed = urls::parse_uri(url);
  if (!parsed) {
    return fail(fmt::format(
        "REDIS_URL is not a valid URL ({}); expected redis://[:password@]host:port[/db] or "
        "unix:///path/to/redis.sock",
        parsed.error().message()));
  }
  const urls::url_view& u = *parsed;
  const std::string scheme = u.scheme();
  RedisEndpoint ep;
  if (scheme == "redis") {
    ep.transport = RedisEndpoint::Transport::tcp;
  } else if (scheme == "unix") {
    ep.transport = RedisEndpoint::Transport::unix_socket;
  } else if (scheme == "rediss") {
    return fail(
        "REDIS_URL: rediss:// (TLS) is not supported by hiredis 0.14; reach Redis over loopback, a "
        "unix socket, or a TLS tunnel (stunnel, spiped) and use redis://");
  } else {
    return fail(fmt::format(
        "REDIS_URL: scheme '{}' is not supported; use redis://host:port[/db] or unix:///path",
        scheme));
  }
  if (!u.has_authority()) {
    return fail("REDIS_URL: expected '//' after the scheme (redis://host:port or unix:///path)");
  }
  if (u.has_userinfo()) {
    ep.username = u.user();
    ep.password = u.password();
  }
  if (u.has_fragment()) return fail("REDIS_URL: a '#fragment' has no meaning here");

  const std::string_view path = u.encoded_path();
  if (ep.transport == RedisEndpoint::Transport::unix_socket) {
    if (!u.encoded_host().empty() || u.has_port()) {
      return fail("REDIS_URL: a unix:// URL takes no host or port (unix:///path/to/redis.sock)");
    }
    ep.socket_path = u.path();
    if (ep.socket_path.find('\0') != std::string::npos) {
      return fail("REDIS_URL: the socket path contains a NUL byte");
    }
    if (ep.socket_path.size() < 2 || ep.socket_path.front() != '/') {
      return fail("REDIS_URL: unix:// needs an absolute socket path (unix:///path/to/redis.sock)");
    }
    for (const auto& param : u.params()) {
      if (param.key != "db") {
        return fail(
            fmt::format("REDIS_URL: unknown query parameter '{}' (only db is known)", param.key));
      }
      auto db = parse_db(param.value);
      if (!db) return db.error();
      ep.db = *db;
    }
    return ep;
  }

  if (u.has_query()) return fail("REDIS_URL: redis:// takes no query; put the database in /db");
  if (u.encoded_host().empty()) return fail("REDIS_URL: no host (redis://host:port[/db])");
  // Boost.URL 1.81 reads "redis://127.0.0.1.evil:1" as host 127.0.0.1 and path ".evil:1"; a path
  // that does not start with '/' means the host had trailing junk.
  if (!path.empty() && path.front() != '/') return fail("REDIS_URL: malformed host");
  switch (u.host_type()) {
    case urls::host_type::ipv6:
      ep.host = u.host_address();
      break;
    case urls::host_type::ipv4:
    case urls::host_type::name:
      ep.host = u.host();
      break;
    default:
      return fail("REDIS_URL: unsupported host form (use a name, IPv4, or [IPv6])");
  }
  if (ep.host.find('\0') != std::string::npos)
    return fail("REDIS_URL: the host contains a NUL byte");
  if (u.has_port()) {
    const std::string_view port_text = u.port();
    std::uint32_t port = 0;
    if (!parse_decimal(port_text, port) || port == 0 || port > 65535) {
      return fail(fmt::format("REDIS_URL: port '{}' is not in 1..65535", port_text));
    }
    ep.port = static_cast<std::uint16_t>(port);
  }
  if (path.size() > 1) {
    auto db = parse_db(path.substr(1));
    if (!db) return db.error();
    ep.db = *db;
  }
  return ep;
}

}  // namespace sungrow::cache
