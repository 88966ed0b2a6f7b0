// Sample ⇄ JSON with field-precise validation errors.
#include "sungrow/core/sample_json.hpp"

#include <fmt/format.h>

#include <cmath>
#include <iterator>

#include "sungrow/core/field_ranges.hpp"
#include "sungrow/core/json_writer.hpp"

namespace sungrow {

namespace json = boost::json;

namespace {

json::value optional_number(const std::optional<double>& v) {
  if (!v) return nullptr;
  return *v;
}

json::object power_flow_json(const PowerFlow& f) {
  json::object o;
  for (const auto& bit : kPowerFlowBits) o[bit.key] = f.*bit.member;
  return o;
}

std::optional<double> as_number(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double()) return v.get_double();
  return std::nullopt;
}

}  // namespace

json::object to_json(const Sample& s) {
  json::object o;
  o.reserve(kMeasurementFields.size() + 8);
  o["device_id"] = s.device_id;
  o["ts"] = format_rfc3339(s.ts);
  o["seq"] = s.seq;
  for (const auto& f : kMeasurementFields) o[f.name] = optional_number(s.*f.member);
  o["grid_power_source"] =
      s.grid_power_source ? json::value(to_string(*s.grid_power_source)) : json::value(nullptr);
  if (s.running_state) {
    o["running_state"] = *s.running_state;
    o["running_state_text"] = running_state_text(*s.running_state);
  } else {
    o["running_state"] = nullptr;
    o["running_state_text"] = nullptr;
  }
  o["power_flow"] =
      s.power_flow ? json::value(power_flow_json(*s.power_flow)) : json::value(nullptr);
  o["power_flow_raw"] =
      s.power_flow_raw ? json::value(std::int64_t{*s.power_flow_raw}) : json::value(nullptr);
  o["ts_source"] = s.ts_source ? json::value(to_string(*s.ts_source)) : json::value(nullptr);
  o["ts_adjust_ms"] = s.ts_adjust_ms ? json::value(*s.ts_adjust_ms) : json::value(nullptr);
  return o;
}

void write_sample_fields(JsonWriter& w, const Sample& s) {
  w.field("device_id", std::string_view(s.device_id))
      .field("ts", std::string_view(format_rfc3339(s.ts)))
      .field("seq", s.seq);
  for (const auto& f : kMeasurementFields) w.field(f.name, s.*f.member);
  w.key("grid_power_source");
  if (s.grid_power_source) {
    w.value(to_string(*s.grid_power_source));
  } else {
    w.null();
  }
  if (s.running_state) {
    w.field("running_state", std::int64_t{*s.running_state})
        .field("running_state_text", running_state_text(*s.running_state));
  } else {
    w.key("running_state").null().key("running_state_text").null();
  }
  w.key("power_flow");
  if (s.power_flow) {
    w.begin_object();
    for (const auto& bit : kPowerFlowBits) w.field(bit.key, (*s.power_flow).*bit.member);
    w.end_object();
  } else {
    w.null();
  }
  w.key("power_flow_raw");
  if (s.power_flow_raw) {
    w.value(std::int64_t{*s.power_flow_raw});
  } else {
    w.null();
  }
  w.key("ts_source");
  if (s.ts_source) {
    w.value(to_string(*s.ts_source));
  } else {
    w.null();
  }
  w.key("ts_adjust_ms");
  if (s.ts_adjust_ms) {
    w.value(*s.ts_adjust_ms);
  } else {
    w.null();
  }
}

std::string to_json_text(const Sample& s) {
  JsonWriter w;
  w.begin_object();
  write_sample_fields(w, s);
  w.end_object();
  return w.take();
}

std::string batch_to_json_text(std::span<const Sample> samples) {
  std::string out = "{\"samples\":[";
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (i > 0) out += ',';
    out += to_json_text(samples[i]);
  }
  out += "]}";
  return out;
}

DecodedSample sample_from_json(const json::value& v) {
  DecodedSample out;
  auto& problems = out.problems;
  const auto* obj = v.if_object();
  if (obj == nullptr) {
    problems.push_back({"", "sample must be a JSON object"});
    return out;
  }
  Sample s;

  if (const auto* id = obj->if_contains("device_id"); id == nullptr) {
    problems.push_back({"device_id", "required", "required"});
  } else if (!id->is_string() || !is_valid_device_id(id->get_string())) {
    problems.push_back({"device_id", "must be a string matching [A-Za-z0-9._:-]{1,64}"});
  } else {
    s.device_id = std::string(id->get_string());
  }

  if (const auto* ts = obj->if_contains("ts"); ts == nullptr) {
    problems.push_back({"ts", "required", "required"});
  } else if (!ts->is_string()) {
    problems.push_back({"ts", "must be an RFC 3339 string"});
  } else if (auto parsed = parse_rfc3339(ts->get_string())) {
    s.ts = *parsed;
  } else {
    problems.push_back({"ts", "not a valid RFC 3339 timestamp"});
  }

  if (const auto* seq = obj->if_contains("seq"); seq == nullptr) {
    problems.push_back({"seq", "required", "required"});
  } else if (seq->is_int64() && seq->get_int64() >= 0) {
    s.seq = seq->get_int64();
  } else if (seq->is_uint64() && seq->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    s.seq = static_cast<std::int64_t>(seq->get_uint64());
  } else {
    problems.push_back({"seq", "must be a non-negative integer"});
  }

  for (const auto& f : kMeasurementFields) {
    const auto* fv = obj->if_contains(f.name);
    if (fv == nullptr || fv->is_null()) continue;
    const auto n = as_number(*fv);
    if (!n) {
      problems.push_back({std::string(f.name), "must be a number or null"});
    } else if (!std::isfinite(*n)) {
      problems.push_back({std::string(f.name), "must be finite"});
    } else {
      s.*f.member = *n;
    }
  }

  if (const auto* src = obj->if_contains("grid_power_source"); src && !src->is_null()) {
    const auto parsed =
        src->is_string() ? grid_power_source_from_string(src->get_string()) : std::nullopt;
    if (parsed) {
      s.grid_power_source = parsed;
    } else {
      problems.push_back({"grid_power_source", "must be one of meter, inverter, estimate"});
    }
  }

  if (const auto* rs = obj->if_contains("running_state"); rs && !rs->is_null()) {
    const auto n = as_number(*rs);
    if (n && *n >= 0 && *n <= 0xFFFF && std::floor(*n) == *n) {
      s.running_state = static_cast<std::uint16_t>(*n);
    } else {
      problems.push_back({"running_state", "must be an integer 0..65535"});
    }
  }

  if (const auto* pf = obj->if_contains("power_flow"); pf && !pf->is_null()) {
    const auto* pfo = pf->if_object();
    PowerFlow flow;
    bool ok = pfo != nullptr;
    for (const auto& bit : kPowerFlowBits) {
      if (!ok) break;
      const auto* b = pfo->if_contains(bit.key);
      if (b == nullptr) continue;
      if (!b->is_bool()) {
        ok = false;
        break;
      }
      flow.*bit.member = b->get_bool();
    }
    if (ok) {
      s.power_flow = flow;
    } else {
      problems.push_back({"power_flow", "must be an object of booleans"});
    }
  }

  if (const auto* raw = obj->if_contains("power_flow_raw"); raw && !raw->is_null()) {
    const auto n = as_number(*raw);
    if (n && *n >= 0 && *n <= 0xFFFF && std::floor(*n) == *n) {
      s.power_flow_raw = static_cast<std::uint16_t>(*n);
      // Both come from the same register word: a client sending both must send them in step.
      if (s.power_flow && s.power_flow->bits() != PowerFlow::from_bits(*s.power_flow_raw).bits()) {
        problems.push_back({"power_flow", "disagrees with power_flow_raw"});
      }
    } else {
      problems.push_back({"power_flow_raw", "must be an integer 0..65535"});
    }
  }

  if (const auto* src = obj->if_contains("ts_source"); src && !src->is_null()) {
    const auto parsed = src->is_string() ? ts_source_from_string(src->get_string()) : std::nullopt;
    if (parsed) {
      s.ts_source = parsed;
    } else {
      problems.push_back({"ts_source", "must be one of ntp, inverter, unsynced, bumped"});
    }
  }

  if (const auto* adj = obj->if_contains("ts_adjust_ms"); adj && !adj->is_null()) {
    const auto n = as_number(*adj);
    const auto limit = static_cast<double>(kMaxTsAdjustMs);
    if (!n || std::floor(*n) != *n || *n < -limit || *n > limit) {
      problems.push_back(
          {"ts_adjust_ms", fmt::format("must be an integer within ±{} (ms)", kMaxTsAdjustMs)});
    } else if (s.ts_source != TsSource::inverter && s.ts_source != TsSource::bumped) {
      // Only a corrected or bumped ts differs from the edge clock's reading.
      problems.push_back({"ts_adjust_ms", "is only sent with ts_source inverter or bumped"});
    } else {
      s.ts_adjust_ms = static_cast<std::int64_t>(*n);
    }
  }

  if (problems.empty()) out.sample = std::move(s);
  return out;
}

std::vector<FieldProblem> range_problems(const Sample& s) {
  std::vector<FieldProblem> problems;
  for (const auto& f : kMeasurementFields) {
    const auto& v = s.*f.member;
    const FieldRange* range = field_range(f.member);
    if (!v || range == nullptr || (*v >= range->min && *v <= range->max)) continue;
    // A value no SH-series inverter can report (a unit mix-up, a corrupted client): stored, it
    // would skew every average and total it falls into.
    problems.push_back(
        {std::string(f.name),
         fmt::format("{} is outside the physical range [{}, {}]", *v, range->min, range->max),
         "out_of_range"});
  }
  return problems;
}

}  // namespace sungrow
