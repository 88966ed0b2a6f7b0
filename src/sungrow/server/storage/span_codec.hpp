// The stored form of a precomputed span: a fixed-layout binary record, cheap to decode (a series
// over a year reads hundreds of them per request) and bit-exact for every double.
#pragma once

#include <string>
#include <string_view>

#include "sungrow/core/result.hpp"
#include "sungrow/server/rollup/span.hpp"

namespace sungrow::storage {

// Version byte, then little-endian int64/IEEE-754 fields in declaration order; absent optionals
// are a cleared flag bit and zero bytes, so equal spans always give equal bytes.
std::string span_to_bytes(const rollup::Span& span);

// Exact inverse of span_to_bytes; an error for a wrong size, version or flag.
Result<rollup::Span> span_from_bytes(std::string_view bytes);

// PostgreSQL bytea text form ("\x" + lowercase hex), for text-format parameters and results.
std::string to_bytea_hex(std::string_view bytes);
Result<std::string> from_bytea_hex(std::string_view text);

}  // namespace sungrow::storage
