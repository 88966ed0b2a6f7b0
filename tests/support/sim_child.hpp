// sungrow-sim as a child process of an end-to-end test, on the free port it reports.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "child_process.hpp"

namespace sungrow::test {

struct SimChild {
  std::unique_ptr<ChildProcess> process;
  std::string port;  // as sungrow-sim printed it
};

// Starts `<bin_dir>/sungrow-sim --port 0 --time-scale <time_scale> <extra…>` with its output in
// `log` and waits for its "listening on" line. Throws std::runtime_error with the log when it does
// not come. 60 by default: a simulated hour a minute; "1" for tests of real time (clocks).
SimChild start_sim(const std::string& bin_dir, const std::filesystem::path& log,
                   const std::vector<std::string>& extra = {},
                   const std::string& time_scale = "60");

}  // namespace sungrow::test
