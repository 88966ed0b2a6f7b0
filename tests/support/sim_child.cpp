// start_sim: spawn, then the port from the simulator's ready line.
#include "sim_child.hpp"

#include <chrono>
#include <regex>
#include <stdexcept>

namespace sungrow::test {

SimChild start_sim(const std::string& bin_dir, const std::filesystem::path& log,
                   const std::vector<std::string>& extra, const std::string& time_scale) {
  std::vector<std::string> argv{bin_dir + "/sungrow-sim", "--port", "0", "--time-scale",
                                time_scale};
  argv.insert(argv.end(), extra.begin(), extra.end());
  auto sim = std::make_unique<ChildProcess>(argv, log);
  const auto text = wait_for_text(log, "listening on", std::chrono::seconds{10});
  static const std::regex kPort(R"(listening on [0-9.]+:([0-9]+))");
  std::smatch m;
  if (!text || !std::regex_search(*text, m, kPort))
    throw std::runtime_error("sungrow-sim did not start: " + read_text_file(log));
  return SimChild{std::move(sim), m[1].str()};
}

}  // namespace sungrow::test
