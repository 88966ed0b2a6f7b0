// Discovery configs: every one passes the Home Assistant checker, ids stay distinct for serials
// that differ only in their last character, and the checker itself catches broken configs.
#include "sungrow/edge/mqtt/discovery.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <map>
#include <set>

#include "ha_schema.hpp"
#include "sungrow/core/sample.hpp"
#include "sungrow/core/sample_json.hpp"

namespace sungrow::edge {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

const HaTopics kTopics{
    .discovery_prefix = "homeassistant", .base = "sungrow", .device_id = "home-1"};
const Nameplate kPlate{"A2350415770", 0x0D18};

std::map<std::string, json::object> by_unique_id(const std::vector<DiscoveryConfig>& configs) {
  std::map<std::string, json::object> out;
  for (const auto& c : configs) {
    auto o = json::parse(c.payload).as_object();
    out.emplace(std::string(o.at("unique_id").as_string()), std::move(o));
  }
  return out;
}

// A sample with every member present, as the state topic carries it.
json::object full_state() {
  Sample s;
  s.device_id = "home-1";
  s.ts = *parse_rfc3339("2026-06-21T10:00:00Z");
  s.seq = 1;
  for (const auto& f : kMeasurementFields) s.*f.member = 1.0;
  s.running_state = 0;
  s.power_flow = PowerFlow::from_bits(0x09);
  return json::parse(to_json_text(s)).as_object();
}

TEST(Discovery, EveryConfigPassesTheHomeAssistantChecker) {
  auto configs = inverter_configs(kTopics, kPlate, 15s);
  const auto edge = edge_configs(kTopics, 15s);
  configs.insert(configs.end(), edge.begin(), edge.end());
  for (const auto& c : configs) {
    const auto problems = test::check_discovery(c.topic, c.payload);
    EXPECT_TRUE(problems.empty()) << c.topic << ": " << problems.front() << "\n" << c.payload;
  }
}

TEST(Discovery, TheInverterDevice) {
  const auto configs = inverter_configs(kTopics, kPlate, 15s);
  // Every sensor of the table, the running state, one binary sensor per power-flow bit.
  EXPECT_EQ(configs.size(), kInverterSensors.size() + 1 + kPowerFlowBits.size());
  for (const auto& [id, o] : by_unique_id(configs)) {
    EXPECT_TRUE(id.starts_with("sungrow_A2350415770_")) << id;
    const auto& d = o.at("device").as_object();
    EXPECT_EQ(d.at("identifiers").as_array(), json::array{"sungrow_A2350415770"});
    EXPECT_EQ(d.at("manufacturer"), "Sungrow");
    EXPECT_EQ(d.at("model"), "SH4.0RS");
    EXPECT_EQ(d.at("serial_number"), "A2350415770");
    EXPECT_EQ(d.at("via_device"), "sungrow_edge_home-1");
    EXPECT_EQ(o.at("state_topic"), "sungrow/home-1/state");
    EXPECT_EQ(o.at("expire_after"), 15);
    EXPECT_EQ(o.at("availability_mode"), "all");
    EXPECT_EQ(o.at("availability"),
              (json::array{json::object{{"topic", "sungrow/edge/home-1/status"}},
                           json::object{{"topic", "sungrow/home-1/status"}}}));
  }
  for (const auto& c : configs)
    EXPECT_TRUE(c.topic.starts_with("homeassistant/sensor/sungrow_A2350415770/") ||
                c.topic.starts_with("homeassistant/binary_sensor/sungrow_A2350415770/"))
        << c.topic;
}

TEST(Discovery, LifetimeCountersFeedTheEnergyDashboard) {
  const auto configs = by_unique_id(inverter_configs(kTopics, kPlate, 15s));
  for (const auto* field : {"pv_energy_total_kwh", "grid_import_total_kwh", "grid_export_total_kwh",
                            "battery_charge_total_kwh", "battery_discharge_total_kwh"}) {
    const auto it = configs.find(std::string("sungrow_A2350415770_") + field);
    ASSERT_NE(it, configs.end()) << field;
    EXPECT_TRUE(test::check_energy_source(it->second).empty()) << field;
    EXPECT_EQ(it->second.at("state_class"), "total_increasing");
  }
  // Powers and the battery level with the classes the dashboards expect.
  EXPECT_EQ(configs.at("sungrow_A2350415770_grid_power_w").at("device_class"), "power");
  EXPECT_EQ(configs.at("sungrow_A2350415770_battery_soc_pct").at("device_class"), "battery");
  EXPECT_EQ(configs.at("sungrow_A2350415770_battery_soc_pct").at("unit_of_measurement"), "%");
}

TEST(Discovery, TemplatesReadMembersTheStateReallyHas) {
  const auto state = full_state();
  for (const auto& c : inverter_configs(kTopics, kPlate, 15s)) {
    const auto o = json::parse(c.payload).as_object();
    const auto members = test::template_members(o.at("value_template").as_string());
    ASSERT_FALSE(members.empty()) << c.topic;
    for (const auto& m : members) EXPECT_TRUE(state.contains(m)) << c.topic << " reads " << m;
  }
  const json::object health{{"status", "ok"},
                            {"spool_depth", 0},
                            {"oldest_unsent_age_s", nullptr},
                            {"last_upload_at", nullptr},
                            {"dead_letters", 0}};
  for (const auto& c : edge_configs(kTopics, 15s)) {
    const auto o = json::parse(c.payload).as_object();
    for (const auto& m : test::template_members(o.at("value_template").as_string()))
      EXPECT_TRUE(health.contains(m)) << c.topic << " reads " << m;
  }
}

TEST(Discovery, PowerFlowBinarySensorsComeFromTheBitTable) {
  const auto configs = by_unique_id(inverter_configs(kTopics, kPlate, 15s));
  for (const auto& bit : kPowerFlowBits) {
    const auto it = configs.find("sungrow_A2350415770_power_flow_" + std::string(bit.key));
    ASSERT_NE(it, configs.end()) << bit.key;
    EXPECT_EQ(it->second.at("name").as_string(), bit.label);
    // Unknown, not off, while power_flow is null.
    EXPECT_NE(it->second.at("value_template").as_string().find("is none"), json::string::npos);
  }
}

TEST(Discovery, RunningStateIsAnEnumOfEveryTextPlusUnknown) {
  const auto configs = by_unique_id(inverter_configs(kTopics, kPlate, 15s));
  const auto& o = configs.at("sungrow_A2350415770_running_state");
  EXPECT_EQ(o.at("device_class"), "enum");
  std::set<std::string> options;
  for (const auto& v : o.at("options").as_array()) options.insert(std::string(v.as_string()));
  for (const auto text : running_state_texts()) EXPECT_TRUE(options.contains(std::string(text)));
  EXPECT_TRUE(options.contains("Unknown"));
  EXPECT_EQ(options.size(), running_state_texts().size() + 1);
}

TEST(Discovery, TwoSerialsDifferingInTheLastCharacterStayTwoDevices) {
  const auto a = inverter_configs(kTopics, Nameplate{"A2350415770", 0x0D18}, 15s);
  const auto b = inverter_configs(
      HaTopics{.discovery_prefix = "homeassistant", .base = "sungrow", .device_id = "home-2"},
      Nameplate{"A2350415771", 0x0D18}, 15s);
  std::set<std::string> ids, topics, devices;
  for (const auto* set : {&a, &b}) {
    for (const auto& c : *set) {
      const auto o = json::parse(c.payload).as_object();
      EXPECT_TRUE(ids.insert(std::string(o.at("unique_id").as_string())).second);
      EXPECT_TRUE(topics.insert(c.topic).second) << c.topic;
      devices.insert(json::serialize(o.at("device").at("identifiers")));
    }
  }
  EXPECT_EQ(devices.size(), 2U);
}

TEST(Discovery, TheEdgeDeviceHasItsHealthAsDiagnostics) {
  const auto configs = by_unique_id(edge_configs(kTopics, 3s));
  EXPECT_EQ(configs.size(), kEdgeSensors.size() + 1);
  for (const auto& [id, o] : configs) {
    EXPECT_EQ(o.at("entity_category"), "diagnostic") << id;
    EXPECT_EQ(o.at("state_topic"), "sungrow/edge/home-1/health");
    EXPECT_EQ(o.at("availability"),
              (json::array{json::object{{"topic", "sungrow/edge/home-1/status"}}}));
    EXPECT_EQ(o.at("device").at("identifiers"), json::array{"sungrow_edge_home-1"});
    EXPECT_EQ(o.at("expire_after"), 3);
  }
  EXPECT_EQ(configs.at("sungrow_edge_home-1_last_upload_at").at("device_class"), "timestamp");
  EXPECT_EQ(configs.at("sungrow_edge_home-1_oldest_unsent_age_s").at("unit_of_measurement"), "s");
}

TEST(Discovery, ExpireAfterIsThreePollsInWholeSeconds) {
  EXPECT_EQ(expire_after_for(5s), 15s);
  EXPECT_EQ(expire_after_for(300ms), 1s);
  EXPECT_EQ(expire_after_for(700ms), 3s);  // 2.1 s rounded up
}

TEST(Discovery, IdsAreSanitisedForHomeAssistant) {
  EXPECT_EQ(ha_id("192.168.1.50"), "192_168_1_50");
  EXPECT_EQ(ha_id("A-b_9:x"), "A-b_9_x");
  const auto configs = inverter_configs(kTopics, Nameplate{"AB/CD+1", 0x0D18}, 15s);
  for (const auto& c : configs) EXPECT_TRUE(test::check_discovery(c.topic, c.payload).empty());
}

// The checker must be able to fail: each mutation of a valid config is reported.
TEST(HaSchemaChecker, CatchesWhatHomeAssistantWouldRefuse) {
  const auto configs = by_unique_id(inverter_configs(kTopics, kPlate, 15s));
  const auto energy = configs.at("sungrow_A2350415770_pv_energy_total_kwh");
  const auto topic =
      std::string("homeassistant/sensor/sungrow_A2350415770/pv_energy_total_kwh/config");
  ASSERT_TRUE(test::check_discovery(topic, json::serialize(energy)).empty());

  const auto broken = [&](auto&& mutate) {
    auto o = energy;
    mutate(o);
    return !test::check_discovery(topic, json::serialize(o)).empty();
  };
  EXPECT_TRUE(broken([](json::object& o) { o["state_class"] = "measurement"; }));
  EXPECT_TRUE(broken([](json::object& o) { o["unit_of_measurement"] = "W"; }));
  EXPECT_TRUE(broken([](json::object& o) { o.erase("unit_of_measurement"); }));
  EXPECT_TRUE(broken([](json::object& o) { o["device_class"] = "electricity"; }));
  EXPECT_TRUE(broken([](json::object& o) { o["state_class"] = "increasing"; }));
  EXPECT_TRUE(broken([](json::object& o) { o["options"] = json::array{"a"}; }));
  EXPECT_TRUE(broken([](json::object& o) { o["unit_of_measurment"] = "kWh"; }));  // typo
  EXPECT_TRUE(broken([](json::object& o) { o.erase("state_topic"); }));
  EXPECT_TRUE(broken([](json::object& o) { o.erase("unique_id"); }));
  EXPECT_TRUE(broken([](json::object& o) { o["object_id"] = "x"; }));
  EXPECT_TRUE(broken([](json::object& o) { o["default_entity_id"] = "binary_sensor.x"; }));
  EXPECT_TRUE(broken([](json::object& o) { o["expire_after"] = 0; }));
  EXPECT_TRUE(broken([](json::object& o) { o["availability_mode"] = "both"; }));
  EXPECT_TRUE(broken([](json::object& o) {
    o["availability"] = json::array{json::object{{"topic", "a/#"}}};
  }));
  EXPECT_TRUE(broken([](json::object& o) { o["entity_category"] = "config"; }));
  EXPECT_TRUE(broken([](json::object& o) { o["device"].as_object().erase("identifiers"); }));
  EXPECT_TRUE(
      broken([](json::object& o) { o["device"].as_object()["identifiers"] = json::array{}; }));
  EXPECT_TRUE(broken([](json::object& o) { o["device"].as_object()["firmware"] = "1"; }));
  EXPECT_TRUE(broken([](json::object& o) { o["origin"] = json::object{{"sw_version", "1"}}; }));
  EXPECT_TRUE(broken([](json::object& o) { o["value_template"] = "value_json.x"; }));
  EXPECT_FALSE(
      test::check_discovery("homeassistant/sensor/a b/c/config", json::serialize(energy)).empty());
  EXPECT_FALSE(
      test::check_discovery("homeassistant/switch/a/b/config", json::serialize(energy)).empty());
  EXPECT_FALSE(test::check_discovery(topic, "{not json").empty());

  auto enum_config = configs.at("sungrow_A2350415770_running_state");
  enum_config["unit_of_measurement"] = "W";
  EXPECT_FALSE(test::check_discovery(topic, json::serialize(enum_config)).empty());
  auto flow = configs.at("sungrow_A2350415770_power_flow_pv");
  const auto flow_topic =
      std::string("homeassistant/binary_sensor/sungrow_A2350415770/power_flow_pv/config");
  ASSERT_TRUE(test::check_discovery(flow_topic, json::serialize(flow)).empty());
  flow["unit_of_measurement"] = "W";
  EXPECT_FALSE(test::check_discovery(flow_topic, json::serialize(flow)).empty());
  flow.erase("unit_of_measurement");
  flow["device_class"] = "energy";
  EXPECT_FALSE(test::check_discovery(flow_topic, json::serialize(flow)).empty());

  auto power = configs.at("sungrow_A2350415770_pv_power_w");
  EXPECT_FALSE(test::check_energy_source(power).empty());
}

}  // namespace
}  // namespace sungrow::edge
