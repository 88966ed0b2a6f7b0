// gunzip_limited: zlib inflate with an output cap checked as output is produced, not afterwards.
#include "sungrow/server/ingest/gunzip.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <limits>
#include <new>
#include <stdexcept>

namespace sungrow::ingest {

void throw_exception_from_error(const GunzipError& e, const boost::source_location&) {
  throw std::runtime_error(e.message);
}

namespace {

// Owns an initialised inflate stream so inflateEnd runs on every exit, exceptions included.
class Inflater {
 public:
  Inflater() {
    // windowBits 15 + 16: accept only the gzip wrapper (what Content-Encoding: gzip means).
    if (inflateInit2(&zs_, 15 + 16) != Z_OK) throw std::bad_alloc();
  }
  ~Inflater() { inflateEnd(&zs_); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;
  z_stream& stream() { return zs_; }

 private:
  z_stream zs_{};
};

// zlib counts in uInt; feeding in slices keeps multi-GiB spans correct on any platform.
constexpr std::size_t kSlice = std::size_t{1} << 30;

GunzipResult corrupt(std::string message) {
  return GunzipResult(boost::system::in_place_error,
                      GunzipError{GunzipError::Kind::corrupt, std::move(message)});
}

GunzipResult too_large(std::size_t max_out) {
  return GunzipResult(
      boost::system::in_place_error,
      GunzipError{GunzipError::Kind::too_large,
                  fmt::format("gzip body inflates to more than {} bytes", max_out)});
}

}  // namespace

bool looks_like_gzip(std::span<const char> body) {
  return body.size() >= 2 && static_cast<unsigned char>(body[0]) == 0x1f &&
         static_cast<unsigned char>(body[1]) == 0x8b;
}

GunzipResult gunzip_limited(std::span<const std::byte> body, std::size_t max_out) {
  return gunzip_limited(
      std::span<const char>(reinterpret_cast<const char*>(body.data()), body.size()), max_out);
}

GunzipResult gunzip_limited(std::span<const char> body, std::size_t max_out) {
  if (body.empty()) return corrupt("gzip body is empty");
  Inflater inflater;
  z_stream& zs = inflater.stream();

  // One byte beyond the cap is room enough to tell "exactly max_out" from "more than max_out".
  const std::size_t cap =
      max_out == std::numeric_limits<std::size_t>::max() ? max_out : max_out + 1;
  std::string out;
  std::size_t produced = 0;
  std::size_t consumed = 0;  // bytes of `body` handed to zlib so far

  for (;;) {
    if (zs.avail_in == 0 && consumed < body.size()) {
      const std::size_t n = std::min(kSlice, body.size() - consumed);
      // zlib's API is not const-correct; inflate never writes through next_in.
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(body.data() + consumed));
      zs.avail_in = static_cast<uInt>(n);
      consumed += n;
    }
    if (produced == out.size()) {
      if (out.size() >= cap) return too_large(max_out);
      // Grow geometrically from a small start, so a tiny body never reserves max_out up front.
      const std::size_t want = std::max<std::size_t>(16 * 1024, out.size() * 2);
      out.resize(std::min(cap, want));
    }
    const std::size_t room = std::min(kSlice, out.size() - produced);
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + produced);
    zs.avail_out = static_cast<uInt>(room);

    const int rc = inflate(&zs, Z_NO_FLUSH);
    produced += room - zs.avail_out;
    if (produced > max_out) return too_large(max_out);

    switch (rc) {
      case Z_OK:
        continue;
      case Z_STREAM_END:
        if (zs.avail_in == 0 && consumed == body.size()) {
          out.resize(produced);
          return GunzipResult(boost::system::in_place_value, std::move(out));
        }
        // Another member follows (gzip a b > c); anything else fails in its header check.
        if (inflateReset(&zs) != Z_OK) return corrupt("gzip: cannot reset the inflater");
        continue;
      case Z_BUF_ERROR:
        // No progress possible: either out of output room (grow and go on) or out of input.
        if (zs.avail_out == 0) continue;
        if (zs.avail_in == 0 && consumed < body.size()) continue;
        if (zs.avail_in == 0) return corrupt("gzip body is truncated");
        return corrupt("gzip body is corrupt: inflate made no progress");
      case Z_MEM_ERROR:
        throw std::bad_alloc();
      default:  // Z_DATA_ERROR, Z_NEED_DICT, Z_STREAM_ERROR
        return corrupt(fmt::format("gzip body is corrupt: {}",
                                   zs.msg != nullptr ? zs.msg : "invalid deflate data"));
    }
  }
}

}  // namespace sungrow::ingest
