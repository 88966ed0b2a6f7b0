// Reading sungrow-edge's health file from end-to-end tests (see edge_health.hpp).
#include "edge_health.hpp"

#include <boost/json/parse.hpp>
#include <thread>

#include "child_process.hpp"

namespace sungrow::test {

std::optional<boost::json::value> read_edge_health(const std::filesystem::path& health_file) {
  const auto text = read_text_file(health_file);
  if (text.empty()) return std::nullopt;
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec) return std::nullopt;
  return v;
}

bool wait_until_edge_drained(const std::filesystem::path& health_file,
                             std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto h = read_edge_health(health_file)) {
      const auto& spool = h->at("spool");
      if (spool.at("depth").as_int64() == 0 && spool.at("pending_in_memory").as_int64() == 0 &&
          h->at("upload").at("ok").as_bool())
        return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

bool wait_for_edge_report(const std::filesystem::path& health_file, EdgeLoop loop, bool ok,
                          Timestamp since, std::chrono::milliseconds timeout) {
  const char* key = loop == EdgeLoop::poll ? "poll" : "upload";
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto h = read_edge_health(health_file)) {
      const auto& report = h->at(key);
      const auto at = report.at("last_at").is_string()
                          ? parse_rfc3339(std::string_view(report.at("last_at").as_string()))
                          : std::nullopt;
      if (at && *at > since && report.at("ok").as_bool() == ok) return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

}  // namespace sungrow::test
