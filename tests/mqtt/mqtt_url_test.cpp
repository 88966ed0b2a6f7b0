// MQTT_URL, topic prefixes and the password file: what is accepted, and a clear reason otherwise.
#include "sungrow/edge/mqtt/mqtt_url.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace sungrow::edge {
namespace {

TEST(MqttUrl, SchemesPortsAndHosts) {
  EXPECT_EQ(parse_mqtt_url("mqtt://192.168.1.10").value(),
            (MqttEndpoint{"192.168.1.10", 1883, false}));
  EXPECT_EQ(parse_mqtt_url("mqtts://broker.lan").value(), (MqttEndpoint{"broker.lan", 8883, true}));
  EXPECT_EQ(parse_mqtt_url("mqtt://broker:11883/").value(), (MqttEndpoint{"broker", 11883, false}));
  EXPECT_EQ(parse_mqtt_url("mqtts://[::1]:8884").value(), (MqttEndpoint{"::1", 8884, true}));
  EXPECT_EQ(parse_mqtt_url("mqtts://[::1]:8884").value().text(), "mqtts://[::1]:8884");
  EXPECT_EQ(parse_mqtt_url("mqtt://h").value().text(), "mqtt://h:1883");
}

TEST(MqttUrl, RefusalsSayWhy) {
  const auto why = [](std::string_view url) {
    const auto r = parse_mqtt_url(url);
    EXPECT_FALSE(r) << url;
    return r ? std::string() : r.error().message;
  };
  EXPECT_NE(why("http://broker:1883").find("mqtt:// or mqtts://"), std::string::npos);
  EXPECT_NE(why("mqtt://user:secret@broker").find("MQTT_PASSWORD_FILE"), std::string::npos);
  EXPECT_EQ(why("mqtt://user:secret@broker").find("secret"), std::string::npos);
  EXPECT_NE(why("mqtt://broker:0").find("port"), std::string::npos);
  EXPECT_NE(why("mqtt://broker:70000").find("port"), std::string::npos);
  EXPECT_NE(why("mqtt://broker/sungrow").find("path"), std::string::npos);
  EXPECT_NE(why("mqtt://").find("host"), std::string::npos);
  EXPECT_NE(why("broker:1883").find("mqtt"), std::string::npos);
}

TEST(MqttUrl, TopicPrefixes) {
  EXPECT_FALSE(topic_prefix_problem("homeassistant"));
  EXPECT_FALSE(topic_prefix_problem("home/sungrow"));
  for (const auto* bad : {"", "/sungrow", "sungrow/", "a//b", "a/+/b", "a/#", "a\tb"})
    EXPECT_TRUE(topic_prefix_problem(bad)) << bad;
}

TEST(MqttUrl, PasswordFileFirstLineOnlyAndNeverInTheMessage) {
  const auto dir = std::filesystem::temp_directory_path() / ("sgpw-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "pw") << "s3cret-Pass\r\n";
  EXPECT_EQ(read_password_file((dir / "pw").string()).value(), "s3cret-Pass");
  std::ofstream(dir / "empty") << "\n";
  const auto empty = read_password_file((dir / "empty").string());
  ASSERT_FALSE(empty);
  EXPECT_NE(empty.error().message.find("empty"), std::string::npos);
  const auto missing = read_password_file((dir / "missing").string());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("not readable"), std::string::npos);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sungrow::edge
