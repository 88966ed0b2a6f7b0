// A blocking HTTP(S) client for tests of the server (libcurl): one request, the whole reply.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sungrow::test {

struct HttpReply {
  long status = 0;  // 0 when no reply arrived (see error)
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string error;                                         // curl's message when status is 0

  // The first header named `name` (lower case), "" when absent.
  std::string header(std::string_view name) const;
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  std::string ca_file;  // for https:// to a test CA; verification always on
  std::chrono::milliseconds timeout{10'000};
};

HttpReply http_call(const HttpRequest& request);

// Shorthands: GET or POST with an optional bearer token ("" = no Authorization header).
HttpReply http_get(const std::string& url, const std::string& token = "");
HttpReply http_post_json(const std::string& url, const std::string& body,
                         const std::string& token = "", std::vector<std::string> headers = {});

}  // namespace sungrow::test
