// The edge agent: the poll loop (poll → normalize → spool) and the upload loop, wired together.
#pragma once

#include <stop_token>

#include "sungrow/core/result.hpp"
#include "sungrow/edge/config.hpp"
#include "sungrow/edge/modbus/poller.hpp"
#include "sungrow/edge/mqtt/discovery.hpp"
#include "sungrow/edge/mqtt/publisher.hpp"
#include "sungrow/edge/upload/uploader.hpp"

namespace sungrow::edge {

// The units' settings, taken from the validated configuration.
ModbusSettings modbus_settings(const EdgeConfig& config, const DeviceSpec& device);
UploaderSettings uploader_settings(const EdgeConfig& config, const DeviceSpec& device);
// Reads the password file; fails with a message naming the setting.
Result<MqttSettings> mqtt_settings(const EdgeConfig& config);
HaTopics ha_topics(const EdgeConfig& config);

// Runs until `stop` is requested. One poll loop per (host, port) — one connection, its devices
// polled in turn — aligned to the poll interval without drift: the first host's on the calling
// thread, the others on their own threads. The upload loop runs on its own thread, one batch per
// device in turn, each device with its own token. All share the spool (thread-safe) and the
// health state. With MQTT_URL set (one device only), MQTT runs on a further thread, fed by the
// poll loop without ever making it wait. Returns an error only when start-up fails (spool cannot
// be opened, a token file cannot be read).
Result<void> run_agent(const EdgeConfig& config, std::stop_token stop);

}  // namespace sungrow::edge
