// Binds the edge settings to CLI11 flags + env vars, and validates them all at once.
#include "sungrow/edge/config.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <filesystem>
#include <utility>

#include "sungrow/core/log_level.hpp"
#include "sungrow/core/sample.hpp"
#include "sungrow/edge/mqtt/mqtt_url.hpp"
#include "sungrow/edge/upload/uploader.hpp"

namespace sungrow::edge {

namespace {

void check_range(std::vector<std::string>& problems, const char* name, int value, int lo, int hi,
                 const char* why = "") {
  if (value < lo || value > hi)
    problems.push_back(
        fmt::format("{} must be between {} and {}{} (got {})", name, lo, hi, why, value));
}

// Home Assistant over MQTT: checked only when MQTT_URL turns it on, but a credential setting
// without MQTT_URL is reported too, rather than silently ignored.
void check_mqtt(std::vector<std::string>& problems, const EdgeConfig& c) {
  if (!c.mqtt_enabled()) {
    for (const auto& [name, value] : {std::pair{"MQTT_USERNAME", &c.mqtt_username},
                                      std::pair{"MQTT_PASSWORD_FILE", &c.mqtt_password_file},
                                      std::pair{"MQTT_CA_FILE", &c.mqtt_ca_file}})
      if (!value->empty())
        problems.push_back(fmt::format("{} is set but MQTT_URL is not (MQTT stays off)", name));
    return;
  }
  const auto endpoint = parse_mqtt_url(c.mqtt_url);
  if (!endpoint) problems.push_back("MQTT_URL " + endpoint.error().message);
  if (!c.mqtt_password_file.empty()) {
    if (c.mqtt_username.empty()) problems.emplace_back("MQTT_PASSWORD_FILE needs MQTT_USERNAME");
    if (auto password = read_password_file(c.mqtt_password_file); !password)
      problems.push_back(password.error().message);
  }
  if (!c.mqtt_ca_file.empty()) {
    if (endpoint && !endpoint->tls)
      problems.emplace_back("MQTT_CA_FILE is only used with an mqtts:// MQTT_URL");
    if (::access(c.mqtt_ca_file.c_str(), R_OK) != 0)
      problems.push_back(fmt::format("MQTT_CA_FILE {} is not readable", c.mqtt_ca_file));
  }
  if (auto problem = topic_prefix_problem(c.mqtt_discovery_prefix))
    problems.push_back("MQTT_DISCOVERY_PREFIX " + *problem);
  if (auto problem = topic_prefix_problem(c.mqtt_base_topic))
    problems.push_back("MQTT_BASE_TOPIC " + *problem);
  if (c.test_mqtt_keepalive_s != 0)
    check_range(problems, "--test-mqtt-keepalive-s", c.test_mqtt_keepalive_s, 5, 30);
}

// The devices-file mode: the file's own problems, and the single-device settings that would be
// ignored next to it.
void check_devices(std::vector<std::string>& problems, const EdgeConfig& c, Needs needs) {
  const bool upload = needs == Needs::inverter_and_upload;
  if (!c.sungrow_host.empty())
    problems.emplace_back(
        "SUNGROW_HOST and SUNGROW_DEVICES_FILE are both set: give one inverter or the list, not "
        "both");
  for (const auto& name : c.single_device_settings_given)
    problems.push_back(fmt::format(
        "{} is set but SUNGROW_DEVICES_FILE lists the devices (set it per device in the file)",
        name));
  if (!c.device_id.empty())
    problems.emplace_back(
        "DEVICE_ID is set but SUNGROW_DEVICES_FILE names the devices (the first word of a line)");
  if (upload && !c.vps_device_token.empty())
    problems.emplace_back(
        "VPS_DEVICE_TOKEN is set but each device of SUNGROW_DEVICES_FILE has its own token_file");
  if (upload && c.mqtt_enabled())
    problems.emplace_back(
        "MQTT_URL is not supported with SUNGROW_DEVICES_FILE yet (Home Assistant over MQTT "
        "publishes one inverter)");
  auto parsed = load_devices_file(c.devices_file, upload);
  problems.insert(problems.end(), parsed.problems.begin(), parsed.problems.end());
  if (upload && c.test_poll_interval_ms != 0) {
    for (const auto& d : parsed.devices)
      if (!is_loopback_host(d.host))
        problems.push_back(fmt::format(
            "--test-poll-interval-ms is only allowed against simulators on a loopback address "
            "(device {} is at {})",
            d.id, d.host));
  }
  if (needs == Needs::inverter && parsed.problems.empty()) {
    const auto& all = parsed.devices;
    if (c.device.empty() && all.size() > 1) {
      problems.push_back(
          fmt::format("SUNGROW_DEVICES_FILE lists {} devices: name one with --device", all.size()));
    } else if (!c.device.empty() && std::none_of(all.begin(), all.end(),
                                                 [&](const auto& d) { return d.id == c.device; })) {
      problems.push_back(fmt::format("--device {} is not in SUNGROW_DEVICES_FILE", c.device));
    }
  }
}

}  // namespace

Result<std::vector<DeviceSpec>> configured_devices(const EdgeConfig& c, bool with_tokens) {
  if (!c.several_devices()) {
    DeviceSpec d;
    d.id = c.effective_device_id();
    d.host = c.sungrow_host;
    d.port = static_cast<std::uint16_t>(c.sungrow_port);
    d.unit = c.slave_id;
    d.token = c.vps_device_token;
    return std::vector<DeviceSpec>{std::move(d)};
  }
  auto parsed = load_devices_file(c.devices_file, with_tokens);
  if (!parsed.problems.empty()) return fail(fmt::format("{}", fmt::join(parsed.problems, "; ")));
  return std::move(parsed.devices);
}

Result<DeviceSpec> selected_device(const EdgeConfig& c) {
  auto all = configured_devices(c, false);
  if (!all) return all.error();
  if (c.device.empty()) {
    if (all->size() != 1) return fail("several devices: name one with --device");
    return std::move(all->front());
  }
  for (auto& d : *all)
    if (d.id == c.device) return std::move(d);
  return fail(fmt::format("--device {} is not in SUNGROW_DEVICES_FILE", c.device));
}

std::chrono::milliseconds EdgeConfig::poll_interval() const {
  if (test_poll_interval_ms > 0) return std::chrono::milliseconds{test_poll_interval_ms};
  return std::chrono::seconds{poll_interval_s};
}

void bind_options(CLI::App& app, EdgeConfig& c) {
  auto opt = [&app](const char* flag, auto& field, const char* env, const char* help) {
    return app.add_option(flag, field, help)->envname(env)->capture_default_str();
  };
  // Records an explicitly given single-device setting (see single_device_settings_given).
  const auto given = [&c](const char* env) {
    return [&c, env](const std::string&) { c.single_device_settings_given.emplace_back(env); };
  };
  opt("--devices-file", c.devices_file, "SUNGROW_DEVICES_FILE",
      "Several inverters: one line per device (instead of --host, --port, --slave-id, "
      "--device-id and --token)");
  opt("--host", c.sungrow_host, "SUNGROW_HOST", "Inverter / WiNet-S address");
  opt("--port", c.sungrow_port, "SUNGROW_PORT", "Modbus TCP port")->each(given("SUNGROW_PORT"));
  opt("--slave-id", c.slave_id, "SUNGROW_SLAVE_ID", "Modbus unit id (1-247)")
      ->each(given("SUNGROW_SLAVE_ID"));
  opt("--poll-interval", c.poll_interval_s, "POLL_INTERVAL_S", "Seconds between polls (>= 5)");
  opt("--inter-register-delay", c.inter_register_delay_ms, "INTER_REGISTER_DELAY_MS",
      "Milliseconds between register-group reads (>= 20)");
  opt("--modbus-timeout", c.modbus_timeout_ms, "MODBUS_TIMEOUT_MS",
      "Modbus response timeout in milliseconds");
  opt("--clock-check-interval", c.clock_check_interval_s, "CLOCK_CHECK_INTERVAL_S",
      "Seconds between reads of the inverter's clock (60-86400; 0 = never)");
  opt("--ingest-url", c.vps_ingest_url, "VPS_INGEST_URL", "Server ingest URL (https://…)");
  opt("--token", c.vps_device_token, "VPS_DEVICE_TOKEN", "Bearer token for the server");
  opt("--ca-file", c.vps_ca_file, "VPS_CA_FILE", "PEM CA bundle for a self-hosted server");
  app.add_flag("--gzip,!--no-gzip", c.vps_gzip, "Gzip upload bodies")->envname("VPS_GZIP");
  opt("--upload-timeout", c.upload_timeout_s, "UPLOAD_TIMEOUT_S", "HTTP timeout in seconds");
  opt("--batch-size", c.batch_size, "BATCH_SIZE", "Samples per upload at normal pace");
  opt("--max-batch-size", c.max_batch_size, "MAX_BATCH_SIZE",
      "Samples per upload while catching up on a backlog");
  opt("--upload-interval", c.upload_interval_s, "UPLOAD_INTERVAL_S",
      "Seconds between uploads at normal pace");
  opt("--device-id", c.device_id, "DEVICE_ID", "Device id (default: the inverter host)");
  opt("--spool-path", c.spool_path, "SPOOL_PATH", "SQLite spool file");
  opt("--spool-max-mb", c.spool_max_mb, "SPOOL_MAX_MB", "Cap on the spool size in MiB (0 = none)");
  opt("--health-path", c.health_path, "HEALTH_PATH", "Health file, rewritten every cycle");
  opt("--log-level", c.log_level, "LOG_LEVEL", "trace, debug, info, warn, error");
  opt("--mqtt-url", c.mqtt_url, "MQTT_URL",
      "Home Assistant broker, mqtt://host:1883 or mqtts://host:8883 (MQTT is off when unset)");
  opt("--mqtt-username", c.mqtt_username, "MQTT_USERNAME", "MQTT user name");
  opt("--mqtt-password-file", c.mqtt_password_file, "MQTT_PASSWORD_FILE",
      "File holding the MQTT password (never logged)");
  opt("--mqtt-ca-file", c.mqtt_ca_file, "MQTT_CA_FILE",
      "PEM CA for an mqtts:// broker (default: the system store; verification is never off)");
  opt("--mqtt-discovery-prefix", c.mqtt_discovery_prefix, "MQTT_DISCOVERY_PREFIX",
      "Home Assistant's discovery prefix");
  opt("--mqtt-base-topic", c.mqtt_base_topic, "MQTT_BASE_TOPIC",
      "Topic under which state and availability are published");
#ifdef SUNGROW_TEST_HOOKS
  // Compiled only into test builds (SUNGROW_TEST_HOOKS), so no installed agent can poll a
  // WiNet-S faster than 5 s, not even through a Modbus proxy on localhost.
  app.add_option("--test-poll-interval-ms", c.test_poll_interval_ms,
                 "Tests only: poll faster than 5 s; refused unless the host is a loopback address")
      ->group("");  // hidden from --help
  app.add_option("--test-mqtt-keepalive-s", c.test_mqtt_keepalive_s,
                 "Tests only: MQTT keepalive in seconds (5-30)")
      ->group("");
  app.add_option("--test-clock-sync-file", c.test_clock_sync_file,
                 "Tests only: a file saying synced or unsynced, read instead of the kernel")
      ->group("");
#endif
}

std::vector<std::string> validate(const EdgeConfig& c, Needs needs) {
  std::vector<std::string> problems;
  const bool upload = needs == Needs::inverter_and_upload;
  if (needs == Needs::inverter || upload) {
    if (c.several_devices()) {
      check_devices(problems, c, needs);
    } else {
      if (c.sungrow_host.empty()) problems.emplace_back("SUNGROW_HOST is required (--host)");
      check_range(problems, "SUNGROW_PORT", c.sungrow_port, 1, 65535);
      check_range(problems, "SUNGROW_SLAVE_ID", c.slave_id, 1, 247);
      if (!c.device.empty())
        problems.push_back(fmt::format(
            "--device {} names a device of SUNGROW_DEVICES_FILE, which is not set", c.device));
    }
    check_range(problems, "INTER_REGISTER_DELAY_MS", c.inter_register_delay_ms, 20, 10'000,
                " (the WiNet-S needs >= 20 ms between reads)");
    check_range(problems, "MODBUS_TIMEOUT_MS", c.modbus_timeout_ms, 100, 60'000);
  }
  if (needs == Needs::inverter_and_upload) {
    check_range(problems, "POLL_INTERVAL_S", c.poll_interval_s, 5, 86'400,
                " (the WiNet-S is not polled faster than every 5 s)");
    if (c.clock_check_interval_s != 0)
      check_range(problems, "CLOCK_CHECK_INTERVAL_S", c.clock_check_interval_s, 60, 86'400,
                  ", or 0 to never read it (a WiNet-S does not support frequent holding reads)");
    if (c.test_poll_interval_ms != 0) {
      if (!c.several_devices() && !is_loopback_host(c.sungrow_host))
        problems.emplace_back(
            "--test-poll-interval-ms is only allowed against a simulator on a loopback address");
      check_range(problems, "--test-poll-interval-ms", c.test_poll_interval_ms, 50, 5'000);
    }
    if (c.vps_ingest_url.empty()) {
      problems.emplace_back("VPS_INGEST_URL is required (--ingest-url)");
    } else if (auto ok = validate_ingest_url(c.vps_ingest_url); !ok) {
      problems.push_back("VPS_INGEST_URL: " + ok.error().message);
    }
    if (c.several_devices()) {
      // Each device's token comes from its token_file (check_devices).
    } else if (c.vps_device_token.empty()) {
      problems.emplace_back("VPS_DEVICE_TOKEN is required (--token)");
    } else if (auto ok = validate_token(c.vps_device_token); !ok) {
      problems.push_back("VPS_DEVICE_TOKEN: " + ok.error().message);
    }
    if (!c.vps_ca_file.empty() && ::access(c.vps_ca_file.c_str(), R_OK) != 0)
      problems.push_back(fmt::format("VPS_CA_FILE {} is not readable", c.vps_ca_file));
    check_range(problems, "UPLOAD_TIMEOUT_S", c.upload_timeout_s, 1, 600);
    check_range(problems, "MAX_BATCH_SIZE", c.max_batch_size, 1, 10'000);
    check_range(problems, "BATCH_SIZE", c.batch_size, 1, std::max(1, c.max_batch_size),
                " (and not above MAX_BATCH_SIZE)");
    check_range(problems, "UPLOAD_INTERVAL_S", c.upload_interval_s, 1, 86'400);
    if (!c.several_devices() && !is_valid_device_id(c.effective_device_id()))
      problems.push_back(fmt::format("DEVICE_ID '{}' must match [A-Za-z0-9._:-]{{1,64}}",
                                     c.effective_device_id()));
    if (c.health_path.empty()) problems.emplace_back("HEALTH_PATH must not be empty");
    check_mqtt(problems, c);
  }
  if (needs == Needs::inverter_and_upload || needs == Needs::spool) {
    check_range(problems, "SPOOL_MAX_MB", c.spool_max_mb, 0, 1'000'000);
    const auto dir = std::filesystem::path(c.spool_path).parent_path();
    const auto dir_text = dir.empty() ? std::string(".") : dir.string();
    if (c.spool_path.empty()) {
      problems.emplace_back("SPOOL_PATH must not be empty");
    } else if (!std::filesystem::is_directory(dir.empty() ? "." : dir)) {
      problems.push_back(fmt::format("SPOOL_PATH directory {} does not exist", dir_text));
    } else if (::access(dir_text.c_str(), W_OK) != 0) {
      problems.push_back(fmt::format("SPOOL_PATH directory {} is not writable", dir_text));
    }
  }
  if (auto problem = log_level_problem(c.log_level)) problems.push_back(std::move(*problem));
  return problems;
}

}  // namespace sungrow::edge
