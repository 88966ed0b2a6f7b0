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
  std::string reason;  // for a person: what is wrong and what is accepted
  // For a program: "required", "invalid" (wrong type or form), "out_of_range" (outside the
  // field's physical range, core/field_ranges.hpp), "ts_out_of_range" (ingest's time window).
  std::string code = "invalid";
  bool operator==(const FieldProblem&) const = default;
};

struct DecodedSample {
  std::optional<Sample> sample;  // set when problems is empty
  std::vector<FieldProblem> problems;
};

// Strict decoding: required device_id/ts/seq, every known measurement a finite number or null,
// enums checked. Physical ranges are a separate check (range_problems): ingest refuses values
// outside them, while stores and caches read back exactly what they were given. Unknown keys are
// ignored (fields may be added to the contract, never renamed).
DecodedSample sample_from_json(const boost::json::value& v);

// One "out_of_range" problem per measurement outside its physical range (field_ranges.hpp).
std::vector<FieldProblem> range_problems(const Sample& s);

}  // namespace sungrow
