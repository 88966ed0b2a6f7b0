// Writing base buckets with fmt (shortest round-trip doubles) and reading them back strictly.
#include "sungrow/server/storage/base_bucket_json.hpp"

#include <fmt/format.h>

#include <boost/json/value.hpp>
#include <iterator>
#include <limits>

#include "sungrow/server/storage/precise_json.hpp"

namespace sungrow::storage {

namespace json = boost::json;
using rollup::BaseBucket;
using rollup::Reading;

namespace {

// ---- writing ----

void put_number(std::string& out, double v) {
  fmt::format_to(std::back_inserter(out), "{}", v);
}

void put_optional(std::string& out, const std::optional<double>& v) {
  if (v) {
    put_number(out, *v);
  } else {
    out += "null";
  }
}

void put_reading(std::string& out, const std::optional<Reading>& r) {
  if (!r) {
    out += "null";
    return;
  }
  fmt::format_to(std::back_inserter(out),
                 "{{\"ts_ms\":{},\"value\":", r->ts.time_since_epoch().count());
  put_number(out, r->value);
  out += '}';
}

// ---- reading ----

// Thrown inside the reader only, so the field walk reads straight; base_bucket_from_json turns it
// into an error value.
struct BadBucket {
  std::string message;
};

// Where a field sits ("power.pv_power_w.min"), joined into text only when something is wrong: a
// series reads thousands of buckets, and formatting paths on the success path dominated decoding.
struct Path {
  std::string_view parent;
  std::string_view child;
  std::string_view leaf;

  std::string text() const {
    std::string out(parent);
    for (const auto part : {child, leaf}) {
      if (part.empty()) continue;
      out += '.';
      out += part;
    }
    return out;
  }
  Path operator/(std::string_view key) const {
    if (child.empty()) return {parent, key, {}};
    return {parent, child, key};
  }
};

const json::value& member(const json::value& v, std::string_view key, const Path& where) {
  const auto* obj = v.if_object();
  if (obj == nullptr) throw BadBucket{where.text() + " is not an object"};
  const auto* found = obj->if_contains(json::string_view(key.data(), key.size()));
  if (found == nullptr) throw BadBucket{(where / key).text() + " is missing"};
  return *found;
}

std::int64_t as_int64(const json::value& v, const Path& what) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() &&
      v.get_uint64() <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    return static_cast<std::int64_t>(v.get_uint64());
  }
  throw BadBucket{what.text() + " is not an integer"};
}

double as_double(const json::value& v, const Path& what) {
  // fmt writes integral doubles without a fraction ("231"), which JSON reads as an integer.
  if (v.is_double()) return v.get_double();
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  throw BadBucket{what.text() + " is not a number"};
}

std::int64_t int_member(const json::value& v, std::string_view key, const Path& where) {
  return as_int64(member(v, key, where), where / key);
}

double double_member(const json::value& v, std::string_view key, const Path& where) {
  return as_double(member(v, key, where), where / key);
}

std::optional<double> optional_double_member(const json::value& v, std::string_view key,
                                             const Path& where) {
  const auto& m = member(v, key, where);
  if (m.is_null()) return std::nullopt;
  return as_double(m, where / key);
}

std::optional<Reading> reading_member(const json::value& v, std::string_view key,
                                      const Path& where) {
  const auto& m = member(v, key, where);
  if (m.is_null()) return std::nullopt;
  const auto path = where / key;
  // A reading's fields sit one level below a three-part path; their names are spelled out.
  const auto field = [&](std::string_view name) -> const json::value& {
    const auto* obj = m.if_object();
    if (obj == nullptr) throw BadBucket{path.text() + " is not an object"};
    const auto* found = obj->if_contains(json::string_view(name.data(), name.size()));
    if (found == nullptr) throw BadBucket{path.text() + "." + std::string(name) + " is missing"};
    return *found;
  };
  const auto& ts = field("ts_ms");
  const auto& value = field("value");
  if (!ts.is_int64() && !ts.is_uint64()) throw BadBucket{path.text() + ".ts_ms is not an integer"};
  if (!value.is_number()) throw BadBucket{path.text() + ".value is not a number"};
  return Reading{Timestamp{std::chrono::milliseconds{as_int64(ts, path)}}, as_double(value, path)};
}

// A reading under `key` that buckets stored before it existed do not have (missing = null).
std::optional<Reading> newer_reading_member(const json::value& v, std::string_view key,
                                            const Path& where) {
  const auto* obj = v.if_object();
  if (obj == nullptr || !obj->contains(json::string_view(key.data(), key.size()))) {
    return std::nullopt;
  }
  return reading_member(v, key, where);
}

BaseBucket read_bucket(const json::value& root) {
  const Path bucket{"bucket", {}, {}};
  BaseBucket b;
  b.start = Timestamp{std::chrono::milliseconds{int_member(root, "start_ms", bucket)}};
  b.samples = int_member(root, "samples", bucket);
  const auto& power = member(root, "power", bucket);
  for (std::size_t i = 0; i < rollup::kPowerFields.size(); ++i) {
    const auto name = rollup::kPowerFields[i].name;
    const auto& field = member(power, name, Path{"power", {}, {}});
    const Path where{"power", name, {}};
    b.power[i].count = int_member(field, "count", where);
    b.power[i].sum_mw = int_member(field, "sum_mw", where);
    b.power[i].min = double_member(field, "min", where);
    b.power[i].max = double_member(field, "max", where);
  }
  const auto& soc = member(root, "soc", bucket);
  const Path soc_path{"soc", {}, {}};
  b.soc.min = optional_double_member(soc, "min", soc_path);
  b.soc.max = optional_double_member(soc, "max", soc_path);
  b.soc.last = reading_member(soc, "last", soc_path);
  const auto& counters = member(root, "counters", bucket);
  for (std::size_t i = 0; i < rollup::kCounters.size(); ++i) {
    const auto name = rollup::kCounters[i].energy_name;
    const auto& field = member(counters, name, Path{"counters", {}, {}});
    const Path where{"counters", name, {}};
    b.counters[i].first = reading_member(field, "first", where);
    b.counters[i].second = newer_reading_member(field, "second", where);
    b.counters[i].penultimate = newer_reading_member(field, "penultimate", where);
    b.counters[i].last = reading_member(field, "last", where);
  }
  return b;
}

}  // namespace

std::string base_bucket_to_json(const BaseBucket& b) {
  std::string out;
  out.reserve(1024);
  fmt::format_to(std::back_inserter(out), "{{\"start_ms\":{},\"samples\":{},\"power\":{{",
                 b.start.time_since_epoch().count(), b.samples);
  for (std::size_t i = 0; i < rollup::kPowerFields.size(); ++i) {
    const auto& p = b.power[i];
    if (i > 0) out += ',';
    fmt::format_to(std::back_inserter(out),
                   "\"{}\":{{\"count\":{},\"sum_mw\":{},\"min\":", rollup::kPowerFields[i].name,
                   p.count, p.sum_mw);
    put_number(out, p.min);
    out += ",\"max\":";
    put_number(out, p.max);
    out += '}';
  }
  out += "},\"soc\":{\"min\":";
  put_optional(out, b.soc.min);
  out += ",\"max\":";
  put_optional(out, b.soc.max);
  out += ",\"last\":";
  put_reading(out, b.soc.last);
  out += "},\"counters\":{";
  for (std::size_t i = 0; i < rollup::kCounters.size(); ++i) {
    if (i > 0) out += ',';
    fmt::format_to(std::back_inserter(out),
                   "\"{}\":{{\"first\":", rollup::kCounters[i].energy_name);
    put_reading(out, b.counters[i].first);
    out += ",\"second\":";
    put_reading(out, b.counters[i].second);
    out += ",\"penultimate\":";
    put_reading(out, b.counters[i].penultimate);
    out += ",\"last\":";
    put_reading(out, b.counters[i].last);
    out += '}';
  }
  out += "}}";
  return out;
}

Result<BaseBucket> base_bucket_from_json(std::string_view text) {
  auto parsed = parse_json_precise(text);
  if (!parsed) return fail(fmt::format("base bucket: {}", parsed.error().message));
  try {
    return read_bucket(parsed.value());
  } catch (const BadBucket& bad) {
    return fail(fmt::format("base bucket: {}", bad.message));
  }
}

}  // namespace sungrow::storage
