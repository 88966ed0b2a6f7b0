// MqttPublisher: one MQTT connection on its own thread, fed the latest message per topic by
// callers that never wait for the network.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "sungrow/core/result.hpp"
#include "sungrow/edge/mqtt/mqtt_url.hpp"

namespace sungrow::edge {

struct MqttSettings {
  MqttEndpoint endpoint;
  std::string username;  // empty: anonymous
  std::string password;  // never logged
  std::string ca_file;   // mqtts: trust anchor; empty: the system's store
  std::string client_id;
  // Retained "online" while connected; the broker publishes the retained "offline" last will when
  // the connection dies, and the publisher publishes it itself when it stops.
  std::string status_topic;
  // Whenever "online" arrives here (Home Assistant's birth message), every retained message is
  // sent again: a Home Assistant that lost its state, or a broker without them, gets them back.
  std::string birth_topic;
  std::chrono::seconds keepalive{30};
  std::chrono::milliseconds connect_timeout{10'000};  // TCP, TLS and CONNACK together
  std::chrono::milliseconds backoff_base{1'000};      // reconnect backoff (sungrow::Backoff)
  std::chrono::milliseconds backoff_cap{60'000};
};

struct MqttMessage {
  std::string payload;
  int qos = 0;  // 0 for state: libmosquitto queues QoS > 0 in memory without bound while down
  bool retain = false;
};

struct MqttPublisherStats {
  bool connected = false;
  std::uint64_t connections = 0;      // connections the broker accepted
  std::uint64_t failed_attempts = 0;  // attempts that did not get that far, and lost connections
  std::uint64_t handed_over = 0;      // publishes given to libmosquitto
  std::uint64_t superseded = 0;       // messages replaced by a newer one before they were sent
  std::uint64_t in_flight = 0;        // given to libmosquitto, not yet written (QoS 0) or acked
  std::uint64_t held_bytes = 0;       // payload bytes kept, at most one message per topic
};

// Thread-safe. Every topic holds at most one message at a time, and at most one message per topic
// is inside libmosquitto: a new message replaces an unsent one, and waits for a sent one to be
// written (QoS 0) or acknowledged (QoS 1). Memory is therefore bounded by the number of topics
// whatever the broker does. Retained messages are sent again after every (re)connect.
class MqttPublisher {
 public:
  // Starts the thread, which connects in the background (with backoff) until destroyed.
  static Result<std::unique_ptr<MqttPublisher>> start(MqttSettings settings);
  ~MqttPublisher();  // publishes "offline" on the status topic (waits ≤ 2 s), then disconnects
  MqttPublisher(const MqttPublisher&) = delete;
  MqttPublisher& operator=(const MqttPublisher&) = delete;

  // Takes a lock held only for a map assignment, never the network's time.
  void post(const std::string& topic, MqttMessage message);
  MqttPublisherStats stats() const;

  struct Impl;

 private:
  explicit MqttPublisher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sungrow::edge
