// Discovery payloads written with JsonWriter: one retained config per entity, each complete on its
// own (device block and availability repeated), so Home Assistant may receive them in any order.
#include "sungrow/edge/mqtt/discovery.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <functional>

#include "sungrow/core/json_writer.hpp"
#include "sungrow/core/sample.hpp"

namespace sungrow::edge {
namespace {

constexpr std::string_view kVersion = SUNGROW_VERSION;

struct DeviceBlock {
  std::string identifier;
  std::string name;
  std::string manufacturer;
  std::string model;
  std::string serial_number;  // empty: left out
  std::string sw_version;     // empty: left out
  std::string via_device;     // empty: left out
};

struct Entity {
  std::string_view component;  // sensor | binary_sensor
  std::string node_id;
  std::string field;
  std::string_view name;
  std::string state_topic;
  std::string value_template;
  std::vector<std::string> availability;
  std::chrono::seconds expire_after{};
  bool diagnostic = false;
};

// Entity ids are lower-case [a-z0-9_].
std::string entity_slug(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    } else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      c = '_';
    }
  }
  return out;
}

void write_device(JsonWriter& w, const DeviceBlock& d) {
  w.key("device").begin_object();
  w.key("identifiers").begin_array().value(std::string_view(d.identifier)).end_array();
  w.field("name", std::string_view(d.name))
      .field("manufacturer", std::string_view(d.manufacturer))
      .field("model", std::string_view(d.model));
  if (!d.serial_number.empty()) w.field("serial_number", std::string_view(d.serial_number));
  if (!d.sw_version.empty()) w.field("sw_version", std::string_view(d.sw_version));
  if (!d.via_device.empty()) w.field("via_device", std::string_view(d.via_device));
  w.end_object();
}

// The keys every entity has, around the class keys `classes` writes.
DiscoveryConfig make_config(const Entity& e, const DeviceBlock& device,
                            const std::function<void(JsonWriter&)>& classes,
                            const HaTopics& topics) {
  const auto unique_id = e.node_id + "_" + e.field;
  JsonWriter w;
  w.begin_object()
      .field("name", e.name)
      .field("unique_id", std::string_view(unique_id))
      .field("default_entity_id",
             std::string_view(fmt::format("{}.{}", e.component, entity_slug(unique_id))))
      .field("state_topic", std::string_view(e.state_topic))
      .field("value_template", std::string_view(e.value_template));
  classes(w);
  w.field("expire_after", static_cast<std::int64_t>(e.expire_after.count()));
  w.key("availability").begin_array();
  for (const auto& topic : e.availability)
    w.begin_object().field("topic", std::string_view(topic)).end_object();
  w.end_array().field("availability_mode", "all");
  if (e.diagnostic) w.field("entity_category", "diagnostic");
  write_device(w, device);
  w.key("origin").begin_object().field("name", "sungrow-edge").field("sw_version", kVersion);
  w.end_object().end_object();
  return {
      fmt::format("{}/{}/{}/{}/config", topics.discovery_prefix, e.component, e.node_id, e.field),
      w.take()};
}

void write_sensor_classes(JsonWriter& w, const SensorDef& s) {
  if (!s.device_class.empty()) w.field("device_class", s.device_class);
  if (!s.state_class.empty()) w.field("state_class", s.state_class);
  if (!s.unit.empty()) w.field("unit_of_measurement", s.unit);
  if (s.precision >= 0)
    w.field("suggested_display_precision", static_cast<std::int64_t>(s.precision));
  if (!s.icon.empty()) w.field("icon", s.icon);
}

void write_enum_classes(JsonWriter& w, const std::vector<std::string_view>& options) {
  w.field("device_class", "enum").key("options").begin_array();
  for (const auto option : options) w.value(option);
  w.end_array();
}

std::string member_template(std::string_view member) {
  return fmt::format("{{{{ value_json.{} }}}}", member);
}

std::string inverter_node(const Nameplate& plate) {
  return "sungrow_" + ha_id(plate.serial);
}

std::string edge_node(const HaTopics& topics) {
  return "sungrow_edge_" + ha_id(topics.device_id);
}

DeviceBlock edge_device(const HaTopics& topics) {
  return {.identifier = edge_node(topics),
          .name = "sungrow-edge " + topics.device_id,
          .manufacturer = "sungrow-telemetry",
          .model = "sungrow-edge",
          .serial_number = {},
          .sw_version = std::string(kVersion),
          .via_device = {}};
}

}  // namespace

std::string HaTopics::state() const {
  return fmt::format("{}/{}/state", base, device_id);
}
std::string HaTopics::device_status() const {
  return fmt::format("{}/{}/status", base, device_id);
}
std::string HaTopics::edge_status() const {
  return fmt::format("{}/edge/{}/status", base, device_id);
}
std::string HaTopics::edge_health() const {
  return fmt::format("{}/edge/{}/health", base, device_id);
}
std::string HaTopics::birth() const {
  return discovery_prefix + "/status";
}

std::string ha_id(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) c = '_';
  }
  return out;
}

std::chrono::seconds expire_after_for(std::chrono::milliseconds poll_interval) {
  const auto three = 3 * poll_interval;
  return std::max(std::chrono::seconds{1}, std::chrono::ceil<std::chrono::seconds>(three));
}

std::vector<DiscoveryConfig> inverter_configs(const HaTopics& topics, const Nameplate& plate,
                                              std::chrono::seconds expire_after) {
  const DeviceBlock device{.identifier = inverter_node(plate),
                           .name = fmt::format("Sungrow {} {}", plate.model(), plate.serial),
                           .manufacturer = "Sungrow",
                           .model = plate.model(),
                           .serial_number = plate.serial,
                           .sw_version = {},
                           .via_device = edge_node(topics)};
  const auto entity = [&](std::string_view component, std::string field, std::string_view name,
                          std::string value_template) {
    return Entity{.component = component,
                  .node_id = inverter_node(plate),
                  .field = std::move(field),
                  .name = name,
                  .state_topic = topics.state(),
                  .value_template = std::move(value_template),
                  .availability = {topics.edge_status(), topics.device_status()},
                  .expire_after = expire_after,
                  .diagnostic = false};
  };

  std::vector<DiscoveryConfig> out;
  for (const auto& s : kInverterSensors) {
    out.push_back(make_config(
        entity("sensor", std::string(s.field), s.name, member_template(s.field)), device,
        [&](JsonWriter& w) { write_sensor_classes(w, s); }, topics));
  }

  // Codes not in the table arrive as "unknown (0x….)"; an enum must only ever show its options.
  auto states = running_state_texts();
  states.emplace_back("Unknown");
  out.push_back(make_config(
      entity("sensor", "running_state", "Running state",
             "{% set t = value_json.running_state_text %}"
             "{{ 'Unknown' if t is string and t.startswith('unknown') else t }}"),
      device, [&](JsonWriter& w) { write_enum_classes(w, states); }, topics));

  for (const auto& bit : kPowerFlowBits) {
    // A null power_flow (register not read) must show as unknown, not as off.
    out.push_back(make_config(
        entity("binary_sensor", fmt::format("power_flow_{}", bit.key), bit.label,
               fmt::format("{{{{ 'None' if value_json.power_flow is none else ('ON' if "
                           "value_json.power_flow.{} else 'OFF') }}}}",
                           bit.key)),
        device, [](JsonWriter& w) { w.field("device_class", "power"); }, topics));
  }
  return out;
}

std::vector<DiscoveryConfig> edge_configs(const HaTopics& topics,
                                          std::chrono::seconds expire_after) {
  const auto device = edge_device(topics);
  const auto entity = [&](std::string field, std::string_view name, std::string value_template) {
    return Entity{.component = "sensor",
                  .node_id = edge_node(topics),
                  .field = std::move(field),
                  .name = name,
                  .state_topic = topics.edge_health(),
                  .value_template = std::move(value_template),
                  .availability = {topics.edge_status()},
                  .expire_after = expire_after,
                  .diagnostic = true};
  };
  std::vector<DiscoveryConfig> out;
  const std::vector<std::string_view> statuses{"ok", "degraded", "failing"};
  out.push_back(make_config(
      entity("status", "Health", member_template("status")), device,
      [&](JsonWriter& w) { write_enum_classes(w, statuses); }, topics));
  for (const auto& s : kEdgeSensors) {
    out.push_back(make_config(
        entity(std::string(s.field), s.name, member_template(s.field)), device,
        [&](JsonWriter& w) { write_sensor_classes(w, s); }, topics));
  }
  return out;
}

}  // namespace sungrow::edge
