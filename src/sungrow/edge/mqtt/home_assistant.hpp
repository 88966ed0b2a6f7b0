// The poll loop's side of Home Assistant over MQTT: each poll's sample, a poll failure and the
// edge's health become retained configs, state and availability messages for the publisher.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>

#include "sungrow/core/register_image.hpp"
#include "sungrow/core/sample.hpp"
#include "sungrow/edge/mqtt/counter_guard.hpp"
#include "sungrow/edge/mqtt/discovery.hpp"
#include "sungrow/edge/mqtt/publisher.hpp"
#include "sungrow/edge/normalize/nameplate.hpp"

namespace sungrow::edge {

// What the edge's diagnostic entities show.
struct EdgeHealth {
  std::string_view status;  // ok | degraded | failing
  std::uint64_t spool_depth = 0;
  std::optional<double> oldest_unsent_age_s;
  std::optional<Timestamp> last_upload_at;
  std::uint64_t dead_letters = 0;
};

// Owned by the poll thread; every call returns at once (MqttPublisher::post only swaps a map
// entry), whatever the broker does.
class HomeAssistantFeed {
 public:
  // One failed poll is routine on a WiNet-S (a dropped session costs a cycle); two in a row mean
  // the inverter is not answering, and its entities become unavailable.
  static constexpr int kFailuresBeforeOffline = 2;

  // Posts the edge's own discovery configs.
  HomeAssistantFeed(HaTopics topics, std::chrono::milliseconds poll_interval,
                    MqttPublisher& publisher);

  // A successful poll: announces the inverter once its nameplate is known, publishes the sample
  // (lifetime counters through the CounterGuard) and marks the inverter online.
  void polled(const Sample& stored, const RegisterImage& image);
  void poll_failed();
  void health(const EdgeHealth& health);

 private:
  HaTopics topics_;
  std::chrono::seconds expire_after_;
  MqttPublisher& publisher_;
  std::optional<Nameplate> plate_;
  bool other_plate_logged_ = false;
  CounterGuard guard_;
  std::optional<bool> device_online_;
  int failures_ = 0;
};

}  // namespace sungrow::edge
