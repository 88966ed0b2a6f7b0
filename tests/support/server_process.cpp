// Starts sungrow-server on an ephemeral port and reads the port back from its first line.
#include "server_process.hpp"

#include <csignal>
#include <regex>
#include <stdexcept>
#include <thread>

namespace sungrow::test {

namespace {
bool has_flag(const std::vector<std::string>& args, std::string_view flag) {
  for (const auto& a : args) {
    if (a == flag || a.starts_with(std::string(flag) + "=")) return true;
  }
  return false;
}
}  // namespace

ServerProcess::ServerProcess(const std::string& binary, std::vector<std::string> args,
                             const std::filesystem::path& log_path, std::vector<std::string> env)
    : log_path_(log_path) {
  std::vector<std::string> argv{binary};
  argv.insert(argv.end(), args.begin(), args.end());
  if (!has_flag(args, "--port")) argv.insert(argv.end(), {"--port", "0"});
  if (!has_flag(args, "--listen-addr")) argv.insert(argv.end(), {"--listen-addr", "127.0.0.1"});
  process_ = std::make_unique<ChildProcess>(argv, log_path, std::move(env));
  // The transport logs its own "listening on" line first; only the app's stdout line, complete
  // with its newline, says the server is ready.
  static const std::regex kReady(R"(sungrow-server listening on \S+:([0-9]+)\n)");
  std::smatch m;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  std::string text;
  while (!std::regex_search(text = log(), m, kReady)) {
    if (std::chrono::steady_clock::now() >= deadline || !process_->running()) {
      throw std::runtime_error("sungrow-server did not start; its log:\n" + text);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  port_ = static_cast<std::uint16_t>(std::stoi(m[1].str()));
}

std::string ServerProcess::base_url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

std::string ServerProcess::log() const {
  return read_text_file(log_path_);
}

std::optional<int> ServerProcess::terminate(std::chrono::milliseconds timeout) {
  process_->signal(SIGTERM);
  return process_->wait(timeout);
}

void ServerProcess::kill() {
  process_->signal(SIGKILL);
  process_->wait(std::chrono::seconds(10));
}

}  // namespace sungrow::test
