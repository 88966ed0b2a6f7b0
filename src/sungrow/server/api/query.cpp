// Query-string parsing on Boost.URL with the strictness the API promises.
#include "sungrow/server/api/query.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/url/parse_query.hpp>

#include "sungrow/core/quote.hpp"

namespace sungrow::api {

std::optional<std::string_view> QueryParams::get(std::string_view name) const {
  const auto it =
      std::find_if(params_.begin(), params_.end(), [&](const auto& p) { return p.first == name; });
  if (it == params_.end()) return std::nullopt;
  return std::string_view(it->second);
}

Result<QueryParams> parse_query(std::string_view query, std::span<const std::string_view> allowed) {
  QueryParams out;
  if (query.empty()) return out;
  // Boost.URL 1.81's parse_query runs strlen over the text (found by fuzz_query: a heap overread
  // on input without a terminating NUL), so it gets a NUL-terminated copy, and a raw NUL — never
  // valid in a URI — is refused before it could cut that strlen short.
  if (query.find('\0') != std::string_view::npos) {
    return fail("the query string is not valid percent-encoded text");
  }
  const std::string terminated(query);
  const auto parsed = boost::urls::parse_query(terminated);
  if (!parsed) return fail("the query string is not valid percent-encoded text");
  std::vector<std::string> seen;
  for (const auto& param : boost::urls::params_view(*parsed)) {
    if (param.key.empty() && !param.has_value) continue;  // "a=1&&b=2": an empty segment
    if (std::find(allowed.begin(), allowed.end(), param.key) == allowed.end()) {
      return fail(fmt::format("unknown query parameter {}; allowed: {}",
                              quote_untrusted(param.key, 32), fmt::join(allowed, ", ")));
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
