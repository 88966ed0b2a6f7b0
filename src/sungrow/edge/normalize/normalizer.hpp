// The normalizer: register image + timestamp → Sample. Pure: no I/O, no clock, no globals.
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sungrow/core/field_ranges.hpp"
#include "sungrow/core/register_image.hpp"
#include "sungrow/core/registers.hpp"
#include "sungrow/core/sample.hpp"

namespace sungrow::edge {

struct Normalized {
  Sample sample;                      // seq stays 0: the spool assigns it
  std::vector<std::string> warnings;  // one line per value nulled for being out of range, etc.
};

// Never throws and never crashes, whatever the image holds (fuzzed). A field whose registers
// are missing, hold a sentinel, or decode outside the physical range is null.
Normalized normalize(const RegisterImage& image, Timestamp ts, std::string_view device_id);

}  // namespace sungrow::edge
