// Edge configuration: env names and flags bind, and every bad value gets its own clear message.
#include "sungrow/edge/config.hpp"

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace sungrow::edge {
namespace {

EdgeConfig parse(std::vector<std::string> args) {
  CLI::App app;
  EdgeConfig c;
  bind_options(app, c);
  std::reverse(args.begin(), args.end());  // CLI11 takes them reversed
  app.parse(args);
  return c;
}

EdgeConfig valid() {
  EdgeConfig c;
  c.sungrow_host = "192.168.1.50";
  c.vps_ingest_url = "https://vps.example.org/v1/ingest";
  c.vps_device_token = "secret";
  c.spool_path = (std::filesystem::temp_directory_path() / "spool.db").string();
  c.health_path = "/tmp/health.json";
  return c;
}

bool mentions(const std::vector<std::string>& problems, std::string_view what) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& p) { return p.find(what) != std::string::npos; });
}

TEST(EdgeConfig, SeedDefaults) {
  const auto c = parse({});
  EXPECT_EQ(c.sungrow_port, 502);
  EXPECT_EQ(c.slave_id, 1);
  EXPECT_EQ(c.poll_interval_s, 5);
  EXPECT_EQ(c.inter_register_delay_ms, 20);
  EXPECT_EQ(c.batch_size, 30);
  EXPECT_EQ(c.upload_interval_s, 10);
  EXPECT_EQ(c.spool_path, "/data/spool.db");
  EXPECT_EQ(c.health_path, "/data/health.json");
}

TEST(EdgeConfig, EnvironmentVariablesUseTheSeedNamesAndFlagsWin) {
  ::setenv("SUNGROW_HOST", "10.0.0.7", 1);
  ::setenv("POLL_INTERVAL_S", "15", 1);
  ::setenv("BATCH_SIZE", "60", 1);
  const auto c = parse({"--batch-size", "90"});
  ::unsetenv("SUNGROW_HOST");
  ::unsetenv("POLL_INTERVAL_S");
  ::unsetenv("BATCH_SIZE");
  EXPECT_EQ(c.sungrow_host, "10.0.0.7");
  EXPECT_EQ(c.poll_interval_s, 15);
  EXPECT_EQ(c.batch_size, 90);
  EXPECT_EQ(c.effective_device_id(), "10.0.0.7");
}

TEST(EdgeConfig, NonNumericValueIsAParseError) {
  EXPECT_THROW(parse({"--port", "five-o-two"}), CLI::ParseError);
}

TEST(EdgeConfig, ValidConfigHasNoProblems) {
  EXPECT_EQ(validate(valid(), Needs::inverter_and_upload), std::vector<std::string>{});
}

TEST(EdgeConfig, EachProblemGetsItsOwnMessage) {
  auto c = valid();
  c.sungrow_port = 70000;
  c.slave_id = 0;
  c.poll_interval_s = 2;
  c.inter_register_delay_ms = 5;
  c.vps_ingest_url = "http://vps.example.org/v1/ingest";
  c.vps_device_token.clear();
  c.batch_size = 0;
  c.spool_path = "/nonexistent-dir/spool.db";
  const auto problems = validate(c, Needs::inverter_and_upload);
  EXPECT_TRUE(mentions(problems, "SUNGROW_PORT"));
  EXPECT_TRUE(mentions(problems, "SUNGROW_SLAVE_ID"));
  EXPECT_TRUE(mentions(problems, "POLL_INTERVAL_S"));
  EXPECT_TRUE(mentions(problems, "INTER_REGISTER_DELAY_MS"));
  EXPECT_TRUE(mentions(problems, "VPS_INGEST_URL"));
  EXPECT_TRUE(mentions(problems, "VPS_DEVICE_TOKEN"));
  EXPECT_TRUE(mentions(problems, "BATCH_SIZE"));
  EXPECT_TRUE(mentions(problems, "SPOOL_PATH"));
  EXPECT_EQ(problems.size(), 8U);
}

TEST(EdgeConfig, PlainHttpOnlyToLoopback) {
  auto c = valid();
  c.vps_ingest_url = "http://127.0.0.1:8080/v1/ingest";
  EXPECT_TRUE(validate(c, Needs::inverter_and_upload).empty());
  c.vps_ingest_url = "ftp://vps.example.org/";
  EXPECT_TRUE(mentions(validate(c, Needs::inverter_and_upload), "VPS_INGEST_URL"));
}

TEST(EdgeConfig, BatchSizeCannotExceedTheCatchUpSize) {
  auto c = valid();
  c.batch_size = 500;
  c.max_batch_size = 100;
  EXPECT_TRUE(mentions(validate(c, Needs::inverter_and_upload), "BATCH_SIZE"));
}

TEST(EdgeConfig, TestPollIntervalOnlyAgainstALoopbackSimulator) {
  auto c = valid();
  c.test_poll_interval_ms = 200;
  EXPECT_TRUE(mentions(validate(c, Needs::inverter_and_upload), "loopback"));
  c.sungrow_host = "127.0.0.1";
  EXPECT_TRUE(validate(c, Needs::inverter_and_upload).empty());
  EXPECT_EQ(c.poll_interval(), std::chrono::milliseconds{200});
}

TEST(EdgeConfig, TheInverterClockIsReadRarelyOrNever) {
  EXPECT_EQ(parse({}).clock_check_interval_s, 600);
  ::setenv("CLOCK_CHECK_INTERVAL_S", "0", 1);
  const auto off = parse({});
  ::unsetenv("CLOCK_CHECK_INTERVAL_S");
  EXPECT_EQ(off.clock_check_interval_s, 0);
  auto c = valid();
  c.clock_check_interval_s = 0;
  EXPECT_TRUE(validate(c, Needs::inverter_and_upload).empty());
  c.clock_check_interval_s = 60;
  EXPECT_TRUE(validate(c, Needs::inverter_and_upload).empty());
  c.clock_check_interval_s = 5;
  const auto problems = validate(c, Needs::inverter_and_upload);
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_TRUE(mentions(problems, "CLOCK_CHECK_INTERVAL_S"));
  EXPECT_TRUE(mentions(problems, "or 0"));
}

TEST(EdgeConfig, OnceNeedsOnlyTheInverter) {
  EdgeConfig c;
  c.sungrow_host = "192.168.1.50";
  EXPECT_TRUE(validate(c, Needs::inverter).empty());
  c.sungrow_host.clear();
  EXPECT_TRUE(mentions(validate(c, Needs::inverter), "SUNGROW_HOST"));
}

TEST(EdgeConfig, BadDeviceIdAndLogLevel) {
  auto c = valid();
  c.device_id = "my inverter!";
  c.log_level = "loud";
  const auto problems = validate(c, Needs::inverter_and_upload);
  EXPECT_TRUE(mentions(problems, "DEVICE_ID"));
  EXPECT_TRUE(mentions(problems, "LOG_LEVEL"));
}

}  // namespace
}  // namespace sungrow::edge

namespace sungrow::edge {
namespace {

TEST(EdgeConfig, ATokenWithControlCharactersIsAProblemNotACrash) {
  EdgeConfig c;
  c.sungrow_host = "192.168.1.50";
  c.vps_ingest_url = "https://vps.example.org/v1/ingest";
  c.vps_device_token = "secret\r";  // an env file with Windows line endings
  c.spool_path = (std::filesystem::temp_directory_path() / "spool.db").string();
  const auto problems = validate(c, Needs::inverter_and_upload);
  ASSERT_EQ(problems.size(), 1U);
  EXPECT_NE(problems[0].find("VPS_DEVICE_TOKEN"), std::string::npos);
  EXPECT_EQ(problems[0].find("secret"), std::string::npos) << "the token must not be echoed";
}

}  // namespace
}  // namespace sungrow::edge

namespace sungrow::edge {
namespace {

TEST(EdgeConfig, MqttIsOffUnlessItsUrlIsSetAndEverySettingHasAnEnvName) {
  EXPECT_FALSE(parse({}).mqtt_enabled());
  EXPECT_EQ(parse({}).mqtt_discovery_prefix, "homeassistant");
  EXPECT_EQ(parse({}).mqtt_base_topic, "sungrow");
  const std::pair<const char*, const char*> env[] = {
      {"MQTT_URL", "mqtt://broker:1883"}, {"MQTT_USERNAME", "edge"},
      {"MQTT_PASSWORD_FILE", "/run/pw"},  {"MQTT_CA_FILE", "/etc/ca.pem"},
      {"MQTT_DISCOVERY_PREFIX", "ha"},    {"MQTT_BASE_TOPIC", "solar"}};
  for (const auto& [name, value] : env) ::setenv(name, value, 1);
  const auto c = parse({"--mqtt-base-topic", "roof"});
  for (const auto& [name, value] : env) ::unsetenv(name);
  EXPECT_TRUE(c.mqtt_enabled());
  EXPECT_EQ(c.mqtt_url, "mqtt://broker:1883");
  EXPECT_EQ(c.mqtt_username, "edge");
  EXPECT_EQ(c.mqtt_password_file, "/run/pw");
  EXPECT_EQ(c.mqtt_ca_file, "/etc/ca.pem");
  EXPECT_EQ(c.mqtt_discovery_prefix, "ha");
  EXPECT_EQ(c.mqtt_base_topic, "roof");  // the flag wins
}

TEST(EdgeConfig, MqttProblemsOnePerLine) {
  auto c = valid();
  c.mqtt_url = "mqtt://broker:1883";
  EXPECT_TRUE(validate(c, Needs::inverter_and_upload).empty());
  c.mqtt_url = "http://broker";
  c.mqtt_password_file = "/nonexistent/pw";
  c.mqtt_ca_file = "/nonexistent/ca.pem";
  c.mqtt_discovery_prefix = "home/+";
  c.mqtt_base_topic = "/sungrow";
  const auto problems = validate(c, Needs::inverter_and_upload);
  EXPECT_TRUE(mentions(problems, "MQTT_URL"));
  EXPECT_TRUE(mentions(problems, "MQTT_PASSWORD_FILE needs MQTT_USERNAME"));
  EXPECT_TRUE(mentions(problems, "MQTT_PASSWORD_FILE /nonexistent/pw is not readable"));
  EXPECT_TRUE(mentions(problems, "MQTT_CA_FILE /nonexistent/ca.pem is not readable"));
  EXPECT_TRUE(mentions(problems, "MQTT_DISCOVERY_PREFIX"));
  EXPECT_TRUE(mentions(problems, "MQTT_BASE_TOPIC"));
  EXPECT_EQ(problems.size(), 6U);
}

TEST(EdgeConfig, MqttCaFileOnlyWithTlsAndCredentialsOnlyWithAUrl) {
  const auto ca = std::filesystem::temp_directory_path() / "sungrow-config-test-ca.pem";
  std::ofstream(ca) << "not checked here\n";
  auto c = valid();
  c.mqtt_url = "mqtt://broker";
  c.mqtt_ca_file = ca.string();
  EXPECT_TRUE(mentions(validate(c, Needs::inverter_and_upload), "only used with an mqtts://"));
  c.mqtt_url = "mqtts://broker";
  EXPECT_TRUE(validate(c, Needs::inverter_and_upload).empty());
  c.mqtt_url.clear();
  c.mqtt_username = "edge";
  const auto problems = validate(c, Needs::inverter_and_upload);
  EXPECT_TRUE(mentions(problems, "MQTT_USERNAME is set but MQTT_URL is not"));
  EXPECT_TRUE(mentions(problems, "MQTT_CA_FILE is set but MQTT_URL is not"));
  std::filesystem::remove(ca);
}

TEST(EdgeConfig, TheMqttPasswordIsNeverEchoed) {
  const auto pw = std::filesystem::temp_directory_path() / "sungrow-config-test-pw";
  std::ofstream(pw) << "hunter2-secret\n";
  auto c = valid();
  c.mqtt_url = "mqtt://edge:hunter2-secret@broker";
  c.mqtt_password_file = pw.string();
  const auto problems = validate(c, Needs::inverter_and_upload);
  ASSERT_FALSE(problems.empty());
  for (const auto& p : problems) EXPECT_EQ(p.find("hunter2"), std::string::npos) << p;
  std::filesystem::remove(pw);
}

}  // namespace
}  // namespace sungrow::edge
