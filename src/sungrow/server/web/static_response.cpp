// Static-file replies: header values, Accept-Encoding and If-None-Match parsing.
#include "sungrow/server/web/static_response.hpp"

#include <array>
#include <boost/beast/core/string.hpp>
#include <string>
#include <utility>

namespace sungrow::web {

namespace {

constexpr std::string_view kWhitespace = " \t";

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(kWhitespace);
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(kWhitespace);
  return text.substr(first, last - first + 1);
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// A weight of zero ("q=0", "q=0.000") refuses the coding; any other weight, or none, admits it.
bool zero_weight(std::string_view params) {
  while (!params.empty()) {
    const auto semi = params.find(';');
    const std::string_view param = trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
    const auto eq = param.find('=');
    if (eq == std::string_view::npos || !boost::beast::iequals(trim(param.substr(0, eq)), "q"))
      continue;
    const std::string_view value = trim(param.substr(eq + 1));
    if (value.empty() || value[0] != '0') return false;
    return value.find_first_not_of("0.", 1) == std::string_view::npos;
  }
  return false;
}

std::string etag_of(const StaticFile& file, bool gzip) {
  // The two encodings are two representations: a cache must not answer one with the other.
  return "\"" + std::string(file.hash) + (gzip ? "-gz\"" : "\"");
}

std::string_view cache_control(Caching caching) {
  switch (caching) {
    case Caching::immutable:
      return "public, max-age=31536000, immutable";
    case Caching::revalidate:
      return "no-cache";
    case Caching::none:
      return "no-store";
  }
  return "no-store";
}

}  // namespace

void add_security_headers(std::vector<http::Header>& headers) {
  headers.push_back({"Content-Security-Policy", std::string(kContentSecurityPolicy)});
  headers.push_back({"X-Content-Type-Options", "nosniff"});
  headers.push_back({"Referrer-Policy", "no-referrer"});
}

bool accepts_gzip(std::string_view accept_encoding) {
  bool star = false;
  while (!accept_encoding.empty()) {
    const auto comma = accept_encoding.find(',');
    const std::string_view item = accept_encoding.substr(0, comma);
    accept_encoding =
        comma == std::string_view::npos ? std::string_view{} : accept_encoding.substr(comma + 1);
    const auto semi = item.find(';');
    const std::string_view coding = trim(item.substr(0, semi));
    const std::string_view params =
        semi == std::string_view::npos ? std::string_view{} : item.substr(semi + 1);
    if (boost::beast::iequals(coding, "gzip") || boost::beast::iequals(coding, "x-gzip"))
      return !zero_weight(params);
    if (coding == "*") star = !zero_weight(params);
  }
  return star;
}

bool none_match_names(std::string_view if_none_match, std::string_view opaque_tag) {
  std::string_view rest = if_none_match;
  while (true) {
    const auto start = rest.find_first_not_of(" \t,");
    if (start == std::string_view::npos) return false;
    rest = rest.substr(start);
    if (rest[0] == '*') return true;
    if (rest.starts_with("W/")) rest = rest.substr(2);
    if (rest.empty() || rest[0] != '"') return false;  // malformed: matches nothing
    const auto close = rest.find('"', 1);
    if (close == std::string_view::npos) return false;
    if (rest.substr(0, close + 1) == opaque_tag) return true;
    rest = rest.substr(close + 1);
  }
}

std::string_view content_type_for(std::string_view file_name) {
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 12> kTypes{{
      {".html", "text/html; charset=utf-8"},
      {".js", "text/javascript; charset=utf-8"},
      {".mjs", "text/javascript; charset=utf-8"},
      {".css", "text/css; charset=utf-8"},
      {".svg", "image/svg+xml"},
      {".png", "image/png"},
      {".ico", "image/x-icon"},
      {".json", "application/json"},
      {".map", "application/json"},
      {".webmanifest", "application/manifest+json"},
      {".txt", "text/plain; charset=utf-8"},
      {".woff2", "font/woff2"},
  }};
  for (const auto& [extension, type] : kTypes) {
    if (ends_with(file_name, extension)) return type;
  }
  return "application/octet-stream";
}

http::Response static_response(const StaticFile& file, const http::Request& request) {
  const bool has_gzip = !file.gzip.empty();
  const bool gzip = has_gzip && accepts_gzip(request.header_value("Accept-Encoding"));

  http::Response response;
  response.content_type = std::string(file.content_type);
  response.headers.push_back({"Cache-Control", std::string(cache_control(file.caching))});
  if (has_gzip) response.headers.push_back({"Vary", "Accept-Encoding"});
  add_security_headers(response.headers);

  if (!file.hash.empty()) {
    const std::string etag = etag_of(file, gzip);
    response.headers.push_back({"ETag", etag});
    const std::string_view if_none_match = request.header_value("If-None-Match");
    if (!if_none_match.empty() && (none_match_names(if_none_match, etag_of(file, false)) ||
                                   none_match_names(if_none_match, etag_of(file, true)))) {
      response.status = 304;
      return response;
    }
  }
  if (gzip) {
    response.headers.push_back({"Content-Encoding", "gzip"});
    response.body = std::string(file.gzip);
  } else {
    response.body = std::string(file.body);
  }
  return response;
}

}  // namespace sungrow::web
