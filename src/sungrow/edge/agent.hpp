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
ModbusSettings modbus_settings(const EdgeConfig& config);
UploaderSettings uploader_settings(const EdgeConfig& config);
// Reads the password file; fails with a message naming the setting.
Result<MqttSettings> mqtt_settings(const EdgeConfig& config);
HaTopics ha_topics(const EdgeConfig& config);

// Runs until `stop` is requested. The poll loop runs on the calling thread, aligned to the poll
// interval without drift; the upload loop runs on its own thread. Both share the spool
// (thread-safe) and the health state. With MQTT_URL set, MQTT runs on a third thread, fed by the
// poll loop without ever making it wait. Returns an error only when start-up fails (spool cannot
// be opened).
Result<void> run_agent(const EdgeConfig& config, std::stop_token stop);

}  // namespace sungrow::edge
