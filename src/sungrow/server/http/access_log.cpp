// Formats the access log line; escaping keeps one request on one line whatever the client sent.
#include "sungrow/server/http/access_log.hpp"

#include <fmt/format.h>

#include <iterator>

namespace sungrow::http {

namespace {

constexpr std::size_t kMaxLoggedPath = 256;

void append_escaped(std::string& out, std::string_view text, std::size_t limit) {
  if (text.empty()) {
    out += '-';  // e.g. the method of a request line that did not parse
    return;
  }
  std::size_t n = 0;
  for (char c : text) {
    if (n == limit) {
      out += "...";
      return;
    }
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x21 || byte > 0x7e || c == '"' || c == '\\') {
      fmt::format_to(std::back_inserter(out), "%{:02X}", byte);
    } else {
      out += c;
    }
    ++n;
  }
}

}  // namespace

std::string access_log_line(const AccessRecord& record) {
  std::string out;
  out.reserve(128);
  append_escaped(out, record.remote_addr, 64);
  out += " \"";
  append_escaped(out, record.method, 32);
  out += ' ';
  append_escaped(out, record.path, kMaxLoggedPath);
  const double ms = std::chrono::duration<double, std::milli>(record.latency).count();
  fmt::format_to(std::back_inserter(out), "\" {} {}B {:.2f}ms route=", record.status,
                 record.body_bytes, ms);
  append_escaped(out, record.route, 64);
  return out;
}

}  // namespace sungrow::http
