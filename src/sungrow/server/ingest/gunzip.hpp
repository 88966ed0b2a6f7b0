// Bounded gzip inflation of request bodies (Content-Encoding: gzip), safe against gzip bombs.
#pragma once

#include <boost/system/result.hpp>
#include <cstddef>
#include <span>
#include <string>

namespace sungrow::ingest {

struct GunzipError {
  enum class Kind {
    too_large,  // the output would exceed max_out: a gzip bomb or simply too much data → 413
    corrupt,    // not gzip, a bad checksum, truncated, or trailing garbage → 400
  };
  Kind kind;
  std::string message;  // for the reply's "detail"; never quotes the body

  int http_status() const { return kind == Kind::too_large ? 413 : 400; }
  std::string_view code() const { return kind == Kind::too_large ? "body_too_large" : "bad_gzip"; }
};

[[noreturn]] void throw_exception_from_error(const GunzipError& e, const boost::source_location&);

using GunzipResult = boost::system::result<std::string, GunzipError>;

// Inflates a gzip stream (several concatenated members allowed, as RFC 1952 and gunzip do).
// Never allocates more than max_out + 1 bytes of output, however the input is crafted.
GunzipResult gunzip_limited(std::span<const char> body, std::size_t max_out);
GunzipResult gunzip_limited(std::span<const std::byte> body, std::size_t max_out);

// True when the bytes start with the gzip magic 1f 8b.
bool looks_like_gzip(std::span<const char> body);

}  // namespace sungrow::ingest
