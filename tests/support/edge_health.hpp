// Reading sungrow-edge's health file from end-to-end tests: parsed, and waited on.
#pragma once

#include <boost/json/value.hpp>
#include <chrono>
#include <filesystem>
#include <optional>

#include "sungrow/core/time.hpp"

namespace sungrow::test {

// The parsed health file; nullopt while it is missing or half written.
std::optional<boost::json::value> read_edge_health(const std::filesystem::path& health_file);

// Until the edge reports an empty spool, nothing held in memory and a successful last upload.
bool wait_until_edge_drained(const std::filesystem::path& health_file,
                             std::chrono::milliseconds timeout);

// The edge's two loops, each with its own entry in the health file.
enum class EdgeLoop { poll, upload };

// Until the edge reports a poll or an upload with outcome `ok` recorded after `since` (a poll's
// time is when it started, an upload's when it ended). A failed poll that started after the
// inverter went away for good means every sample the edge will ever commit is in its spool: a
// "drained" read before it may come from a health file written before the last poll's enqueue.
bool wait_for_edge_report(const std::filesystem::path& health_file, EdgeLoop loop, bool ok,
                          Timestamp since, std::chrono::milliseconds timeout);

}  // namespace sungrow::test
