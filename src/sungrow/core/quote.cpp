// quote_untrusted: printable and short, or described instead of echoed.
#include "sungrow/core/quote.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace sungrow {

std::string quote_untrusted(std::string_view text, std::size_t max_length) {
  // Enough for the names and values an API client types (zones, frames, times, parameter names);
  // nothing that could read as markup or a control sequence.
  const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view(" ._-:/+").find(c) != std::string_view::npos;
  });
  if (!text.empty() && text.size() <= max_length && plain) return fmt::format("\"{}\"", text);
  return fmt::format("a value of {} bytes that is not shown", text.size());
}

}  // namespace sungrow
