// Conversions between Beast's request/response and the handler-facing http::Request/Response.
// Internal to the transport (includes Beast): handlers and the app include message.hpp only.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>

#include "sungrow/server/http/message.hpp"

namespace sungrow::http::detail {

using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;
using BeastResponse = boost::beast::http::response<boost::beast::http::string_body>;

// Method, path and query (split_target: origin- or absolute-form), every header — not the body,
// which the transport reads only once the head has been judged.
Request to_request_head(const BeastRequest& head, std::string remote_addr, std::string client_addr);

// Everything a response gets whatever the handler set: `Server: sungrow-server`, Content-Type,
// Content-Length, Connection per `keep_alive`, and `Cache-Control: no-store` on JSON unless the
// handler chose a Cache-Control. The transport owns framing: the handler's Content-Length,
// Transfer-Encoding, Connection, Keep-Alive, Upgrade, Server and Content-Type headers are
// dropped, as is any header with a CR, LF or NUL (no response splitting). A status outside
// 200..599 becomes a 500. For a HEAD request (`head`) the body is counted but not sent.
BeastResponse to_beast(Response&& response, unsigned version, bool keep_alive, bool head);

}  // namespace sungrow::http::detail
