// The stored form of a base bucket: JSON text that reads back to an identical BaseBucket.
#pragma once

#include <string>
#include <string_view>

#include "sungrow/core/result.hpp"
#include "sungrow/server/rollup/base_bucket.hpp"

namespace sungrow::storage {

// Deterministic text (fixed key order, shortest round-trip doubles), so merging the same samples
// in any order writes the same bytes. Fields are named after the response fields they feed:
// {"start_ms":…,"samples":…,"power":{"pv_power_w":{"count","sum_mw","min","max"},…},
//  "soc":{"min","max","last":{"ts_ms","value"}|null},
//  "counters":{"pv_energy_kwh":{"first":{"ts_ms","value"}|null,"second":…,"penultimate":…,
//  "last":…},…}} — "second" and "penultimate" may be missing in buckets stored before they existed.
// Precondition: every double is finite (ingest validation guarantees it; the store checks it).
std::string base_bucket_to_json(const rollup::BaseBucket& bucket);

// Exact inverse of base_bucket_to_json; an error naming the field for anything else.
Result<rollup::BaseBucket> base_bucket_from_json(std::string_view text);

}  // namespace sungrow::storage
