// fuzz_query: arbitrary query strings through the series parameter parsing (query, frame, times).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sungrow/core/time.hpp"
#include "sungrow/server/api/query.hpp"
#include "sungrow/server/rollup/frames.hpp"

namespace {

constexpr std::string_view kAllowed[] = {"device_id", "frame", "from", "to", "tz"};

void require(bool ok) {
  if (!ok) std::abort();
}

// Error messages go into replies: they must stay short and printable whatever the input was.
void check_message(std::string_view message) {
  require(!message.empty() && message.size() < 400);
  for (const char c : message) require(static_cast<unsigned char>(c) >= 0x20 || c == '\t');
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view query(reinterpret_cast<const char*>(data), size);
  const auto parsed = sungrow::api::parse_query(query, kAllowed);
  if (!parsed) {
    check_message(parsed.error().message);
    return 0;
  }
  if (const auto frame = parsed->get("frame")) {
    const auto f = sungrow::rollup::parse_frame(*frame);
    if (!f) check_message(f.error().message);
  }
  for (const char* name : {"from", "to"}) {
    if (const auto text = parsed->get(name)) {
      // A parsed time must print and parse back to itself.
      if (const auto ts = sungrow::parse_rfc3339(*text)) {
        require(sungrow::parse_rfc3339(sungrow::format_rfc3339(*ts)) == ts);
      }
    }
  }
  return 0;
}
