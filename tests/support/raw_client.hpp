// RawClient: a blocking HTTP/1.1 test client over a real socket that can misbehave on purpose
// (raw bytes, byte-by-byte sends, pipelining) and never hangs a test (every call has a deadline).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sungrow::test {

using Reply = boost::beast::http::response<boost::beast::http::string_body>;

class RawClient {
 public:
  // Connects to 127.0.0.1:port; throws std::runtime_error when it cannot.
  explicit RawClient(std::uint16_t port);

  // True when a connection to 127.0.0.1:port is refused (nothing listens).
  static bool refused(std::uint16_t port);

  // Writes all of `bytes`; false when the connection is gone (or the deadline passed).
  bool send(std::string_view bytes, std::chrono::milliseconds timeout = std::chrono::seconds(5));

  // Reads one response (a 1xx counts as one); nullopt on close, error or deadline. `head`: the
  // request was HEAD, so the response has no body whatever its Content-Length says.
  std::optional<Reply> read_reply(std::chrono::milliseconds timeout = std::chrono::seconds(5),
                                  bool head = false);

  // A GET/POST with Host and the given extra header lines ("Name: value\r\n…"), then its reply.
  std::optional<Reply> request(std::string_view method, std::string_view target,
                               std::string_view body = {}, std::string_view extra_headers = {});

  // For replies that go on (event streams): reads raw bytes, framing and all, until what was
  // received since the last call contains `needle`. Returns those bytes when it did, nullopt on
  // close, error or deadline (received() then holds what came).
  std::optional<std::string> read_until(
      std::string_view needle, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  const std::string& received() const { return received_; }

  // True when the server closes the connection (EOF or reset) within `timeout`; bytes that
  // arrive meanwhile are discarded.
  bool wait_closed(std::chrono::milliseconds timeout);

 private:
  void run(std::chrono::milliseconds timeout);

  boost::asio::io_context ioc_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::string received_;  // read_until's bytes since its last success
};

}  // namespace sungrow::test
