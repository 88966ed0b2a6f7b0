// The inverter's nameplate — full serial number and model — decoded from the register image.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "sungrow/core/register_image.hpp"

namespace sungrow::edge {

struct Nameplate {
  std::string serial;                        // every character of registers 4990–4999
  std::optional<std::uint16_t> device_type;  // register 5000

  // "SH4.0RS" for a listed code, "Sungrow 0x1234" otherwise, "Sungrow inverter" without a code.
  std::string model() const;
  bool operator==(const Nameplate&) const = default;
};

// The model name of a device type code, nullopt for codes not listed.
std::optional<std::string_view> model_name(std::uint16_t device_type);

// Pure. nullopt until the serial number has been read and holds at least one visible character
// (the device_info group is read once and then kept in every image).
std::optional<Nameplate> read_nameplate(const RegisterImage& image);

}  // namespace sungrow::edge
