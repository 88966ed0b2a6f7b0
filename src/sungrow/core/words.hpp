// Register word encodings: 16-bit big-endian words, 32-bit values low word first (Sungrow's
// hybrid inverter protocol, section 1.1).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "sungrow/core/registers.hpp"

namespace sungrow::words {

constexpr std::uint32_t u32(std::uint16_t lo, std::uint16_t hi) {
  return static_cast<std::uint32_t>(lo) | (static_cast<std::uint32_t>(hi) << 16U);
}
constexpr std::int32_t s32(std::uint16_t lo, std::uint16_t hi) {
  return static_cast<std::int32_t>(u32(lo, hi));
}
constexpr std::int16_t s16(std::uint16_t w) {
  return static_cast<std::int16_t>(w);
}

constexpr std::array<std::uint16_t, 2> from_u32(std::uint32_t v) {
  return {static_cast<std::uint16_t>(v & 0xFFFFU), static_cast<std::uint16_t>(v >> 16U)};
}
constexpr std::array<std::uint16_t, 2> from_s32(std::int32_t v) {
  return from_u32(static_cast<std::uint32_t>(v));
}
constexpr std::uint16_t from_s16(std::int16_t v) {
  return static_cast<std::uint16_t>(v);
}

// The "not available" markers the protocol defines for each type (section 1.2).
constexpr bool is_sentinel(RegisterType type, std::span<const std::uint16_t> w) {
  switch (type) {
    case RegisterType::u16:
      return w[0] == 0xFFFF;
    case RegisterType::s16:
      return w[0] == 0x7FFF;
    case RegisterType::u32:
      return u32(w[0], w[1]) == 0xFFFFFFFFU;
    case RegisterType::s32:
      return u32(w[0], w[1]) == 0x7FFFFFFFU;
    case RegisterType::utf8:
      return false;
  }
  return false;
}

// Raw integer of a numeric register (no scaling, no sentinel check). Not for utf8.
constexpr std::int64_t raw_value(RegisterType type, std::span<const std::uint16_t> w) {
  switch (type) {
    case RegisterType::u16:
      return w[0];
    case RegisterType::s16:
      return s16(w[0]);
    case RegisterType::u32:
      return u32(w[0], w[1]);
    case RegisterType::s32:
      return s32(w[0], w[1]);
    case RegisterType::utf8:
      return 0;
  }
  return 0;
}

// UTF-8 string register: high byte first, NUL padding dropped.
inline std::string utf8(std::span<const std::uint16_t> w) {
  std::string s;
  for (const auto word : w) {
    for (const auto byte : {static_cast<char>(word >> 8U), static_cast<char>(word & 0xFFU)}) {
      if (byte != '\0') s.push_back(byte);
    }
  }
  return s;
}

}  // namespace sungrow::words
