// Edge configuration: the environment variables (each also a CLI flag) and their validation.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sungrow/core/result.hpp"
#include "sungrow/edge/devices.hpp"

namespace CLI {
class App;
}

namespace sungrow::edge {

struct EdgeConfig {
  // Inverter (SUNGROW_*): all `once` and `scan` need.
  // Several inverters: a devices file in place of the single-device settings (host, port, unit,
  // device id and token), which must then stay unset.
  std::string devices_file;
  std::string device;  // `once` / `scan --device ID`: which device of the file
  std::string sungrow_host;
  int sungrow_port = 502;
  int slave_id = 1;
  int poll_interval_s = 5;
  int inter_register_delay_ms = 20;
  int modbus_timeout_ms = 3'000;
  // Seconds between reads of the inverter's clock (holding registers, so rarely); 0 = never.
  int clock_check_interval_s = 600;

  // Upload (VPS_*).
  std::string vps_ingest_url;
  std::string vps_device_token;
  std::string vps_ca_file;  // empty = system trust store
  bool vps_gzip = false;
  int upload_timeout_s = 30;
  int batch_size = 30;
  int max_batch_size = 1'000;
  int upload_interval_s = 10;

  // Local state.
  std::string device_id;  // default: the inverter host
  std::string spool_path = "/data/spool.db";
  int spool_max_mb = 0;  // 0 = no cap besides the disk
  std::string health_path = "/data/health.json";
  std::string log_level = "info";

  // Home Assistant over MQTT (MQTT_*): off unless mqtt_url is set.
  std::string mqtt_url;
  std::string mqtt_username;
  std::string mqtt_password_file;
  std::string mqtt_ca_file;  // mqtts only; empty = system trust store
  std::string mqtt_discovery_prefix = "homeassistant";
  std::string mqtt_base_topic = "sungrow";

  // Only for tests against the simulator on a loopback address: a real WiNet-S is never on
  // loopback, so the 5 s floor (HC-004) still holds for every real inverter.
  int test_poll_interval_ms = 0;
  // Only for tests: a shorter MQTT keepalive, so a hung broker is noticed within a short test.
  int test_mqtt_keepalive_s = 0;
  // Only for tests: a file saying "synced" or "unsynced", read at every poll in place of the
  // kernel's clock status (no test can make the kernel's answer change).
  std::string test_clock_sync_file;

  // The single-device settings given explicitly (flag or env), by env name: set in the
  // devices-file mode they would be silently ignored, so validate() reports them.
  std::vector<std::string> single_device_settings_given;

  std::chrono::milliseconds poll_interval() const;
  bool several_devices() const { return !devices_file.empty(); }
  std::string effective_device_id() const { return device_id.empty() ? sungrow_host : device_id; }
  bool mqtt_enabled() const { return !mqtt_url.empty(); }
};

// What a command needs; validation checks only that.
enum class Needs { inverter, inverter_and_upload, spool };

// Binds every field to a flag and its environment variable (flag wins over env over default).
void bind_options(CLI::App& app, EdgeConfig& config);

// One clear message per problem; empty when the config is usable for `needs`.
std::vector<std::string> validate(const EdgeConfig& config, Needs needs);

// The devices a validated configuration polls: those of the devices file (their tokens read when
// `with_tokens`), or the one inverter of SUNGROW_HOST with DEVICE_ID and VPS_DEVICE_TOKEN.
Result<std::vector<DeviceSpec>> configured_devices(const EdgeConfig& config, bool with_tokens);

// The device `once` and `scan` read: --device of the file, the file's only device, or SUNGROW_HOST.
Result<DeviceSpec> selected_device(const EdgeConfig& config);

}  // namespace sungrow::edge
