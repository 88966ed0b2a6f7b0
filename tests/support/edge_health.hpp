// Reading sungrow-edge's health file from end-to-end tests: parsed, and waited on.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <filesystem>
#include <optional>

namespace sungrow::test {

// The parsed health file; nullopt while it is missing or half written.
std::optional<boost::json::value> read_edge_health(const std::filesystem::path& health_file);

// Until the edge reports an empty spool, nothing held in memory and a successful last upload.
bool wait_until_edge_drained(const std::filesystem::path& health_file,
                             std::chrono::milliseconds timeout);

}  // namespace sungrow::test
