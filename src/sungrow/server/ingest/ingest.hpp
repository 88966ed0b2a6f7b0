// POST /v1/ingest without the transport: body text + the token's device in, a batch or a reply out.
#pragma once

#include <boost/system/result.hpp>
#include <chrono>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sungrow/core/sample.hpp"
#include "sungrow/core/time.hpp"

namespace sungrow::ingest {

struct IngestLimits {
  std::size_t max_samples = 10'000;       // the edge's MAX_BATCH_SIZE tops out at 10 000
  std::size_t max_json_bytes = 32 << 20;  // the (decompressed) JSON text
  std::size_t max_problems = 100;         // entries listed in a 422; the total is always given
  std::size_t max_depth = 16;             // a sample needs 4; room for future nested fields
  // Bytes the parsed document may occupy; a hostile body (e.g. millions of tiny values) hits this
  // long before it can exhaust the server's memory.
  std::size_t max_document_bytes = 128 << 20;
  // Accepted sample times: [earliest_ts, now + max_clock_skew]. A sample from before any SH-series
  // inverter existed, or from the future (an edge with a wrong clock), would otherwise become a
  // device's "newest" forever and break every realtime read of it.
  Timestamp earliest_ts = kEarliestSampleTs;
  std::chrono::milliseconds max_clock_skew = std::chrono::minutes(10);
};

// A refused body: the HTTP status and the full JSON reply {"error":…,"detail":…, …}.
struct IngestError {
  int status = 400;  // 400, 403, 413 or 422
  std::string code;  // the reply's "error", e.g. "invalid_samples"
  std::string body;  // the reply, serialized
};

[[noreturn]] void throw_exception_from_error(const IngestError& e, const boost::source_location&);

// An accepted batch, every sample valid and belonging to the token's device.
struct IngestBatch {
  std::vector<Sample> samples;  // body order; repeats of a ts dropped (the first one is kept)
  std::size_t received = 0;     // samples in the body, repeats included: the reply's "received"
  std::size_t duplicates = 0;   // received - samples.size()
};

using IngestParse = boost::system::result<IngestBatch, IngestError>;

// Checks, in this order (the first failing one answers):
//   413 body_too_large   json longer than limits.max_json_bytes
//   400 malformed_json   not JSON, invalid UTF-8, a BOM, nesting deeper than max_depth, trailing
//                        bytes; "offset"/"line"/"column" say where
//   413 body_too_complex the document needs more than max_document_bytes in memory
//   400 invalid_body     not an object with a "samples" array
//   413 too_many_samples more than limits.max_samples
//   403 device_mismatch  a sample names a valid device the token does not grant ("index")
//   422 invalid_samples  every problem as {"index","field","reason","code"} (first max_problems
//                        listed, "problem_count" has the total); a ts outside
//                        [limits.earliest_ts, now + limits.max_clock_skew] is code
//                        "ts_out_of_range", and when it is the only kind of problem in the batch
//                        the reply's "error" is "ts_out_of_range" too
// An empty "samples" array is accepted (received 0): a no-op is not an error.
IngestParse parse_ingest(std::string_view json, std::span<const std::string> token_devices,
                         const IngestLimits& limits, Timestamp now);
// The same for a token of one device.
IngestParse parse_ingest(std::string_view json, std::string_view token_device_id,
                         const IngestLimits& limits, Timestamp now);

}  // namespace sungrow::ingest
