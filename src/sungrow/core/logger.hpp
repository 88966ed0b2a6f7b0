// Named loggers per component ("spool", "http", "modbus"…): a line says where it comes from in the
// logger's name, not in a prefix each message repeats.
#pragma once

#include <spdlog/logger.h>

#include <string_view>

namespace sungrow {

// The default logger's sinks, formatter and level under `component`'s name. Made at first use and
// made again whenever the default logger is replaced (a program's start, a test capturing the log),
// so every line still reaches the sinks in force. Thread-safe.
spdlog::logger& component_logger(std::string_view component);

}  // namespace sungrow
