// gzip compression for tests that send or inspect Content-Encoding: gzip bodies.
#pragma once

#include <string>
#include <string_view>

namespace sungrow::test {

// A complete gzip member of `in` (zlib level 0..9). Throws std::runtime_error if zlib fails.
std::string gzip_compress(std::string_view in, int level = 9);

}  // namespace sungrow::test
