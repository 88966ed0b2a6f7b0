// Nameplate decoding: the serial's UTF-8 words (kept whole) and the device type code table.
#include "sungrow/edge/normalize/nameplate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <utility>

#include "sungrow/core/words.hpp"

namespace sungrow::edge {
namespace {

// The device type codes of the SH-RS family.
constexpr std::pair<std::uint16_t, std::string_view> kModels[] = {
    {0x0D0D, "SH3.6RS"}, {0x0D0F, "SH5.0RS"}, {0x0D10, "SH6.0RS"}, {0x0D17, "SH3.0RS"},
    {0x0D18, "SH4.0RS"}, {0x0D1A, "SH8.0RS"}, {0x0D1B, "SH10RS"},
};

bool visible(char c) {
  return c > ' ' && c < 0x7F;
}

}  // namespace

std::optional<std::string_view> model_name(std::uint16_t device_type) {
  const auto* it = std::find_if(std::begin(kModels), std::end(kModels),
                                [&](const auto& m) { return m.first == device_type; });
  if (it == std::end(kModels)) return std::nullopt;
  return it->second;
}

std::string Nameplate::model() const {
  if (!device_type) return "Sungrow inverter";
  if (const auto name = model_name(*device_type)) return std::string(*name);
  return fmt::format("Sungrow 0x{:04X}", *device_type);
}

std::optional<Nameplate> read_nameplate(const RegisterImage& image) {
  const auto& serial_def = reg(RegisterId::serial_number);
  std::array<std::uint16_t, 10> words{};
  static_assert(reg(RegisterId::serial_number).words == words.size());
  if (!image.read(serial_def, words)) return std::nullopt;
  // Padding is NUL (dropped by words::utf8); some firmware pads with spaces instead.
  auto serial = words::utf8(words);
  while (!serial.empty() && serial.back() == ' ') serial.pop_back();
  if (serial.empty() || !std::all_of(serial.begin(), serial.end(), visible)) return std::nullopt;

  Nameplate plate{.serial = std::move(serial), .device_type = std::nullopt};
  const auto& type_def = reg(RegisterId::device_type);
  if (const auto type = image.get(type_def.table, type_def.wire()); type && *type != 0xFFFF)
    plate.device_type = *type;
  return plate;
}

}  // namespace sungrow::edge
