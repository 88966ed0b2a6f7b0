// Numbers as text without a formatting library's per-call overhead: the hot paths (JSON replies,
// PostgreSQL rows) write tens of thousands of them a second.
#pragma once

#include <charconv>
#include <cstdint>
#include <string>
#include <system_error>

namespace sungrow {

// The shortest text that reads back as exactly `v` (std::to_chars): what JSON and PostgreSQL's
// float8 input parse to the same double. `v` must be finite.
inline void append_shortest(std::string& out, double v) {
  char buffer[32];  // the longest shortest form ("-2.2250738585072014e-308") is 24 characters
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, v).ptr;
  out.append(buffer, end);
}

inline void append_integer(std::string& out, std::int64_t v) {
  char buffer[24];
  const auto end = std::to_chars(buffer, buffer + sizeof buffer, v).ptr;
  out.append(buffer, end);
}

}  // namespace sungrow
