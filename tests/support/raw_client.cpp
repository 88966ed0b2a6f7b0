// RawClient: async Beast operations on a private io_context, each bounded by the stream's timer.
#include "raw_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <stdexcept>
#include <utility>

namespace sungrow::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

namespace {
tcp::endpoint loopback(std::uint16_t port) {
  return {asio::ip::make_address_v4("127.0.0.1"), port};
}
}  // namespace

RawClient::RawClient(std::uint16_t port) : stream_(ioc_) {
  beast::error_code ec;
  stream_.expires_after(std::chrono::seconds(5));
  stream_.async_connect(loopback(port), [&](beast::error_code e) { ec = e; });
  run(std::chrono::seconds(5));
  if (ec) {
    throw std::runtime_error("RawClient: cannot connect to port " + std::to_string(port) + ": " +
                             ec.message());
  }
}

bool RawClient::refused(std::uint16_t port) {
  asio::io_context ioc;
  tcp::socket socket(ioc);
  beast::error_code ec;
  socket.connect(loopback(port), ec);  // loopback: answered at once, never hangs
  return ec == asio::error::connection_refused;
}

void RawClient::run(std::chrono::milliseconds timeout) {
  ioc_.restart();
  // The stream's own timer ends every operation; this bound only guards against a bug here.
  ioc_.run_for(timeout + std::chrono::seconds(5));
}

bool RawClient::send(std::string_view bytes, std::chrono::milliseconds timeout) {
  beast::error_code ec = asio::error::would_block;
  stream_.expires_after(timeout);
  asio::async_write(stream_, asio::buffer(bytes.data(), bytes.size()),
                    [&](beast::error_code e, std::size_t) { ec = e; });
  run(timeout);
  return !ec;
}

std::optional<Reply> RawClient::read_reply(std::chrono::milliseconds timeout, bool head) {
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  if (head) parser.skip(true);
  beast::error_code ec = asio::error::would_block;
  stream_.expires_after(timeout);
  bhttp::async_read(stream_, buffer_, parser, [&](beast::error_code e, std::size_t) { ec = e; });
  run(timeout);
  if (ec) return std::nullopt;
  return parser.release();
}

std::optional<Reply> RawClient::request(std::string_view method, std::string_view target,
                                        std::string_view body, std::string_view extra_headers) {
  std::string raw;
  raw.append(method).append(" ").append(target).append(" HTTP/1.1\r\nHost: test\r\n");
  raw.append(extra_headers);
  if (!body.empty() || method == "POST") {
    raw.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  raw.append("\r\n").append(body);
  if (!send(raw)) return std::nullopt;
  return read_reply(std::chrono::seconds(5), method == "HEAD");
}

std::optional<std::string> RawClient::read_until(std::string_view needle,
                                                 std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string scratch(16 * 1024, '\0');
  auto& socket = stream_.socket();  // as in wait_closed: a timeout must not close the connection
  while (received_.find(needle) == std::string::npos) {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) return std::nullopt;
    beast::error_code ec = asio::error::would_block;
    std::size_t got = 0;
    socket.async_read_some(asio::buffer(scratch), [&](beast::error_code e, std::size_t n) {
      ec = e;
      got = n;
    });
    ioc_.restart();
    ioc_.run_for(left);
    if (ec == asio::error::would_block) {
      socket.cancel();
      ioc_.restart();
      ioc_.run();
      if (got > 0) received_.append(scratch, 0, got);
      continue;  // the deadline check above ends it
    }
    received_.append(scratch, 0, got);
    if (ec) {
      if (received_.find(needle) == std::string::npos) return std::nullopt;
      break;
    }
  }
  return std::exchange(received_, {});
}

bool RawClient::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string scratch(16 * 1024, '\0');
  buffer_.clear();
  // On the socket itself, not the tcp_stream: a tcp_stream timeout closes the socket, and a
  // caller polling "closed yet?" must keep its connection.
  auto& socket = stream_.socket();
  for (;;) {
    const auto left = deadline - std::chrono::steady_clock::now();
    if (left <= std::chrono::steady_clock::duration::zero()) return false;
    beast::error_code ec = asio::error::would_block;
    socket.async_read_some(asio::buffer(scratch),
                           [&](beast::error_code e, std::size_t) { ec = e; });
    ioc_.restart();
    ioc_.run_for(left);
    if (ec == asio::error::would_block) {
      socket.cancel();
      ioc_.restart();
      ioc_.run();  // collects the cancelled read
      return ec != asio::error::operation_aborted && ec != asio::error::would_block;
    }
    if (ec) return true;  // eof, connection reset, …
  }
}

}  // namespace sungrow::test
