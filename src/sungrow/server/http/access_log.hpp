// The access log line written once per request: who, what, outcome, size, time, route.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace sungrow::http {

// Deliberately no headers and no query string: the Authorization header and tokens can never
// reach the log, and a client cannot make the line long.
struct AccessRecord {
  std::string_view remote_addr;
  std::string_view method;
  std::string_view path;
  std::string_view route;
  int status = 0;
  std::size_t body_bytes = 0;  // the response body
  std::chrono::nanoseconds latency{0};
};

// `127.0.0.1:5312 "GET /v1/realtime" 200 312B 1.84ms route=/v1/realtime` — one line; bytes of
// the method/path outside printable ASCII (and '"', '\\') are %XX-escaped, and the path is cut
// at 256 characters (marked with "..."); an empty field is "-".
std::string access_log_line(const AccessRecord& record);

}  // namespace sungrow::http
