// The level names spdlog::level::from_str understands (it maps anything else to "off" silently).
#include "sungrow/core/log_level.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace sungrow {

std::optional<std::string> log_level_problem(std::string_view level) {
  static constexpr std::array<std::string_view, 7> kLevels{"trace", "debug",    "info", "warn",
                                                           "error", "critical", "off"};
  if (std::find(kLevels.begin(), kLevels.end(), level) != kLevels.end()) return std::nullopt;
  return fmt::format("LOG_LEVEL '{}' is not one of trace, debug, info, warn, error, critical, off",
                     level);
}

}  // namespace sungrow
