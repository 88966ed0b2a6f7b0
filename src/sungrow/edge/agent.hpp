// The edge agent: the poll loop (poll → normalize → spool) and the upload loop, wired together.
#pragma once

#include <stop_token>

#include "sungrow/core/result.hpp"
#include "sungrow/edge/config.hpp"
#include "sungrow/edge/modbus/poller.hpp"
#include "sungrow/edge/upload/uploader.hpp"

namespace sungrow::edge {

// The units' settings, taken from the validated configuration.
ModbusSettings modbus_settings(const EdgeConfig& config);
UploaderSettings uploader_settings(const EdgeConfig& config);

// Runs until `stop` is requested. The poll loop runs on the calling thread, aligned to the poll
// interval without drift; the upload loop runs on its own thread. Both share the spool
// (thread-safe) and the health state. Returns an error only when start-up fails (spool cannot be
// opened).
Result<void> run_agent(const EdgeConfig& config, std::stop_token stop);

}  // namespace sungrow::edge
