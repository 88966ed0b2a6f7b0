// Decodes each scanned register with the map's type and divisor, for display only.
#include "scan_table.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "sungrow/core/registers.hpp"
#include "sungrow/core/words.hpp"

namespace sungrow::edge {

namespace {

std::string decode(const RegisterDef& def, std::span<const std::uint16_t> w) {
  if (w.size() < def.words) return "(short read)";
  if (def.type == RegisterType::utf8) return fmt::format("\"{}\"", words::utf8(w));
  if (words::is_sentinel(def.type, w)) return "n/a (sentinel)";
  const auto raw = words::raw_value(def.type, w);
  const double value = static_cast<double>(raw) / def.divisor;
  const bool in_range = value >= def.min && value <= def.max;
  return fmt::format("{}{}{}{}", value, def.unit.empty() ? "" : " ", def.unit,
                     in_range ? "" : "  (outside valid range)");
}

}  // namespace

std::string format_scan(std::span<const ScannedRegister> scanned) {
  std::string out = fmt::format("{:<6} {:<6} {:<24} {:<30} {}\n", "doc", "wire", "register",
                                "raw words", "decoded");
  for (const auto& s : scanned) {
    const auto* def = std::find_if(kRegisters.begin(), kRegisters.end(),
                                   [&](const RegisterDef& d) { return d.doc == s.doc; });
    if (def == kRegisters.end()) continue;
    std::string raw;
    if (s.words) {
      for (const auto w : *s.words) raw += fmt::format("{:04X} ", w);
    }
    const auto decoded =
        s.words ? decode(*def, *s.words) : (s.unsupported ? "UNSUPPORTED: " : "ERROR: ") + s.error;
    out += fmt::format("{:<6} {:<6} {:<24} {:<30} {}\n", def->doc, def->wire(), def->name, raw,
                       decoded);
  }
  return out;
}

}  // namespace sungrow::edge
