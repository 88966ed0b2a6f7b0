// UTC timestamps at millisecond resolution and their RFC 3339 text form (wire contract v1).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sungrow {

using Timestamp = std::chrono::sys_time<std::chrono::milliseconds>;

// No sample can be older: the first SH-series inverters shipped long after. Anything earlier is a
// clock that never synced (1970) or a corrupted value.
inline constexpr Timestamp kEarliestSampleTs{
    std::chrono::milliseconds{946'684'800'000}};  // 2000-01-01Z

// The last instant RFC 3339 can write: 9999-12-31T23:59:59.999Z.
inline constexpr Timestamp kLatestRfc3339Ts{std::chrono::milliseconds{253'402'300'799'999}};

// True when the UTC year of `ts` has four digits (0000..9999), the only ones RFC 3339 can write.
bool is_rfc3339_year(Timestamp ts);

// "2026-11-26T23:35:13.123Z" — always UTC, always three fractional digits. `ts` must satisfy
// is_rfc3339_year (every parsed timestamp does).
std::string format_rfc3339(Timestamp ts);

// Accepts "YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)"; fractions beyond milliseconds are truncated.
// Returns nullopt for anything else (including out-of-range fields such as month 13, and offsets
// that move the instant out of the UTC years 0000..9999).
std::optional<Timestamp> parse_rfc3339(std::string_view text);

// Milliseconds since the Unix epoch: how stores and caches keep a Timestamp.
inline std::int64_t unix_millis(Timestamp ts) {
  return ts.time_since_epoch().count();
}

inline Timestamp now_utc() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

}  // namespace sungrow
