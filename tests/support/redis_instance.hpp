// RedisInstance: a real, throwaway redis-server for tests (free loopback port, temp dir, RAII).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "child_process.hpp"

namespace sungrow::test {

class RedisInstance {
 public:
  struct Options {
    std::string password;  // non-empty: started with --requirepass (use URL-safe characters)
  };

  // Starts /usr/bin/redis-server on a free 127.0.0.1 port and a unix socket in a fresh temp
  // directory, without persistence, and waits until it answers PING. Throws std::runtime_error
  // with the server's log if it cannot (including a missing binary: tests fail, never skip).
  RedisInstance();
  explicit RedisInstance(Options options);
  RedisInstance(const RedisInstance&) = delete;
  RedisInstance& operator=(const RedisInstance&) = delete;
  // Resumes (a stopped process ignores SIGTERM until then), kills, removes the directory.
  ~RedisInstance();

  std::uint16_t port() const { return port_; }
  // redis://[:password@]127.0.0.1:<port>/0
  std::string url() const;
  // unix://[:password@]/<dir>/redis.sock
  std::string unix_url() const;
  std::filesystem::path log_path() const { return dir_ / "redis.log"; }

  void stop();     // SIGTERM, waits for the exit (SIGKILL after 10 s)
  void kill();     // SIGKILL, waits for the exit
  void pause();    // SIGSTOP: a hung server whose kernel still accepts connections
  void resume();   // SIGCONT
  void restart();  // stop if running, start again on the same port (data is gone: no persistence)
  bool running();

 private:
  void start();
  bool answers_ping() const;

  Options options_;
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace sungrow::test
