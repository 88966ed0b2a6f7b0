// Query-string parsing on Boost.URL with the strictness the API promises.
#include "sungrow/server/api/query.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/url/parse_query.hpp>

namespace sungrow::api {

namespace {
// Names are echoed in errors only when they look like a parameter name at all.
std::string printable_name(std::string_view name) {
  const bool plain =
      !name.empty() && name.size() <= 32 && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-';
      });
  return plain ? fmt::format("'{}'", name) : std::string("a parameter with an unexpected name");
}
}  // namespace

std::optional<std::string_view> QueryParams::get(std::string_view name) const {
  const auto it =
      std::find_if(params_.begin(), params_.end(), [&](const auto& p) { return p.first == name; });
  if (it == params_.end()) return std::nullopt;
  return std::string_view(it->second);
}

Result<QueryParams> parse_query(std::string_view query, std::span<const std::string_view> allowed) {
  QueryParams out;
  if (query.empty()) return out;
  const auto parsed = boost::urls::parse_query(query);
  if (!parsed) return fail("the query string is not valid percent-encoded text");
  std::vector<std::string> seen;
  for (const auto& param : boost::urls::params_view(*parsed)) {
    if (param.key.empty() && !param.has_value) continue;  // "a=1&&b=2": an empty segment
    if (std::find(allowed.begin(), allowed.end(), param.key) == allowed.end()) {
      return fail(fmt::format("unknown query parameter {}; allowed: {}", printable_name(param.key),
                              fmt::join(allowed, ", ")));
    }
    if (std::find(seen.begin(), seen.end(), param.key) != seen.end()) {
      return fail(fmt::format("query parameter '{}' given more than once", param.key));
    }
    seen.push_back(param.key);
    out.add(param.key, param.value);
  }
  return out;
}

}  // namespace sungrow::api
