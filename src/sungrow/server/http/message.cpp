// Request header lookup and the JSON reply builders every handler uses.
#include "sungrow/server/http/message.hpp"

#include <algorithm>
#include <cctype>

#include "sungrow/core/json_writer.hpp"

namespace sungrow::http {

namespace {
bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}
}  // namespace

std::string_view Request::header_value(std::string_view name) const {
  const auto it = std::find_if(headers.begin(), headers.end(),
                               [&](const Header& h) { return iequals(h.name, name); });
  return it == headers.end() ? std::string_view{} : std::string_view{it->value};
}

std::string error_body(std::string_view code, std::string_view detail) {
  JsonWriter w;
  w.begin_object().field("error", code).field("detail", detail).end_object();
  return w.take();
}

Response error_response(int status, std::string_view code, std::string_view detail) {
  return Response{.status = status,
                  .content_type = "application/json",
                  .body = error_body(code, detail),
                  .headers = {}};
}

Response json_response(std::string body, int status) {
  return Response{
      .status = status, .content_type = "application/json", .body = std::move(body), .headers = {}};
}

}  // namespace sungrow::http
