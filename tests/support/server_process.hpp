// sungrow-server as a child process for end-to-end tests: started, awaited, stopped.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "child_process.hpp"

namespace sungrow::test {

class ServerProcess {
 public:
  // Runs `binary` with `args` (plus --port 0 and --listen-addr 127.0.0.1 unless given) and waits
  // for its "listening on" line. Throws std::runtime_error with the log when it does not come up.
  ServerProcess(const std::string& binary, std::vector<std::string> args,
                const std::filesystem::path& log_path, std::vector<std::string> env = {});

  std::uint16_t port() const { return port_; }
  std::string base_url() const;  // "http://127.0.0.1:<port>"
  std::string log() const;

  // SIGTERM, then the exit status (nullopt if it did not exit within `timeout`).
  std::optional<int> terminate(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  void kill();  // SIGKILL and reap
  ChildProcess& process() { return *process_; }

 private:
  std::filesystem::path log_path_;
  std::unique_ptr<ChildProcess> process_;
  std::uint16_t port_ = 0;
};

}  // namespace sungrow::test
