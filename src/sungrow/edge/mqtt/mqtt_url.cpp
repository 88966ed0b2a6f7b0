// MQTT_URL parsing with Boost.URL, topic prefix rules and the password file.
#include "sungrow/edge/mqtt/mqtt_url.hpp"

#include <fmt/format.h>

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <fstream>
#include <utility>

namespace sungrow::edge {

namespace urls = boost::urls;

std::string MqttEndpoint::text() const {
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}", tls ? "mqtts" : "mqtt", v6 ? "[" : "", host, v6 ? "]" : "",
                     port);
}

Result<MqttEndpoint> parse_mqtt_url(std::string_view url) {
  const auto parsed = urls::parse_absolute_uri(url);
  // Not echoed: a mistyped URL may still hold a password.
  if (!parsed) return fail("is not a URL (expected mqtt://host:1883 or mqtts://host:8883)");
  const urls::url_view& u = *parsed;
  MqttEndpoint e;
  const std::string_view scheme = u.scheme();
  if (scheme == "mqtts") {
    e.tls = true;
    e.port = 8883;
  } else if (scheme != "mqtt") {
    return fail(fmt::format("scheme must be mqtt:// or mqtts://, got {}://", scheme));
  }
  if (u.has_userinfo())
    return fail(
        "must not carry credentials: put the user in MQTT_USERNAME and the password in a file "
        "named by MQTT_PASSWORD_FILE");
  if (u.encoded_host().empty()) return fail("needs a host, e.g. mqtt://192.168.1.10:1883");
  if ((!u.path().empty() && u.path() != "/") || u.has_query() || u.has_fragment())
    return fail("takes no path, query or fragment (topics are set by MQTT_BASE_TOPIC)");
  if (u.has_port()) {
    // port_number() wraps or zeroes what does not fit, so compare the text it round-trips to.
    const std::string_view port = u.port();
    if (u.port_number() == 0 || port != std::to_string(u.port_number()))
      return fail(fmt::format("port must be 1–65535, got '{}'", port));
    e.port = u.port_number();
  }
  e.host = u.host_type() == urls::host_type::ipv6 ? std::string(u.host_address())
                                                  : std::string(u.host());
  return e;
}

std::optional<std::string> topic_prefix_problem(std::string_view prefix) {
  if (prefix.empty()) return "must not be empty";
  if (prefix.size() > 128) return "must be at most 128 characters";
  if (prefix.front() == '/' || prefix.back() == '/') return "must not start or end with '/'";
  if (prefix.find("//") != std::string_view::npos) return "must not hold an empty level ('//')";
  if (prefix.find_first_of("+#") != std::string_view::npos)
    return "must not hold the wildcards '+' or '#'";
  for (const char c : prefix)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
      return "must not hold control characters";
  return std::nullopt;
}

Result<std::string> read_password_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(fmt::format("MQTT_PASSWORD_FILE {} is not readable", path));
  std::string password;
  std::getline(in, password);
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) return fail(fmt::format("MQTT_PASSWORD_FILE {} is empty", path));
  return Result<std::string>{boost::system::in_place_value, std::move(password)};
}

}  // namespace sungrow::edge
