// RedisInstance: spawn, readiness (a raw PING over TCP), signals, and cleanup.
#include "redis_instance.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "free_port.hpp"

namespace sungrow::test {

namespace {

constexpr const char* kRedisServer = "/usr/bin/redis-server";

// Closes the fd on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

RedisInstance::RedisInstance() : RedisInstance(Options{}) {}

RedisInstance::RedisInstance(Options options) : options_(std::move(options)) {
  if (::access(kRedisServer, X_OK) != 0) {
    throw std::runtime_error(std::string(kRedisServer) +
                             " is missing or not executable: install Debian's redis-server "
                             "package (scripts/install-deps); Redis tests never skip");
  }
  dir_ = make_temp_dir("sgredis");  // short: the unix socket path must fit in sun_path
  try {
    for (int attempt = 1;; ++attempt) {
      port_ = free_loopback_port();
      try {
        start();
        return;
      } catch (const std::exception&) {
        // Lost the race for the port to another process: pick another one, a few times.
        const bool port_taken =
            read_file(log_path()).find("Address already in use") != std::string::npos;
        if (!port_taken || attempt == 5) throw;
      }
    }
  } catch (...) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
    throw;
  }
}

RedisInstance::~RedisInstance() {
  if (process_) {
    process_->signal(SIGCONT);
    process_->signal(SIGKILL);
    process_->wait(std::chrono::seconds{10});
    process_.reset();
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string RedisInstance::url() const {
  const std::string credentials = options_.password.empty() ? "" : ":" + options_.password + "@";
  return "redis://" + credentials + "127.0.0.1:" + std::to_string(port_) + "/0";
}

std::string RedisInstance::unix_url() const {
  const std::string credentials = options_.password.empty() ? "" : ":" + options_.password + "@";
  return "unix://" + credentials + (dir_ / "redis.sock").string();
}

void RedisInstance::start() {
  std::error_code ignored;
  std::filesystem::remove(log_path(), ignored);  // the log then speaks of this attempt only
  std::vector<std::string> argv{kRedisServer,
                                "--port",
                                std::to_string(port_),
                                "--bind",
                                "127.0.0.1",
                                "--unixsocket",
                                (dir_ / "redis.sock").string(),
                                "--unixsocketperm",
                                "700",
                                "--save",
                                "",
                                "--appendonly",
                                "no",
                                "--dir",
                                dir_.string(),
                                "--daemonize",
                                "no",
                                "--logfile",
                                ""};
  if (!options_.password.empty()) {
    argv.emplace_back("--requirepass");
    argv.push_back(options_.password);
  }
  process_ = std::make_unique<ChildProcess>(argv, log_path());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{15};
  while (!answers_ping()) {
    if (!process_->running()) {
      process_.reset();
      throw std::runtime_error("redis-server exited during start-up on port " +
                               std::to_string(port_) + "; its log:\n" + read_file(log_path()));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      process_.reset();  // SIGKILL
      throw std::runtime_error("redis-server did not answer PING within 15 s on port " +
                               std::to_string(port_) + "; its log:\n" + read_file(log_path()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds{10});
  }
}

bool RedisInstance::answers_ping() const {
  const Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return false;
  const timeval limit{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  sockaddr_in addr = loopback(port_);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
  constexpr std::string_view ping = "PING\r\n";
  if (::send(fd.get(), ping.data(), ping.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(ping.size())) {
    return false;
  }
  char buf[128];
  const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
  if (n <= 0) return false;
  const std::string_view reply(buf, static_cast<std::size_t>(n));
  // With --requirepass an unauthenticated PING is refused, which still proves it is serving.
  return reply.starts_with("+PONG") || reply.starts_with("-NOAUTH");
}

void RedisInstance::stop() {
  if (!process_) return;
  process_->terminate(std::chrono::seconds{10});
  process_.reset();
}

void RedisInstance::kill() {
  if (!process_) return;
  process_->signal(SIGCONT);
  process_->signal(SIGKILL);
  process_->wait(std::chrono::seconds{10});
  process_.reset();
}

void RedisInstance::pause() {
  if (process_) process_->signal(SIGSTOP);
}

void RedisInstance::resume() {
  if (process_) process_->signal(SIGCONT);
}

void RedisInstance::restart() {
  stop();
  start();
}

bool RedisInstance::running() {
  return process_ && process_->running();
}

}  // namespace sungrow::test
