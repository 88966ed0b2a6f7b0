// RawServer: a byte-level Modbus TCP peer on 127.0.0.1 for frames no well-behaved server sends.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

namespace sungrow::test {

using Bytes = std::vector<std::uint8_t>;

// One parsed FC 0x03/0x04 read request.
struct RawRequest {
  std::uint16_t tid = 0;
  std::uint8_t unit = 0;
  std::uint8_t function = 0;
  std::uint16_t address = 0;  // wire
  std::uint16_t count = 0;
};

inline bool read_exact(int fd, std::uint8_t* out, std::size_t n) {
  std::size_t got = 0;
  while (got < n) {
    const auto r = ::recv(fd, out + got, n - got, 0);
    if (r <= 0) return false;
    got += static_cast<std::size_t>(r);
  }
  return true;
}

inline void write_all(int fd, const Bytes& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    const auto r = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (r <= 0) return;
    sent += static_cast<std::size_t>(r);
  }
}

inline std::optional<RawRequest> read_request(int fd) {
  std::array<std::uint8_t, 12> b{};
  if (!read_exact(fd, b.data(), b.size())) return std::nullopt;
  const auto be = [&](std::size_t i) {
    return static_cast<std::uint16_t>((b[i] << 8U) | b[i + 1]);
  };
  return RawRequest{be(0), b[6], b[7], be(8), be(10)};
}

inline std::uint8_t hi(std::uint16_t v) {
  return static_cast<std::uint8_t>(v >> 8U);
}
inline std::uint8_t lo(std::uint16_t v) {
  return static_cast<std::uint8_t>(v & 0xFFU);
}

// A correct reply whose word at wire address w is `value(w)`.
inline Bytes reply(const RawRequest& r, const std::function<std::uint16_t(std::uint16_t)>& value) {
  const auto len = static_cast<std::uint16_t>(3 + 2 * r.count);
  Bytes out{hi(r.tid), lo(r.tid),  0,
            0,         hi(len),    lo(len),
            r.unit,    r.function, static_cast<std::uint8_t>(2 * r.count)};
  for (std::uint16_t i = 0; i < r.count; ++i) {
    const auto v = value(static_cast<std::uint16_t>(r.address + i));
    out.push_back(hi(v));
    out.push_back(lo(v));
  }
  return out;
}

// The malformed WiNet-S exception frame: MBAP length 2 although unit, function and code (3 bytes)
// follow.
inline Bytes malformed_exception(const RawRequest& r, std::uint8_t code = 2) {
  return {hi(r.tid), lo(r.tid), 0, 0, 0, 2, r.unit, static_cast<std::uint8_t>(r.function | 0x80U),
          code};
}

inline Bytes exception(const RawRequest& r, std::uint8_t code = 2) {
  return {hi(r.tid), lo(r.tid), 0, 0, 0, 3, r.unit, static_cast<std::uint8_t>(r.function | 0x80U),
          code};
}

// Accepts connections one at a time and hands each to `handler(fd, index)`; closes it afterwards.
class RawServer {
 public:
  using Handler = std::function<void(int fd, int index)>;

  explicit RawServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd_ < 0) throw std::runtime_error("socket");
    const int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::listen(listen_fd_, 8) != 0)
      throw std::runtime_error("bind/listen");
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  RawServer(const RawServer&) = delete;
  RawServer& operator=(const RawServer&) = delete;
  ~RawServer() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }

  std::uint16_t port() const { return port_; }
  int accepted() const { return accepted_.load(); }

 private:
  void run() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      const int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) continue;
      const int index = accepted_++;
      // A receive timeout keeps a handler waiting for a client that went away from blocking
      // the destructor forever. It is generous because it is also the longest pause a live client
      // may take between two requests: a test stalled on a loaded CI machine must not see its
      // connection closed under it. (Clients close first in every test, so it costs nothing.)
      timeval tv{10, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      handler_(fd, index);
      ::close(fd);
    }
  }

  Handler handler_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// Serves requests on `fd` with value(w) = w until the peer leaves or `max_requests` were answered.
inline void serve_identity(int fd, int max_requests = 1'000'000) {
  for (int i = 0; i < max_requests; ++i) {
    const auto r = read_request(fd);
    if (!r) return;
    write_all(fd, reply(*r, [](std::uint16_t w) { return w; }));
  }
}

}  // namespace sungrow::test
