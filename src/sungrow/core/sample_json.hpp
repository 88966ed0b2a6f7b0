// The JSON codec of the sample (wire contract v1), shared by the edge and the server.
#pragma once

#include <boost/json/value.hpp>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sungrow/core/sample.hpp"

namespace sungrow {

class JsonWriter;

boost::json::object to_json(const Sample& s);
// Shortest round-trip numbers ("231.5"); Boost.JSON 1.81 would print "2.315E2".
std::string to_json_text(const Sample& s);
// The sample's members into an object the caller has opened (a reply adding its own fields).
void write_sample_fields(JsonWriter& w, const Sample& s);

// {"samples":[…]} — the ingest body.
std::string batch_to_json_text(std::span<const Sample> samples);

// One reason a sample was refused, precise enough for a 422 reply.
struct FieldProblem {
  std::string field;
  std::string reason;
  bool operator==(const FieldProblem&) const = default;
};

struct DecodedSample {
  std::optional<Sample> sample;  // set when problems is empty
  std::vector<FieldProblem> problems;
};

// Strict decoding: required device_id/ts/seq, every known measurement a finite number or null,
// enums checked. Unknown keys are ignored (fields may be added to the contract, never renamed).
DecodedSample sample_from_json(const boost::json::value& v);

}  // namespace sungrow
