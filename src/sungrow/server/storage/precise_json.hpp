// JSON parsing with correctly rounded doubles (Boost.JSON 1.81's own parser can be off by an ulp).
#pragma once

#include <boost/json/value.hpp>
#include <string_view>

#include "sungrow/core/result.hpp"

namespace sungrow::storage {

// Like boost::json::parse, but every number with a fraction or exponent is converted with
// std::from_chars, so text written as the shortest round-trip form ("{}" in fmt) reads back to the
// identical double, and "-0" stays -0.0. Stored buckets depend on this for byte-identical rewrites.
Result<boost::json::value> parse_json_precise(std::string_view text);

}  // namespace sungrow::storage
