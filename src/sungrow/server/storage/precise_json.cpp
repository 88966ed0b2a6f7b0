// A Boost.JSON basic_parser handler that builds a value, re-reading doubles with std::from_chars.
#include "sungrow/server/storage/precise_json.hpp"

#include <fmt/format.h>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/error.hpp>
#include <boost/json/value_stack.hpp>
#include <charconv>
#include <string>
#include <system_error>

namespace sungrow::storage {

namespace json = boost::json;

namespace {

// Mirrors boost::json::detail::handler, except for numbers: their full text is collected (a
// number may arrive in parts) and doubles are converted with correct rounding.
struct PreciseHandler {
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  json::value_stack st;
  std::string number;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) { return true; }
  bool on_object_end(std::size_t n, json::error_code&) {
    st.push_object(n);
    return true;
  }
  bool on_array_begin(json::error_code&) { return true; }
  bool on_array_end(std::size_t n, json::error_code&) {
    st.push_array(n);
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    st.push_key(s);
    return true;
  }
  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    st.push_chars(s);
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    st.push_string(s);
    return true;
  }
  bool on_number_part(json::string_view s, json::error_code&) {
    number.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, json::string_view s, json::error_code&) {
    number.append(s.data(), s.size());
    // "-0" is an integer to JSON but -0.0 to the writer that produced it.
    if (number == "-0") {
      st.push_double(-0.0);
    } else {
      st.push_int64(i);
    }
    number.clear();
    return true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, json::error_code&) {
    number.clear();
    st.push_uint64(u);
    return true;
  }
  bool on_double(double, json::string_view s, json::error_code& ec) {
    number.append(s.data(), s.size());
    double value = 0;
    const char* first = number.data();
    const char* last = first + number.size();
    const auto [end, err] = std::from_chars(first, last, value);
    number.clear();
    if (err != std::errc{} || end != last) {
      // Out of range (e.g. 1e400): refuse instead of storing an infinity.
      ec = json::error::exponent_overflow;
      return false;
    }
    st.push_double(value);
    return true;
  }
  bool on_bool(bool b, json::error_code&) {
    st.push_bool(b);
    return true;
  }
  bool on_null(json::error_code&) {
    st.push_null();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

}  // namespace

Result<json::value> parse_json_precise(std::string_view text) {
  json::basic_parser<PreciseHandler> parser(json::parse_options{});
  parser.handler().st.reset();
  json::error_code ec;
  const std::size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (!ec && used < text.size()) ec = json::error::extra_data;
  if (ec) return fail(fmt::format("invalid JSON: {}", ec.message()));
  return parser.handler().st.release();
}

}  // namespace sungrow::storage
