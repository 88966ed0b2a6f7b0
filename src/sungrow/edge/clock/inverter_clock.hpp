// The inverter's own clock as read from holding registers 5000–5005, checked word by word.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>

#include "sungrow/core/result.hpp"

namespace sungrow::edge {

// Year, month, day, hour, minute, second (kInverterClockRegisters) → the inverter's local time.
// Fails, naming the bad word, for anything that is not a real calendar date and time in
// 2000–2099: 0xFFFF words, month 13, 30 February, hour 24 (never a value guessed from garbage).
Result<std::chrono::local_seconds> decode_inverter_clock(std::span<const std::uint16_t> words);

// "2026-12-06T17:43:12" (no zone: it is the inverter's local time).
std::string format_local(std::chrono::local_seconds t);

}  // namespace sungrow::edge
