// Strict query-string parsing: known parameters only, each at most once, percent-decoded.
#pragma once

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sungrow/core/result.hpp"

namespace sungrow::api {

class QueryParams {
 public:
  // The decoded value of `name`, nullopt when absent. An empty value ("?tz=") is present and "".
  std::optional<std::string_view> get(std::string_view name) const;

  void add(std::string name, std::string value) {
    params_.emplace_back(std::move(name), std::move(value));
  }

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

// `query` is the raw text after '?'. Refuses (with a message that never echoes more than a short,
// sanitized name) malformed percent-encoding, a parameter not in `allowed` — a typo such as
// "form=" would otherwise be silently ignored and answered with defaults — and a repeated one.
Result<QueryParams> parse_query(std::string_view query, std::span<const std::string_view> allowed);

}  // namespace sungrow::api
