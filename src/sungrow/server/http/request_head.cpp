// Reading and judging a request head before routing: header byte counting, RFC 9112 framing
// checks and request-target forms.
#include "sungrow/server/http/request_head.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>

namespace sungrow::http::detail {

namespace beast = boost::beast;
namespace bhttp = beast::http;

HeadReader::HeadReader(RequestParser& parser, std::size_t max_header_bytes)
    : parser_(parser), max_header_bytes_(max_header_bytes) {}

std::size_t HeadReader::put(boost::asio::const_buffer bytes, beast::error_code& ec) {
  ec = {};
  if (parser_.is_header_done()) return 0;
  std::size_t consumed = parser_.put(bytes, ec);
  if (ec == bhttp::error::need_more) ec = {};
  header_bytes_ += consumed;
  // What is still unparsed counts too: a header line longer than the limit never completes, and
  // waiting for its end would buffer it all.
  if (!ec && (header_bytes_ > max_header_bytes_ ||
              (!parser_.is_header_done() &&
               header_bytes_ + (bytes.size() - consumed) > max_header_bytes_))) {
    ec = bhttp::error::header_limit;
  }
  return consumed;
}

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

HeadRefusal bad_request(std::string detail) {
  return HeadRefusal{.status = 400, .code = "bad_request", .detail = std::move(detail)};
}

}  // namespace

std::optional<HeadRefusal> check_request_head(const RequestParser& parser) {
  const auto& head = parser.get();
  const auto hosts = head.count(bhttp::field::host);
  if (hosts > 1) return bad_request("more than one Host header");
  if (hosts == 0 && head.version() >= 11)
    return bad_request("an HTTP/1.1 request needs a Host header");

  const auto codings = head.count(bhttp::field::transfer_encoding);
  if (codings == 0) return std::nullopt;
  if (head.version() < 11) {
    return bad_request("Transfer-Encoding is not defined for HTTP/1.0");
  }
  if (head.count(bhttp::field::content_length) > 0) {
    return bad_request("both Transfer-Encoding and Content-Length");
  }
  const std::string_view coding = trim(head[bhttp::field::transfer_encoding]);
  if (codings > 1 || !beast::iequals(coding, "chunked")) {
    // Only chunked is implemented; any other coding (gzip, or a list) would be silently ignored.
    return HeadRefusal{.status = 501,
                       .code = "not_implemented",
                       .detail = "the only transfer coding accepted is chunked"};
  }
  return std::nullopt;
}

std::optional<Target> split_target(std::string_view target) {
  const auto split = [](std::string_view path_and_query) {
    const auto q = path_and_query.find('?');
    const auto path = path_and_query.substr(0, q);
    const auto query =
        q == std::string_view::npos ? std::string_view{} : path_and_query.substr(q + 1);
    return Target{.path = std::string(path.empty() ? std::string_view("/") : path),
                  .query = std::string(query)};
  };
  if (target.starts_with('/')) return split(target);
  if (target == "*") return Target{.path = "*", .query = {}};
  for (const std::string_view scheme : {"http://", "https://"}) {
    if (target.size() > scheme.size() && beast::iequals(target.substr(0, scheme.size()), scheme)) {
      const auto rest = target.substr(scheme.size());
      const auto authority_end = rest.find_first_of("/?");
      if (authority_end == 0) return std::nullopt;  // "http:///path": no authority
      if (authority_end == std::string_view::npos) return Target{.path = "/", .query = {}};
      return split(rest.substr(authority_end));
    }
  }
  return std::nullopt;
}

}  // namespace sungrow::http::detail
