// A checker of Home Assistant MQTT discovery configs against HA's documented schema for sensor and
// binary_sensor, and of the Energy dashboard's requirements for an energy source.
#pragma once

#include <boost/json/object.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace sungrow::test {

// Every problem of one retained discovery message: the topic's form
// (<prefix>/<component>/<node_id>/<object_id>/config), JSON that parses to an object, only keys the
// component's schema knows, required keys, device_class / state_class / unit combinations HA
// accepts, enum options, availability, device and origin blocks. Empty when HA would take it.
std::vector<std::string> check_discovery(std::string_view topic, std::string_view payload);

// Why the sensor cannot be picked in the Energy dashboard (grid, solar or battery energy): it
// needs device_class energy, state_class total or total_increasing, and an energy unit.
std::vector<std::string> check_energy_source(const boost::json::object& config);

// The members a value_template reads from value_json ("{{ value_json.a.b }}" → "a").
std::set<std::string> template_members(std::string_view value_template);

}  // namespace sungrow::test
