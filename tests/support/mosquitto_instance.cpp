// MosquittoInstance: config and password file, spawn, readiness (a TCP accept), signals, cleanup.
#include "mosquitto_instance.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "free_port.hpp"
#include "sungrow/core/unique_fd.hpp"

namespace sungrow::test {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kMosquitto = "/usr/sbin/mosquitto";
constexpr const char* kMosquittoPasswd = "/usr/bin/mosquitto_passwd";

}  // namespace

MosquittoInstance::MosquittoInstance() : MosquittoInstance(Options{}) {}

MosquittoInstance::MosquittoInstance(Options options) : options_(std::move(options)) {
  if (::access(kMosquitto, X_OK) != 0)
    throw std::runtime_error(std::string(kMosquitto) +
                             " is missing: install Debian's mosquitto and mosquitto-clients "
                             "packages (scripts/install-deps); MQTT tests never skip");
  dir_ = make_temp_dir("sgmqtt");
  try {
    if (!options_.username.empty()) {
      ChildProcess passwd({kMosquittoPasswd, "-b", "-c", (dir_ / "passwd").string(),
                           options_.username, options_.password},
                          dir_ / "passwd.log");
      if (passwd.wait(30s) != 0)
        throw std::runtime_error("mosquitto_passwd failed: " + read_text_file(dir_ / "passwd.log"));
    }
    for (int attempt = 1;; ++attempt) {
      port_ = free_loopback_port();
      try {
        start();
        return;
      } catch (const std::exception&) {
        // Lost the race for the port to another process: pick another one, a few times.
        const bool taken =
            read_text_file(log_path()).find("Address already in use") != std::string::npos;
        if (!taken || attempt == 5) throw;
      }
    }
  } catch (...) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
    throw;
  }
}

MosquittoInstance::~MosquittoInstance() {
  if (process_) {
    process_->signal(SIGCONT);
    process_->signal(SIGKILL);
    process_->wait(10s);
    process_.reset();
  }
  std::error_code ec;
  if (!::getenv("SUNGROW_KEEP_TEST_DIRS")) fs::remove_all(dir_, ec);
}

std::string MosquittoInstance::url() const {
  return (options_.cert_file.empty() ? "mqtt://127.0.0.1:" : "mqtts://127.0.0.1:") +
         std::to_string(port_);
}

int MosquittoInstance::pid() const {
  return process_ ? process_->pid() : -1;
}

void MosquittoInstance::start() {
  std::ofstream conf(dir_ / "mosquitto.conf", std::ios::trunc);
  conf << "listener " << port_ << " 127.0.0.1\n"
       << "persistence false\n"
       << "log_dest stderr\n"
       << "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
       << "connection_messages true\n"
       << "log_timestamp_format %H:%M:%S\n";
  // As root, mosquitto would switch to the 'mosquitto' user, which cannot read this root-owned
  // temporary directory; the broker only ever listens on loopback for a test.
  if (::geteuid() == 0) conf << "user root\n";
  if (options_.username.empty()) {
    conf << "allow_anonymous true\n";
  } else {
    conf << "allow_anonymous false\npassword_file " << (dir_ / "passwd").string() << "\n";
  }
  if (!options_.cert_file.empty())
    conf << "certfile " << options_.cert_file.string() << "\nkeyfile " << options_.key_file.string()
         << "\n";
  conf.close();

  std::error_code ignored;
  fs::remove(log_path(), ignored);  // the log then speaks of this start only
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{kMosquitto, "-c", (dir_ / "mosquitto.conf").string()}, log_path());
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (!accepts()) {
    if (!process_->running()) {
      process_.reset();
      throw std::runtime_error("mosquitto exited during start-up on port " + std::to_string(port_) +
                               "; its log:\n" + read_text_file(log_path()));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      process_.reset();
      throw std::runtime_error("mosquitto did not accept connections within 15 s; its log:\n" +
                               read_text_file(log_path()));
    }
    std::this_thread::sleep_for(10ms);
  }
}

bool MosquittoInstance::accepts() const {
  const UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port_);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
}

void MosquittoInstance::stop() {
  if (!process_) return;
  process_->terminate(10s);
  process_.reset();
}

void MosquittoInstance::pause() {
  if (process_) process_->signal(SIGSTOP);
}

void MosquittoInstance::resume() {
  if (process_) process_->signal(SIGCONT);
}

void MosquittoInstance::restart() {
  stop();
  start();
}

bool MosquittoInstance::running() {
  return process_ && process_->running();
}

}  // namespace sungrow::test
