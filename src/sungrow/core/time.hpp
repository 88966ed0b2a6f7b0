// UTC timestamps at millisecond resolution and their RFC 3339 text form (wire contract v1).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sungrow {

using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

// "2026-11-26T23:35:13.123Z" — always UTC, always three fractional digits.
std::string format_rfc3339(Timestamp ts);

// Accepts "YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)"; fractions beyond milliseconds are truncated.
// Returns nullopt for anything else (including out-of-range fields such as month 13).
std::optional<Timestamp> parse_rfc3339(std::string_view text);

// Milliseconds since the Unix epoch: how stores and caches keep a Timestamp.
inline std::int64_t unix_millis(Timestamp ts) {
  return ts.time_since_epoch().count();
}

inline Timestamp now_utc() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

}  // namespace sungrow
