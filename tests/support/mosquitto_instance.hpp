// MosquittoInstance: a real, throwaway Debian mosquitto for tests (free loopback port, temp dir,
// no persistence, RAII).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "child_process.hpp"

namespace sungrow::test {

class MosquittoInstance {
 public:
  struct Options {
    // Non-empty: anonymous clients are refused, this user/password is the only account.
    std::string username;
    std::string password;
    // Non-empty: the listener speaks TLS only, with this certificate and key (PEM).
    std::filesystem::path cert_file;
    std::filesystem::path key_file;
  };

  // Starts /usr/sbin/mosquitto on a free 127.0.0.1 port with a config of its own and waits until
  // the port accepts connections. Throws std::runtime_error with the broker's log if it cannot
  // (including a missing binary: tests fail, never skip).
  MosquittoInstance();
  explicit MosquittoInstance(Options options);
  MosquittoInstance(const MosquittoInstance&) = delete;
  MosquittoInstance& operator=(const MosquittoInstance&) = delete;
  ~MosquittoInstance();  // resumes, kills, removes the directory

  std::uint16_t port() const { return port_; }
  // mqtt://127.0.0.1:<port>, or mqtts:// with TLS.
  std::string url() const;
  std::filesystem::path log_path() const { return dir_ / "mosquitto.log"; }
  int pid() const;

  void stop();     // SIGTERM, waits for the exit (SIGKILL after 10 s)
  void pause();    // SIGSTOP: a hung broker whose kernel still accepts connections
  void resume();   // SIGCONT
  void restart();  // stop if running, start again on the same port: retained messages are gone
  bool running();

 private:
  void start();
  bool accepts() const;

  Options options_;
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace sungrow::test
