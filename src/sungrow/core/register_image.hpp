// RegisterImage: the raw words one poll read, keyed by table and wire address.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <unordered_map>

#include "sungrow/core/registers.hpp"

namespace sungrow {

class RegisterImage {
 public:
  void set(RegisterTable table, std::uint16_t wire, std::uint16_t value) {
    words_[key(table, wire)] = value;
  }
  // Stores `values` at consecutive wire addresses from `first_wire`.
  void set_block(RegisterTable table, std::uint16_t first_wire,
                 std::span<const std::uint16_t> values) {
    for (std::size_t i = 0; i < values.size(); ++i)
      set(table, static_cast<std::uint16_t>(first_wire + i), values[i]);
  }
  std::optional<std::uint16_t> get(RegisterTable table, std::uint16_t wire) const {
    const auto it = words_.find(key(table, wire));
    if (it == words_.end()) return std::nullopt;
    return it->second;
  }
  // Copies all words of `def` into `out` (size ≥ def.words); false if any word was not read.
  bool read(const RegisterDef& def, std::span<std::uint16_t> out) const {
    if (out.size() < def.words) return false;
    for (std::uint16_t i = 0; i < def.words; ++i) {
      const auto w = get(def.table, static_cast<std::uint16_t>(def.wire() + i));
      if (!w) return false;
      out[i] = *w;
    }
    return true;
  }
  bool has(const RegisterDef& def) const {
    for (std::uint16_t i = 0; i < def.words; ++i)
      if (!get(def.table, static_cast<std::uint16_t>(def.wire() + i))) return false;
    return true;
  }
  std::size_t size() const { return words_.size(); }
  void clear() { words_.clear(); }

 private:
  static std::uint32_t key(RegisterTable table, std::uint16_t wire) {
    return (static_cast<std::uint32_t>(table) << 16U) | wire;
  }
  std::unordered_map<std::uint32_t, std::uint16_t> words_;
};

}  // namespace sungrow
