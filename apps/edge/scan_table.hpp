// Formats `sungrow-edge scan` results: one line per register, decoded, for an installer.
#pragma once

#include <span>
#include <string>

#include "sungrow/edge/modbus/poller.hpp"

namespace sungrow::edge {

std::string format_scan(std::span<const ScannedRegister> scanned);

}  // namespace sungrow::edge
