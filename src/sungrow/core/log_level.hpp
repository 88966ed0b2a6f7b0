// LOG_LEVEL: the spdlog level names every program accepts, checked in one place.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sungrow {

// A message naming the accepted levels when `level` is not one of them; nullopt when it is.
std::optional<std::string> log_level_problem(std::string_view level);

}  // namespace sungrow
