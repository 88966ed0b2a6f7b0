// The MQTT settings' text rules: MQTT_URL, topic prefixes and the password file, checked before
// anything connects.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sungrow/core/result.hpp"

namespace sungrow::edge {

struct MqttEndpoint {
  std::string host;  // a name or an address, without brackets
  std::uint16_t port = 1883;
  bool tls = false;  // mqtts://: TLS with the broker's certificate always verified

  // "mqtts://broker:8883" — for logs; never holds credentials.
  std::string text() const;
  bool operator==(const MqttEndpoint&) const = default;
};

// mqtt://host[:port] (port 1883) or mqtts://host[:port] (port 8883). Credentials in the URL are
// refused: they would end up in logs and process listings; MQTT_USERNAME and MQTT_PASSWORD_FILE
// carry them.
Result<MqttEndpoint> parse_mqtt_url(std::string_view url);

// A topic prefix (MQTT_DISCOVERY_PREFIX, MQTT_BASE_TOPIC): one or more non-empty levels, no
// wildcards, no leading or trailing '/'. nullopt when usable, else why not.
std::optional<std::string> topic_prefix_problem(std::string_view prefix);

// The password: the file's first line (a trailing newline is not part of it). Fails for an
// unreadable or empty file; the message names the file, never its content.
Result<std::string> read_password_file(const std::string& path);

}  // namespace sungrow::edge
