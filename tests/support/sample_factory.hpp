// Realistic synthetic samples (a plausible SH4.0RS day) for tests and benchmarks.
#pragma once

#include <cstdint>
#include <string>

#include "sungrow/core/sample.hpp"

namespace sungrow::test {

// The i-th sample of a device polled every 5 s from `start`: every field of the wire contract
// filled with physically plausible values (PV bell curve, load, battery, counters that grow).
// seq is left 0 (the spool assigns it); ts = start + 5 s × i.
Sample realistic_sample(const std::string& device_id, std::int64_t i, Timestamp start);

// 2026-11-20T00:00:00Z, a fixed origin so runs are reproducible.
Timestamp sample_epoch();

}  // namespace sungrow::test
