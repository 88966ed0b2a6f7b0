// Component loggers cloned from the default logger, remade when the default logger changes.
#include "sungrow/core/logger.hpp"

#include <spdlog/spdlog.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sungrow {

namespace {

struct Entry {
  const spdlog::logger* made_from = nullptr;
  std::shared_ptr<spdlog::logger> logger;
};

}  // namespace

spdlog::logger& component_logger(std::string_view component) {
  static std::mutex mutex;
  static std::map<std::string, Entry, std::less<>> loggers;
  // Loggers made for an earlier default logger stay alive: a caller may still be writing to one.
  static std::vector<std::shared_ptr<spdlog::logger>> retired;
  const std::lock_guard lock(mutex);
  spdlog::logger* current_default = spdlog::default_logger_raw();
  auto it = loggers.find(component);
  if (it == loggers.end()) it = loggers.emplace(std::string(component), Entry{}).first;
  Entry& entry = it->second;
  if (entry.made_from != current_default || !entry.logger) {
    if (entry.logger) retired.push_back(std::move(entry.logger));
    entry.logger = current_default->clone(std::string(component));
    entry.made_from = current_default;
  }
  return *entry.logger;
}

}  // namespace sungrow
