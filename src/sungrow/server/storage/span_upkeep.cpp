// Touched spans and their recomputation from the finer pieces.
#include "sungrow/server/storage/span_upkeep.hpp"

namespace sungrow::storage {

namespace {

std::int64_t floor_ms(rollup::SpanLevel level, std::int64_t ms) {
  return unix_millis(rollup::level_floor(level, Timestamp{std::chrono::milliseconds{ms}}));
}

// The span of `level` at `key` from the pieces of `finer` inside it.
std::optional<rollup::Span> summarize_at(const SpanKey& key, rollup::SpanLevel level,
                                         const std::map<SpanKey, rollup::Span>& finer,
                                         std::vector<rollup::Span>& scratch) {
  scratch.clear();
  const Timestamp start{std::chrono::milliseconds{key.second}};
  const Timestamp end = start + rollup::width(level);
  for (auto it = finer.lower_bound(key);
       it != finer.end() && it->first.first == key.first && it->second.start < end; ++it) {
    scratch.push_back(it->second);
  }
  return rollup::summarize(scratch, start, end);
}

}  // namespace

TouchedSpans touched_by(const std::set<SpanKey>& base_bucket_keys) {
  TouchedSpans out;
  for (const auto& [device, ms] : base_bucket_keys) {
    out.hours.emplace(device, floor_ms(rollup::SpanLevel::hour, ms));
  }
  for (const auto& [device, ms] : out.hours) {
    out.days.emplace(device, floor_ms(rollup::SpanLevel::day, ms));
  }
  return out;
}

SpanUpdates recompute(const TouchedSpans& touched, SpanPieces pieces) {
  SpanUpdates out;
  std::vector<rollup::Span> scratch;
  for (const auto& key : touched.hours) {
    auto span = summarize_at(key, rollup::SpanLevel::hour, pieces.base, scratch);
    if (span) {
      pieces.hours.insert_or_assign(key, *span);
    } else {
      pieces.hours.erase(key);
    }
    out.hours.push_back({key, std::move(span)});
  }
  for (const auto& key : touched.days) {
    out.days.push_back({key, summarize_at(key, rollup::SpanLevel::day, pieces.hours, scratch)});
  }
  return out;
}

}  // namespace sungrow::storage
