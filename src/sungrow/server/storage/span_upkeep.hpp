// Hour and day spans kept equal to the base buckets they summarise, written once for both stores:
// which spans a change of base buckets touches, and their values recomputed from the pieces below.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "sungrow/server/rollup/span.hpp"

namespace sungrow::storage {

using SpanKey = std::pair<std::string, std::int64_t>;  // device_id, UTC start in ms

struct TouchedSpans {
  std::set<SpanKey> hours;  // the hour spans holding the changed base buckets
  std::set<SpanKey> days;   // the day spans holding those hours
};

// The spans a change of the base buckets at `base_bucket_keys` touches.
TouchedSpans touched_by(const std::set<SpanKey>& base_bucket_keys);

// What a recomputation reads: every stored base bucket in the touched hours (as 5-minute spans)
// and every stored hour span in the touched days; the hours about to be recomputed are replaced.
struct SpanPieces {
  std::map<SpanKey, rollup::Span> base;
  std::map<SpanKey, rollup::Span> hours;
};

// A touched span and its new value; nullopt when no piece is left in it (its row goes).
struct SpanUpdate {
  SpanKey key;
  std::optional<rollup::Span> span;
};

struct SpanUpdates {
  std::vector<SpanUpdate> hours;
  std::vector<SpanUpdate> days;
};

// Each touched span recomputed from everything stored below it, never patched: late data,
// replays and any batch order leave the spans exactly as an in-order load would.
SpanUpdates recompute(const TouchedSpans& touched, SpanPieces pieces);

}  // namespace sungrow::storage
