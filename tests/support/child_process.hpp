// A child process for end-to-end tests: spawned with argv/env, output to a file, killed on scope
// exit.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sungrow::test {

class ChildProcess {
 public:
  // Starts `argv[0]` with `argv`; `extra_env` ("NAME=value") is added to the current environment,
  // replacing variables of the same name.
  // stdout and stderr go to `log_path`.
  ChildProcess(std::vector<std::string> argv, const std::filesystem::path& log_path,
               std::vector<std::string> extra_env = {});
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess();  // SIGKILL + reap if still running

  int pid() const { return pid_; }
  void signal(int sig) const;
  // Waits for exit; returns the exit status (or 128 + signal), nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // SIGCONT (a stopped process ignores SIGTERM until then) and SIGTERM; SIGKILL if it has not
  // exited after `grace`. Returns the exit status.
  std::optional<int> terminate(std::chrono::milliseconds grace);
  bool running();

 private:
  int pid_ = -1;
  std::optional<int> status_;
};

// A new directory "<temp>/<prefix>-XXXXXX" (short prefixes: some hold unix socket paths).
// Throws std::runtime_error.
std::filesystem::path make_temp_dir(std::string_view prefix);

// A process's resident set (VmRSS of /proc/<pid>/status) in KiB; -1 when it cannot be read.
long rss_kib(int pid);

// The whole file ("" when it cannot be read).
std::string read_text_file(const std::filesystem::path& path);

// Polls `path` until it contains `needle` or the timeout passes; returns the file's text.
std::optional<std::string> wait_for_text(const std::filesystem::path& path, std::string_view needle,
                                         std::chrono::milliseconds timeout);

}  // namespace sungrow::test
