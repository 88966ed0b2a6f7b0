// The rules as data: the keys Home Assistant's MQTT sensor and binary_sensor take, and its sensor
// device classes with their units and state classes.
#include "ha_schema.hpp"

#include <boost/json/parse.hpp>
#include <map>
#include <regex>

namespace sungrow::test {
namespace {

namespace json = boost::json;
using Set = std::set<std::string, std::less<>>;

const Set kCommonKeys{"availability",
                      "availability_mode",
                      "availability_template",
                      "availability_topic",
                      "default_entity_id",
                      "device",
                      "device_class",
                      "enabled_by_default",
                      "encoding",
                      "entity_category",
                      "entity_picture",
                      "expire_after",
                      "force_update",
                      "icon",
                      "json_attributes_template",
                      "json_attributes_topic",
                      "name",
                      "object_id",
                      "origin",
                      "payload_available",
                      "payload_not_available",
                      "platform",
                      "qos",
                      "state_topic",
                      "unique_id",
                      "value_template"};
const Set kSensorOnlyKeys{"last_reset_value_template", "options", "state_class",
                          "suggested_display_precision", "unit_of_measurement"};
const Set kBinarySensorOnlyKeys{"off_delay", "payload_off", "payload_on"};
const Set kDeviceKeys{"configuration_url", "connections",    "hw_version", "identifiers",
                      "manufacturer",      "model",          "model_id",   "name",
                      "serial_number",     "suggested_area", "sw_version", "via_device"};
const Set kOriginKeys{"name", "sw_version", "support_url"};
const Set kAvailabilityKeys{"payload_available", "payload_not_available", "topic",
                            "value_template"};
const Set kStateClasses{"measurement", "measurement_angle", "total", "total_increasing"};

struct SensorClass {
  Set units;          // empty: no unit allowed
  Set state_classes;  // empty: no state class allowed
};

// HA's DEVICE_CLASS_UNITS and DEVICE_CLASS_STATE_CLASSES for the classes this project can emit;
// any other class is reported, so a new one gets checked here before it ships.
const std::map<std::string, SensorClass, std::less<>> kSensorClasses{
    {"battery", {{"%"}, {"measurement"}}},
    {"current", {{"A", "mA"}, {"measurement"}}},
    {"duration",
     {{"d", "h", "min", "s", "ms", "\u03bcs"}, {"measurement", "total", "total_increasing"}}},
    {"energy",
     {{"J", "kJ", "MJ", "GJ", "mWh", "Wh", "kWh", "MWh", "GWh", "TWh", "cal", "kcal", "Mcal",
       "Gcal"},
      {"total", "total_increasing"}}},
    {"enum", {{}, {}}},
    {"frequency", {{"Hz", "kHz", "MHz", "GHz"}, {"measurement"}}},
    {"power", {{"mW", "W", "kW", "MW", "GW", "TW"}, {"measurement"}}},
    {"temperature", {{"\u00b0C", "\u00b0F", "K"}, {"measurement"}}},
    {"timestamp", {{}, {}}},
    {"voltage", {{"\u03bcV", "mV", "V", "kV", "MV"}, {"measurement"}}},
};

const Set kBinarySensorClasses{"battery",
                               "battery_charging",
                               "carbon_monoxide",
                               "cold",
                               "connectivity",
                               "door",
                               "garage_door",
                               "gas",
                               "heat",
                               "light",
                               "lock",
                               "moisture",
                               "motion",
                               "moving",
                               "occupancy",
                               "opening",
                               "plug",
                               "power",
                               "presence",
                               "problem",
                               "running",
                               "safety",
                               "smoke",
                               "sound",
                               "tamper",
                               "update",
                               "vibration",
                               "window"};

// The Energy dashboard's units (HA's energy validation).
const Set kEnergyUnits{"Wh", "kWh", "MWh", "MJ", "GJ"};

bool is_id(std::string_view s) {
  static const std::regex re("[A-Za-z0-9_-]+");
  return std::regex_match(s.begin(), s.end(), re);
}

bool is_publish_topic(const json::value& v) {
  if (!v.is_string()) return false;
  const std::string_view t = v.get_string();
  return !t.empty() && t.find_first_of("+#") == std::string_view::npos;
}

const json::string* string_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr ? v->if_string() : nullptr;
}

void unknown_keys(const json::object& o, const Set& allowed, std::string_view where,
                  std::vector<std::string>& problems) {
  for (const auto& [key, value] : o)
    if (!allowed.contains(std::string_view(key)))
      problems.push_back(std::string(where) + ": unknown key '" + std::string(key) + "'");
}

void check_device(const json::object& config, std::vector<std::string>& problems) {
  const auto* device = config.if_contains("device");
  if (device == nullptr || !device->is_object()) {
    // A device groups the entities and lets unique ids survive renames; we always send one.
    problems.emplace_back("device block missing");
    return;
  }
  const auto& d = device->get_object();
  unknown_keys(d, kDeviceKeys, "device", problems);
  const auto* ids = d.if_contains("identifiers");
  const bool ids_ok =
      ids != nullptr && ids->is_array() && !ids->get_array().empty() &&
      std::all_of(ids->get_array().begin(), ids->get_array().end(),
                  [](const json::value& v) { return v.is_string() && !v.get_string().empty(); });
  if (!ids_ok) problems.emplace_back("device.identifiers must be a non-empty list of strings");
  if (string_at(d, "name") == nullptr) problems.emplace_back("device.name missing");
  for (const auto* key : {"manufacturer", "model", "serial_number", "sw_version", "via_device"})
    if (d.contains(key) && string_at(d, key) == nullptr)
      problems.push_back(std::string("device.") + key + " must be a string");
}

void check_availability(const json::object& config, std::vector<std::string>& problems) {
  if (const auto* a = config.if_contains("availability")) {
    if (!a->is_array() || a->get_array().empty()) {
      problems.emplace_back("availability must be a non-empty list");
    } else {
      for (const auto& entry : a->get_array()) {
        if (!entry.is_object()) {
          problems.emplace_back("availability entries must be objects");
          continue;
        }
        unknown_keys(entry.get_object(), kAvailabilityKeys, "availability[]", problems);
        const auto* topic = entry.get_object().if_contains("topic");
        if (topic == nullptr || !is_publish_topic(*topic))
          problems.emplace_back("availability[].topic must be a topic without wildcards");
      }
    }
    if (config.contains("availability_topic"))
      problems.emplace_back("availability and availability_topic are exclusive");
  }
  if (const auto* mode = string_at(config, "availability_mode");
      mode != nullptr && *mode != "all" && *mode != "any" && *mode != "latest")
    problems.emplace_back("availability_mode must be all, any or latest");
}

void check_sensor_classes(const json::object& c, std::vector<std::string>& problems) {
  const auto* device_class = string_at(c, "device_class");
  const auto* state_class = string_at(c, "state_class");
  const auto* unit = string_at(c, "unit_of_measurement");
  if (c.contains("state_class") && state_class == nullptr)
    problems.emplace_back("state_class must be a string");
  if (state_class != nullptr && !kStateClasses.contains(std::string_view(*state_class)))
    problems.push_back("state_class '" + std::string(*state_class) + "' does not exist");
  if (const auto* options = c.if_contains("options")) {
    const bool list = options->is_array() && !options->get_array().empty() &&
                      std::all_of(options->get_array().begin(), options->get_array().end(),
                                  [](const json::value& v) { return v.is_string(); });
    if (!list) problems.emplace_back("options must be a non-empty list of strings");
    if (device_class == nullptr || *device_class != "enum")
      problems.emplace_back("options need device_class enum");
  }
  if (device_class == nullptr) return;
  const auto it = kSensorClasses.find(std::string_view(*device_class));
  if (it == kSensorClasses.end()) {
    problems.push_back("device_class '" + std::string(*device_class) +
                       "' is not in the checker's table (add HA's units and state classes)");
    return;
  }
  const auto& rules = it->second;
  if (unit != nullptr && !rules.units.contains(std::string_view(*unit)))
    problems.push_back("unit '" + std::string(*unit) + "' is not valid for device_class " +
                       std::string(*device_class));
  if (unit == nullptr && !rules.units.empty())
    problems.push_back("device_class " + std::string(*device_class) + " needs a unit");
  if (state_class != nullptr && !rules.state_classes.contains(std::string_view(*state_class)))
    problems.push_back("state_class " + std::string(*state_class) +
                       " is not valid for device_class " + std::string(*device_class));
  if (*device_class == "enum" && !c.contains("options"))
    problems.emplace_back("device_class enum needs options");
}

}  // namespace

std::vector<std::string> check_discovery(std::string_view topic, std::string_view payload) {
  std::vector<std::string> problems;
  static const std::regex topic_re(
      R"(([^/+#]+(?:/[^/+#]+)*)/(sensor|binary_sensor)/([^/]+)/([^/]+)/config)");
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_match(topic.begin(), topic.end(), m, topic_re)) {
    problems.push_back("topic '" + std::string(topic) +
                       "' is not <prefix>/<sensor|binary_sensor>/<node_id>/<object_id>/config");
    return problems;
  }
  const std::string component = m[2].str();
  if (!is_id(m[3].str()) || !is_id(m[4].str()))
    problems.emplace_back("node_id and object_id must be [a-zA-Z0-9_-]");

  boost::system::error_code ec;
  const auto parsed = json::parse(payload, ec);
  if (ec || !parsed.is_object()) {
    problems.emplace_back("payload is not a JSON object");
    return problems;
  }
  const auto& c = parsed.get_object();

  Set allowed = kCommonKeys;
  const auto& own = component == "sensor" ? kSensorOnlyKeys : kBinarySensorOnlyKeys;
  allowed.insert(own.begin(), own.end());
  unknown_keys(c, allowed, component, problems);

  const auto* state_topic = c.if_contains("state_topic");
  if (state_topic == nullptr || !is_publish_topic(*state_topic))
    problems.emplace_back("state_topic missing or not a plain topic");
  if (string_at(c, "unique_id") == nullptr || string_at(c, "unique_id")->empty())
    problems.emplace_back("unique_id missing (entities without one cannot join a device)");
  if (const auto* name = c.if_contains("name");
      name != nullptr && !name->is_string() && !name->is_null())
    problems.emplace_back("name must be a string or null");
  if (c.contains("object_id"))
    problems.emplace_back("object_id is deprecated (HA 2025.10); use default_entity_id");
  if (const auto* id = string_at(c, "default_entity_id")) {
    static const std::regex id_re("([a-z_]+)\\.[a-z0-9_]+");
    std::match_results<json::string::const_iterator> idm;
    if (!std::regex_match(id->begin(), id->end(), idm, id_re) || idm[1].str() != component)
      problems.push_back("default_entity_id '" + std::string(*id) + "' is not " + component +
                         ".<lower-case id>");
  }
  if (const auto* t = string_at(c, "value_template");
      t == nullptr || t->find("{{") == json::string::npos)
    problems.emplace_back("value_template missing or not a template");
  if (const auto* e = c.if_contains("expire_after");
      e != nullptr && !(e->is_int64() && e->get_int64() > 0))
    problems.emplace_back("expire_after must be a positive integer");
  if (const auto* p = c.if_contains("suggested_display_precision");
      p != nullptr && !(p->is_int64() && p->get_int64() >= 0))
    problems.emplace_back("suggested_display_precision must be a non-negative integer");
  if (const auto* cat = string_at(c, "entity_category"); cat != nullptr && *cat != "diagnostic")
    problems.emplace_back("a read-only entity's entity_category can only be diagnostic");

  if (component == "sensor") {
    check_sensor_classes(c, problems);
  } else {
    if (const auto* dc = string_at(c, "device_class");
        dc != nullptr && !kBinarySensorClasses.contains(std::string_view(*dc)))
      problems.push_back("binary_sensor device_class '" + std::string(*dc) + "' does not exist");
  }
  check_availability(c, problems);
  check_device(c, problems);
  if (const auto* origin = c.if_contains("origin")) {
    if (!origin->is_object() || string_at(origin->get_object(), "name") == nullptr)
      problems.emplace_back("origin needs a name");
    else
      unknown_keys(origin->get_object(), kOriginKeys, "origin", problems);
  }
  return problems;
}

std::vector<std::string> check_energy_source(const json::object& c) {
  std::vector<std::string> problems;
  const auto* dc = string_at(c, "device_class");
  const auto* sc = string_at(c, "state_class");
  const auto* unit = string_at(c, "unit_of_measurement");
  if (dc == nullptr || *dc != "energy") problems.emplace_back("device_class must be energy");
  if (sc == nullptr || (*sc != "total" && *sc != "total_increasing"))
    problems.emplace_back("state_class must be total or total_increasing");
  if (unit == nullptr || !kEnergyUnits.contains(std::string_view(*unit)))
    problems.emplace_back("unit must be one of Wh, kWh, MWh, MJ, GJ");
  return problems;
}

std::set<std::string> template_members(std::string_view value_template) {
  std::set<std::string> out;
  static const std::regex member(R"(value_json\.([A-Za-z_][A-Za-z0-9_]*))");
  for (auto it = std::regex_iterator<std::string_view::const_iterator>(
           value_template.begin(), value_template.end(), member);
       it != std::regex_iterator<std::string_view::const_iterator>(); ++it)
    out.insert((*it)[1].str());
  return out;
}

}  // namespace sungrow::test
