// Home Assistant MQTT discovery: the topics, the entity tables, and the retained config payloads.
#pragma once

#include <array>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "sungrow/edge/normalize/nameplate.hpp"

namespace sungrow::edge {

// Where everything goes. The edge is named after its device id, the one inverter it polls.
struct HaTopics {
  std::string discovery_prefix = "homeassistant";
  std::string base = "sungrow";
  std::string device_id;

  std::string state() const;          // <base>/<device_id>/state: the sample, once per poll
  std::string device_status() const;  // <base>/<device_id>/status: online while it answers
  std::string edge_status() const;    // <base>/edge/<device_id>/status: the last will
  std::string edge_health() const;    // <base>/edge/<device_id>/health: spool and upload
  std::string birth() const;          // <prefix>/status: Home Assistant's own online/offline
};

// A sensor read from one member of a state JSON. Empty strings leave that key out.
struct SensorDef {
  std::string_view field;  // the JSON member, and the last part of the unique id
  std::string_view name;
  std::string_view device_class;
  std::string_view state_class;
  std::string_view unit;
  int precision = -1;  // suggested_display_precision; -1 leaves it out
  std::string_view icon;
};

// The inverter's numeric sensors, members of the sample JSON. Lifetime counters only: the daily
// ones restart at the inverter's midnight, which Home Assistant would have to guess.
inline constexpr std::array kInverterSensors{
    SensorDef{"pv_power_w", "PV power", "power", "measurement", "W", 0, ""},
    SensorDef{"load_power_w", "Load power", "power", "measurement", "W", 0, ""},
    SensorDef{"grid_power_w", "Grid power (import +)", "power", "measurement", "W", 0, ""},
    SensorDef{"battery_power_w", "Battery power (discharge +)", "power", "measurement", "W", 0, ""},
    SensorDef{"pv_energy_total_kwh", "PV energy", "energy", "total_increasing", "kWh", 1, ""},
    SensorDef{"grid_import_total_kwh", "Grid import", "energy", "total_increasing", "kWh", 1, ""},
    SensorDef{"grid_export_total_kwh", "Grid export", "energy", "total_increasing", "kWh", 1, ""},
    SensorDef{"battery_charge_total_kwh", "Battery charge energy", "energy", "total_increasing",
              "kWh", 1, ""},
    SensorDef{"battery_discharge_total_kwh", "Battery discharge energy", "energy",
              "total_increasing", "kWh", 1, ""},
    SensorDef{"battery_soc_pct", "Battery level", "battery", "measurement", "%", 1, ""},
    SensorDef{"battery_soh_pct", "Battery health", "", "measurement", "%", 0,
              "mdi:battery-heart-variant"},
    SensorDef{"battery_voltage_v", "Battery voltage", "voltage", "measurement", "V", 1, ""},
    SensorDef{"battery_current_a", "Battery current", "current", "measurement", "A", 1, ""},
    SensorDef{"battery_temperature_c", "Battery temperature", "temperature", "measurement", "°C", 1,
              ""},
    SensorDef{"inverter_temperature_c", "Inverter temperature", "temperature", "measurement", "°C",
              1, ""},
    SensorDef{"grid_voltage_v", "Grid voltage", "voltage", "measurement", "V", 1, ""},
    SensorDef{"grid_frequency_hz", "Grid frequency", "frequency", "measurement", "Hz", 2, ""},
    SensorDef{"mppt1_voltage_v", "MPPT1 voltage", "voltage", "measurement", "V", 1, ""},
    SensorDef{"mppt1_current_a", "MPPT1 current", "current", "measurement", "A", 1, ""},
    SensorDef{"mppt2_voltage_v", "MPPT2 voltage", "voltage", "measurement", "V", 1, ""},
    SensorDef{"mppt2_current_a", "MPPT2 current", "current", "measurement", "A", 1, ""},
};

// The edge's own health, members of the health JSON; diagnostic entities of the edge device.
inline constexpr std::array kEdgeSensors{
    SensorDef{"spool_depth", "Spool depth", "", "measurement", "", 0, "mdi:tray-full"},
    SensorDef{"oldest_unsent_age_s", "Oldest unsent sample age", "duration", "measurement", "s", 0,
              ""},
    SensorDef{"last_upload_at", "Last upload", "timestamp", "", "", -1, ""},
    SensorDef{"dead_letters", "Dead letters", "", "measurement", "", 0, "mdi:email-alert"},
};

struct DiscoveryConfig {
  std::string topic;    // <prefix>/<component>/<node id>/<field>/config
  std::string payload;  // JSON, published retained
};

// Home Assistant ids allow [A-Za-z0-9_-]; anything else becomes '_'.
std::string ha_id(std::string_view text);

// Every entity of the inverter named by `plate`: its sensors, running state (an enum) and one
// binary sensor per power-flow bit. Each carries the device block (identifiers from the full
// serial, via the edge) and needs both availability topics.
std::vector<DiscoveryConfig> inverter_configs(const HaTopics& topics, const Nameplate& plate,
                                              std::chrono::seconds expire_after);

// The edge's diagnostic entities, on the edge device; available with the edge.
std::vector<DiscoveryConfig> edge_configs(const HaTopics& topics,
                                          std::chrono::seconds expire_after);

// 3 poll intervals in whole seconds, at least 1 (Home Assistant takes integers; 0 means never).
std::chrono::seconds expire_after_for(std::chrono::milliseconds poll_interval);

}  // namespace sungrow::edge
