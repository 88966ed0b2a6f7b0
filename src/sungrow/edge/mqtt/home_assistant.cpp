// HomeAssistantFeed: nameplate → configs, guarded sample → state, poll results → availability.
#include "sungrow/edge/mqtt/home_assistant.hpp"

#include <spdlog/spdlog.h>

#include "sungrow/core/json_writer.hpp"
#include "sungrow/core/logger.hpp"
#include "sungrow/core/sample_json.hpp"

namespace sungrow::edge {

namespace {
spdlog::logger& log() {
  return component_logger("mqtt");
}
}  // namespace
namespace {

MqttMessage retained(std::string payload) {
  return MqttMessage{std::move(payload), 1, true};
}

}  // namespace

HomeAssistantFeed::HomeAssistantFeed(HaTopics topics, std::chrono::milliseconds poll_interval,
                                     MqttPublisher& publisher)
    : topics_(std::move(topics)),
      expire_after_(expire_after_for(poll_interval)),
      publisher_(publisher) {
  for (auto& c : edge_configs(topics_, expire_after_))
    publisher_.post(c.topic, retained(std::move(c.payload)));
}

void HomeAssistantFeed::polled(const Sample& stored, const RegisterImage& image) {
  if (const auto plate = read_nameplate(image)) {
    if (!plate_) {
      plate_ = *plate;
      auto configs = inverter_configs(topics_, *plate_, expire_after_);
      log().info("Home Assistant: announcing {} serial {} ({} entities)", plate_->model(),
                 plate_->serial, configs.size());
      for (auto& c : configs) publisher_.post(c.topic, retained(std::move(c.payload)));
    } else if (plate->serial != plate_->serial && !other_plate_logged_) {
      other_plate_logged_ = true;
      log().warn(
          "Home Assistant: the inverter now reports serial {}, announced as {}; restart "
          "sungrow-edge to announce the new one",
          plate->serial, plate_->serial);
    }
  }

  Sample published = stored;
  for (const auto& line : guard_.apply(published))
    log().warn("Home Assistant: lifetime counter {}", line);
  publisher_.post(topics_.state(), MqttMessage{to_json_text(published), 0, false});

  failures_ = 0;
  if (device_online_ != true) {
    device_online_ = true;
    publisher_.post(topics_.device_status(), retained("online"));
  }
}

void HomeAssistantFeed::poll_failed() {
  if (++failures_ < kFailuresBeforeOffline || device_online_ == false) return;
  device_online_ = false;
  publisher_.post(topics_.device_status(), retained("offline"));
}

void HomeAssistantFeed::health(const EdgeHealth& h) {
  JsonWriter w;
  w.begin_object()
      .field("status", h.status)
      .field("spool_depth", static_cast<std::int64_t>(h.spool_depth))
      .field("oldest_unsent_age_s", h.oldest_unsent_age_s)
      .key("last_upload_at");
  if (h.last_upload_at) {
    w.value(std::string_view(format_rfc3339(*h.last_upload_at)));
  } else {
    w.null();
  }
  w.field("dead_letters", static_cast<std::int64_t>(h.dead_letters)).end_object();
  publisher_.post(topics_.edge_health(), MqttMessage{w.take(), 0, false});
}

}  // namespace sungrow::edge
