// fuzz_ingest: arbitrary bodies (gzip when they carry the magic) through parse_ingest's invariants.
#include <boost/json/parse.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sungrow/core/field_ranges.hpp"
#include "sungrow/server/ingest/gunzip.hpp"
#include "sungrow/server/ingest/ingest.hpp"

namespace {

constexpr std::string_view kDevice = "sh4-roof.1";
// The server's clock for every input: 2030-01-01T00:00:00Z.
constexpr sungrow::Timestamp kNow{std::chrono::milliseconds{1'893'456'000'000}};

// libFuzzer reports the input for any abort; a plain abort keeps release-mode checks on.
void require(bool ok) {
  if (!ok) std::abort();
}

void check_error_reply(int status, std::string_view body) {
  boost::system::error_code ec;
  const auto v = boost::json::parse(body, ec);
  require(!ec);
  const auto* o = v.if_object();
  require(o != nullptr && o->contains("error") && o->at("error").is_string() &&
          o->contains("detail"));
  require(status == 400 || status == 403 || status == 413 || status == 422);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  std::string inflated;
  if (sungrow::ingest::looks_like_gzip(body)) {
    auto g = sungrow::ingest::gunzip_limited(body, 1 << 20);
    if (!g) {
      const int s = g.error().http_status();
      require(s == 400 || s == 413);
      return 0;
    }
    require(g.value().size() <= (1u << 20));
    inflated = std::move(g.value());
    body = inflated;
  }

  // Small limits so the size, count and budget paths are reachable from short inputs.
  sungrow::ingest::IngestLimits limits;
  limits.max_samples = 64;
  limits.max_problems = 8;
  limits.max_document_bytes = 4 << 20;
  const auto r = sungrow::ingest::parse_ingest(body, kDevice, limits, kNow);
  if (r.has_value()) {
    const auto& batch = r.value();
    require(batch.samples.size() + batch.duplicates == batch.received);
    require(batch.received <= limits.max_samples);
    for (const auto& s : batch.samples) {
      require(s.device_id == kDevice);
      require(s.ts >= limits.earliest_ts && s.ts <= kNow + limits.max_clock_skew);
      for (const auto& f : sungrow::kMeasurementFields) {
        const auto& v = s.*f.member;
        const auto* range = sungrow::field_range(f.member);
        require(!v || (range != nullptr && *v >= range->min && *v <= range->max));
      }
    }
  } else {
    check_error_reply(r.error().status, r.error().body);
  }
  return 0;
}
