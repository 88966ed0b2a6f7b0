// JsonWriter: streaming JSON text with shortest round-trip numbers, for replies built field by
// field.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sungrow {

// Commas are placed automatically; the caller keeps begin/end balanced. Doubles use fmt's shortest
// round-trip form ("231.5", not Boost.JSON 1.81's "2.315E2"); NaN, infinities and nullopt are
// written as null, so the output is always valid JSON.
class JsonWriter {
 public:
  JsonWriter& begin_object();
  JsonWriter& end_object();
  JsonWriter& begin_array();
  JsonWriter& end_array();
  JsonWriter& key(std::string_view name);

  JsonWriter& value(std::optional<double> number);
  JsonWriter& value(double number) { return value(std::optional<double>(number)); }
  JsonWriter& value(std::int64_t number);
  JsonWriter& value(std::string_view text);
  JsonWriter& value(const char* text) { return value(std::string_view(text)); }
  JsonWriter& value(bool flag);
  JsonWriter& null();
  // An already serialized JSON value, inserted verbatim.
  JsonWriter& raw(std::string_view json);

  // key(name).value(v) in one call.
  template <class T>
  JsonWriter& field(std::string_view name, const T& v) {
    return key(name).value(v);
  }

  const std::string& text() const { return out_; }
  std::string take() { return std::move(out_); }

 private:
  void before_value();

  std::string out_;
  std::vector<bool> has_items_;  // one per open container
  bool after_key_ = false;
};

}  // namespace sungrow
