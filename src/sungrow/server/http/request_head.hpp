// The request head as the transport reads and judges it before routing: header bytes counted by
// the transport itself, framing checked against RFC 9112, the target's path in origin- or
// absolute-form. Internal to the transport (Beast types); the fuzzer drives it directly.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace sungrow::http::detail {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

// Feeds bytes to a parser that is still reading the request line and headers. Beast 1.81 applies
// its header limit to what one parse call sees, not to the whole header, so a client sending the
// header in small slices would never hit it: this counts every byte the header took.
class HeadReader {
 public:
  HeadReader(RequestParser& parser, std::size_t max_header_bytes);

  // Parses what it can of `bytes`, never past the end of the header, and returns how many bytes
  // were consumed (the caller drops them from its buffer). An incomplete header is not an error:
  // call again with more bytes. `ec` is set on a malformed head and to header_limit when the head
  // grows past the limit.
  std::size_t put(boost::asio::const_buffer bytes, boost::beast::error_code& ec);

  bool done() const { return parser_.is_header_done(); }
  std::size_t header_bytes() const { return header_bytes_; }

 private:
  RequestParser& parser_;
  std::size_t max_header_bytes_;
  std::size_t header_bytes_ = 0;
};

// A complete head the transport refuses to act on; the connection is closed after the reply.
struct HeadRefusal {
  int status;  // 400 or 501
  std::string code;
  std::string detail;
};

// RFC 9112: an HTTP/1.1 request carries exactly one Host (§3.2), no request carries two; a
// Transfer-Encoding other than exactly "chunked" is not implemented (§6.1, 501), one next to a
// Content-Length or in an HTTP/1.0 request is a framing error (§6.1, §6.3): each is refused, since
// a proxy in front may have framed the message differently (request smuggling).
std::optional<HeadRefusal> check_request_head(const RequestParser& parser);

// The path and query of a request target: origin-form ("/v1/series?frame=day") as it is,
// absolute-form ("http://host/v1/series?frame=day", RFC 9112 §3.2.2) by its path ("/" when it has
// none), asterisk-form as "*". nullopt for anything else (authority-form, garbage).
struct Target {
  std::string path;   // still percent-encoded
  std::string query;  // after '?', still percent-encoded; "" when absent
};
std::optional<Target> split_target(std::string_view target);

}  // namespace sungrow::http::detail
