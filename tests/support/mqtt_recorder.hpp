// MqttRecorder: a libmosquitto subscriber for tests that records every message it receives, and
// can publish as Home Assistant would (its birth message).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "sungrow/edge/mqtt/mosquitto_handle.hpp"

struct mosquitto_message;

namespace sungrow::test {

struct RecordedMessage {
  std::string topic;
  std::string payload;
  bool retain = false;  // true: a retained message delivered on subscribe
  std::chrono::steady_clock::time_point at;
};

class MqttRecorder {
 public:
  using Messages = std::vector<RecordedMessage>;

  // Connects to the plain listener on 127.0.0.1:`port` and subscribes to `filters` (QoS 1); on a
  // lost connection it reconnects every second and subscribes again. Throws when libmosquitto
  // cannot even start.
  explicit MqttRecorder(std::uint16_t port, std::vector<std::string> filters = {"#"});
  MqttRecorder(const MqttRecorder&) = delete;
  MqttRecorder& operator=(const MqttRecorder&) = delete;
  ~MqttRecorder();

  Messages messages() const;
  // Messages on `topic`, oldest first.
  Messages on(const std::string& topic) const;
  // The newest payload of every topic seen.
  std::map<std::string, std::string> latest() const;
  // Polls `done` over the messages until it returns true or `timeout` passes.
  bool wait_for(const std::function<bool(const Messages&)>& done,
                std::chrono::milliseconds timeout) const;
  // Until connected to the broker with every subscription acknowledged.
  bool wait_connected(std::chrono::milliseconds timeout) const;

  void publish(const std::string& topic, const std::string& payload, bool retain = false);

 private:
  static void on_connect(::mosquitto* m, void* self, int rc);
  static void on_subscribe(::mosquitto* m, void* self, int mid, int count, const int* qos);
  static void on_message(::mosquitto* m, void* self, const ::mosquitto_message* msg);

  std::vector<std::string> filters_;
  mutable std::mutex mutex_;
  Messages messages_;
  int subacks_due_ = 0;  // of the current connection
  int subscribed_ = 0;   // connections whose subscriptions were all acknowledged
  edge::MosquittoHandle client_;
};

}  // namespace sungrow::test
