// The devices file (SUNGROW_DEVICES_FILE): the grammar, every refusal with its line number, and its
// interplay with the single-device settings, which stay exactly as they were.
#include "sungrow/edge/devices.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "sungrow/edge/config.hpp"

namespace sungrow::edge {
namespace {

namespace fs = std::filesystem;

class DevicesFile : public testing::Test {
 protected:
  DevicesFile() {
    std::string pattern = (fs::temp_directory_path() / "devices-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
    write("roof-1.token", "token-of-roof-1\n");
    write("roof-2.token", "token-of-roof-2\n");
    write("garage.token", "token-of-garage\n");
  }
  ~DevicesFile() override { fs::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const auto path = (dir_ / name).string();
    std::ofstream(path) << text;
    return path;
  }
  std::string token(const std::string& id) const { return (dir_ / (id + ".token")).string(); }

  // The issue's example, with the token files of this test.
  std::string example() const {
    return "# two inverters behind one WiNet-S, a third on its own\n"
           "roof-1  host=192.168.1.50 port=502 unit=1 role=master token_file=" +
           token("roof-1") +
           "\n"
           "roof-2  host=192.168.1.50 port=502 unit=2 role=slave  token_file=" +
           token("roof-2") +
           "\n"
           "\n"
           "garage  host=192.168.1.51 unit=1 role=standalone token_file=" +
           token("garage") + "\n";
  }

  EdgeConfig upload_config(const std::string& devices_path) const {
    EdgeConfig c;
    c.devices_file = devices_path;
    c.vps_ingest_url = "https://vps.example.org/v1/ingest";
    c.spool_path = (dir_ / "spool.db").string();
    c.health_path = (dir_ / "health.json").string();
    return c;
  }

  fs::path dir_;
};

bool mentions(const std::vector<std::string>& problems, std::string_view what) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& p) { return p.find(what) != std::string::npos; });
}

TEST_F(DevicesFile, TheIssuesExampleParsesWithDefaults) {
  const auto parsed = parse_devices(example());
  ASSERT_EQ(parsed.problems, std::vector<std::string>{});
  ASSERT_EQ(parsed.devices.size(), 3u);
  const auto& roof2 = parsed.devices[1];
  EXPECT_EQ(roof2.id, "roof-2");
  EXPECT_EQ(roof2.host, "192.168.1.50");
  EXPECT_EQ(roof2.port, 502);
  EXPECT_EQ(roof2.unit, 2);
  EXPECT_EQ(roof2.role, DeviceRole::slave);
  EXPECT_EQ(roof2.line, 3u);
  const auto& garage = parsed.devices[2];
  EXPECT_EQ(garage.port, 502);  // SUNGROW_PORT's default
  EXPECT_EQ(garage.line, 5u);   // blank and comment lines still count
  const auto minimal = parse_devices("solo host=10.0.0.9 token_file=/t\n");
  ASSERT_EQ(minimal.problems, std::vector<std::string>{});
  EXPECT_EQ(minimal.devices.at(0).unit, 1);  // SUNGROW_SLAVE_ID's default
  EXPECT_EQ(minimal.devices.at(0).role, DeviceRole::standalone);
}

TEST_F(DevicesFile, EveryProblemGetsItsOwnMessageWithItsLine) {
  const auto parsed = parse_devices(
      "a host=h1 unit=1 role=master token_file=/t\n"           // 1
      "a host=h1 unit=2 token_file=/t\n"                       // 2: id repeats
      "b host=h1 port=502 unit=1 token_file=/t\n"              // 3: (host, port, unit) repeats
      "c host=h1 unit=3 role=master token_file=/t\n"           // 4: a second master at h1:502
      "d host=h2 prot=502 token_file=/t\n"                     // 5: unknown field
      "e host=h6 port=99999 unit=0 role=boss token_file=/t\n"  // 6: three malformed values
      "f unit=4\n"                                             // 7: no host, no token_file
      "bad/id host=h3 token_file=/t\n"                         // 8: invalid id
      "g host=h9 host=h4 token_file=/t stray\n");              // 9: field twice, not name=value
  const auto& p = parsed.problems;
  const std::vector<std::string> expected_fragments = {
      "line 2: device id 'a' repeats (first on line 1)",
      "line 3: h1:502 unit 1 repeats (first on line 1)",
      "line 4: a second master at h1:502 (first on line 1)",
      "line 5: unknown field 'prot'",
      "line 6: port must be a number from 1 to 65535 (got '99999')",
      "line 6: unit must be a number from 1 to 247 (got '0')",
      "line 6: role must be master, slave or standalone (got 'boss')",
      "line 7: host= is missing",
      "line 7: token_file= is missing",
      "line 8: device id 'bad/id' must match",
      "line 9: field host given twice",
      "line 9: 'stray' is not a name=value field",
  };
  for (const auto& fragment : expected_fragments) EXPECT_TRUE(mentions(p, fragment)) << fragment;
  EXPECT_EQ(p.size(), expected_fragments.size()) << testing::PrintToString(p);
  for (const auto& problem : p) EXPECT_EQ(problem.rfind("SUNGROW_DEVICES_FILE line ", 0), 0u);
}

TEST_F(DevicesFile, TwoMastersOnDifferentSitesAreFine) {
  const auto parsed = parse_devices(
      "a host=h1 role=master token_file=/t\n"
      "b host=h1 port=1502 role=master token_file=/t\n"
      "c host=h2 role=master token_file=/t\n");
  EXPECT_EQ(parsed.problems, std::vector<std::string>{});
}

TEST_F(DevicesFile, AnEmptyFileIsAProblem) {
  EXPECT_TRUE(mentions(parse_devices("# nothing yet\n\n").problems, "lists no device"));
}

TEST_F(DevicesFile, ValidFileIsUsableAndTokensAreRead) {
  const auto c = upload_config(write("devices", example()));
  EXPECT_EQ(validate(c, Needs::inverter_and_upload), std::vector<std::string>{});
  const auto devices = configured_devices(c, true).value();
  ASSERT_EQ(devices.size(), 3u);
  EXPECT_EQ(devices[0].token, "token-of-roof-1");
  EXPECT_EQ(devices[2].token, "token-of-garage");
}

TEST_F(DevicesFile, UnreadableOrEmptyTokenFileIsAProblemOfItsLine) {
  write("roof-2.token", "");
  auto text = example();
  text.replace(text.find(token("garage")), token("garage").size(), (dir_ / "missing").string());
  const auto c = upload_config(write("devices", text));
  const auto problems = validate(c, Needs::inverter_and_upload);
  EXPECT_TRUE(mentions(problems, "line 3: token_file " + token("roof-2") + " is empty"));
  EXPECT_TRUE(
      mentions(problems, "line 5: token_file " + (dir_ / "missing").string() + " is not readable"));
  EXPECT_EQ(problems.size(), 2u) << testing::PrintToString(problems);
  // `once` needs no token.
  auto once = c;
  once.device = "roof-1";
  EXPECT_EQ(validate(once, Needs::inverter), std::vector<std::string>{});
}

TEST_F(DevicesFile, SingleDeviceSettingsNextToTheFileAreRefused) {
  CLI::App app;
  EdgeConfig c;
  bind_options(app, c);
  ::setenv("SUNGROW_HOST", "192.168.1.50", 1);
  ::setenv("SUNGROW_SLAVE_ID", "2", 1);
  const auto devices = write("devices", example());
  app.parse(std::vector<std::string>{devices, "--devices-file", "id-1", "--device-id", "5020",
                                     "--port", "secret-token", "--token", "mqtt://broker:1883",
                                     "--mqtt-url"});
  ::unsetenv("SUNGROW_HOST");
  ::unsetenv("SUNGROW_SLAVE_ID");
  c.vps_ingest_url = "https://vps.example.org/v1/ingest";
  c.spool_path = (dir_ / "spool.db").string();
  const auto problems = validate(c, Needs::inverter_and_upload);
  EXPECT_TRUE(mentions(problems, "SUNGROW_HOST and SUNGROW_DEVICES_FILE are both set"));
  EXPECT_TRUE(mentions(problems, "SUNGROW_PORT is set but SUNGROW_DEVICES_FILE"));
  EXPECT_TRUE(mentions(problems, "SUNGROW_SLAVE_ID is set but SUNGROW_DEVICES_FILE"));
  EXPECT_TRUE(mentions(problems, "DEVICE_ID is set but SUNGROW_DEVICES_FILE"));
  EXPECT_TRUE(mentions(problems, "VPS_DEVICE_TOKEN is set but each device"));
  EXPECT_TRUE(mentions(problems, "MQTT_URL is not supported with SUNGROW_DEVICES_FILE"));
  EXPECT_EQ(problems.size(), 6u) << testing::PrintToString(problems);
  EXPECT_FALSE(mentions(problems, "secret-token"));
}

TEST_F(DevicesFile, OnceAndScanNameTheirDevice) {
  auto c = upload_config(write("devices", example()));
  EXPECT_TRUE(mentions(validate(c, Needs::inverter), "lists 3 devices: name one with --device"));
  c.device = "attic";
  EXPECT_TRUE(mentions(validate(c, Needs::inverter), "--device attic is not in"));
  c.device = "roof-2";
  EXPECT_EQ(validate(c, Needs::inverter), std::vector<std::string>{});
  const auto chosen = selected_device(c).value();
  EXPECT_EQ(chosen.unit, 2);
  EXPECT_EQ(chosen.host, "192.168.1.50");
  // Without a devices file, --device is a mistake rather than silently ignored.
  EdgeConfig single;
  single.sungrow_host = "192.168.1.50";
  single.device = "roof-2";
  EXPECT_TRUE(
      mentions(validate(single, Needs::inverter), "SUNGROW_DEVICES_FILE, which is not set"));
}

TEST_F(DevicesFile, TheSingleDeviceModeIsOneDeviceFromTheSeedSettings) {
  EdgeConfig c;
  c.sungrow_host = "192.168.1.50";
  c.sungrow_port = 1502;
  c.slave_id = 3;
  c.vps_device_token = "the-token";
  const auto devices = configured_devices(c, true).value();
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].id, "192.168.1.50");  // DEVICE_ID's default: the host
  EXPECT_EQ(devices[0].port, 1502);
  EXPECT_EQ(devices[0].unit, 3);
  EXPECT_EQ(devices[0].token, "the-token");
}

}  // namespace
}  // namespace sungrow::edge
