// The line walk of the project's line-per-entry files (token files, the edge's devices file).
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace sungrow {

// Without the surrounding blanks (spaces, tabs, CR and LF).
inline std::string_view trim_blanks(std::string_view s) {
  constexpr std::string_view kBlanks = " \t\r\n";
  const auto b = s.find_first_not_of(kBlanks);
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(kBlanks);
  return s.substr(b, e - b + 1);
}

// Calls entry(line, line_no) for each trimmed line that is neither blank nor a '#' comment;
// line numbers count every line from 1, so messages point at the line an editor shows.
template <class Entry>
void for_each_entry_line(std::string_view contents, Entry entry) {
  std::size_t line_no = 0;
  for (std::size_t start = 0; start < contents.size();) {
    const auto nl = std::min(contents.find('\n', start), contents.size());
    ++line_no;
    const auto line = trim_blanks(contents.substr(start, nl - start));
    if (!line.empty() && line.front() != '#') entry(line, line_no);
    start = nl + 1;
  }
}

}  // namespace sungrow
