// libFuzzer target: arbitrary register images → normalize() → the Sample's invariants hold.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "sungrow/edge/normalize/normalizer.hpp"

namespace {

using sungrow::RegisterImage;
using sungrow::RegisterTable;

// 5-byte records [sel, a, b, value hi, value lo]. Most land on or next to a register of the map
// (wire −1…+2, so 32-bit halves and neighbours get hit); the rest are arbitrary addresses.
RegisterImage image_from(const std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kRecord = 5;
  RegisterImage image;
  for (std::size_t i = 0; i + kRecord <= size; i += kRecord) {
    const std::uint8_t sel = data[i];
    const std::uint8_t a = data[i + 1];
    const std::uint8_t b = data[i + 2];
    const auto value = static_cast<std::uint16_t>((data[i + 3] << 8U) | data[i + 4]);
    if (sel < 0xE0) {
      const auto& def = sungrow::kRegisters[sel % sungrow::kRegisters.size()];
      const auto wire = static_cast<std::uint16_t>(def.wire() + (a % 4U) - 1U);
      // The holding table shares numbers with the input table and must never leak into a sample.
      image.set((b & 0x80U) != 0 ? RegisterTable::holding : def.table, wire, value);
    } else {
      const auto wire = static_cast<std::uint16_t>((a << 8U) | b);
      image.set((sel & 1U) != 0 ? RegisterTable::holding : RegisterTable::input, wire, value);
    }
  }
  return image;
}

[[noreturn]] void violated(const char* what, std::string_view field, double v) {
  std::fprintf(stderr, "invariant violated: %s: %.*s = %.17g\n", what,
               static_cast<int>(field.size()), field.data(), v);
  std::abort();
}

void check(const sungrow::edge::Normalized& n) {
  const auto& s = n.sample;
  for (const auto& f : sungrow::kMeasurementFields) {
    const auto& v = s.*f.member;
    if (!v) continue;
    if (!std::isfinite(*v)) violated("not finite", f.name, *v);
    const auto* range = sungrow::field_range(f.member);
    if (range == nullptr) violated("no range", f.name, *v);
    if (*v < range->min || *v > range->max) violated("out of range", f.name, *v);
    if (*v == 0.0 && std::signbit(*v)) violated("negative zero", f.name, *v);
  }
  if (s.grid_power_w.has_value() != s.grid_power_source.has_value())
    violated("grid_power_source set iff grid_power_w", "grid_power_w", s.grid_power_w.value_or(0));
  if (s.battery_power_w && s.battery_current_a && *s.battery_power_w != 0.0 &&
      *s.battery_current_a != 0.0 && (*s.battery_power_w > 0.0) != (*s.battery_current_a > 0.0))
    violated("current sign differs from power sign", "battery_current_a", *s.battery_current_a);
  if (s.seq != 0 || s.device_id != "fuzz") violated("identity changed", "seq", 0);
  for (const auto& w : n.warnings)
    if (w.empty()) violated("empty warning", "warnings", 0);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check(sungrow::edge::normalize(image_from(data, size), sungrow::Timestamp{}, "fuzz"));
  return 0;
}
