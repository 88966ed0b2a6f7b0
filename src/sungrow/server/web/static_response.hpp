// Static-file replies: security headers, cache policy, gzip negotiation and ETag revalidation.
#pragma once

#include <string_view>
#include <vector>

#include "sungrow/server/http/message.hpp"

namespace sungrow::web {

// No inline script or style, nothing from another origin, no framing: the page needs none of it,
// so a script injected through data could do nothing.
inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

enum class Caching {
  immutable,   // a content-hashed name: any cache may keep it for a year
  revalidate,  // index.html: kept, but checked (ETag) before every use, so a new build shows
  none,        // a development web root: never kept
};

// One file as served: views into storage that outlives the reply being built.
struct StaticFile {
  std::string_view content_type;
  std::string_view body;
  std::string_view gzip;  // the same bytes gzip-compressed; empty: none
  std::string_view hash;  // the body's digest, for the ETag; empty: no ETag
  Caching caching = Caching::none;
};

// The reply to GET or HEAD of `file` (the transport drops the body for HEAD): 200 with the gzip
// bytes when the request accepts gzip and `file` has them, or 304 when If-None-Match names the
// current version.
http::Response static_response(const StaticFile& file, const http::Request& request);

// The headers every static reply carries: CSP, nosniff, no referrer.
void add_security_headers(std::vector<http::Header>& headers);

// Whether an Accept-Encoding value admits gzip (by name or "*", with a non-zero weight).
bool accepts_gzip(std::string_view accept_encoding);

// Whether an If-None-Match value names `opaque_tag` (the quoted text without W/) or is "*".
// Weak comparison, as RFC 9110 prescribes for If-None-Match.
bool none_match_names(std::string_view if_none_match, std::string_view opaque_tag);

// The Content-Type for a file name by its extension; application/octet-stream when unknown.
std::string_view content_type_for(std::string_view file_name);

}  // namespace sungrow::web
