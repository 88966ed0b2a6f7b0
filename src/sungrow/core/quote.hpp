// Quoting untrusted text in messages that go back to clients and into logs.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sungrow {

// "\"text\"" when `text` is 1..max_length characters of [A-Za-z0-9 ._:/+-]; otherwise a description
// that quotes nothing ("a value of 12 bytes that is not shown"), so a hostile value can neither
// flood a reply nor smuggle control characters into a log line.
std::string quote_untrusted(std::string_view text, std::size_t max_length = 64);

}  // namespace sungrow
