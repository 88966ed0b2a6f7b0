// Sample ↔ PostgreSQL text: array literals for unnest(), COPY lines, and decoding result rows.
#include "sungrow/server/storage/pg_sample_codec.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <iterator>
#include <vector>

#include "sungrow/core/number_text.hpp"

namespace sungrow::storage {

namespace {

// Fixed columns before and after the measurements; the measurement columns are named after
// kMeasurementFields.
constexpr std::size_t kLeadingColumns = 3;  // device_id, ts, seq
constexpr std::size_t kColumnCount = kLeadingColumns + kMeasurementFields.size() + 6;

std::string build_columns(bool ts_as_ms) {
  std::string out =
      ts_as_ms ? "device_id, (extract(epoch FROM ts) * 1000)::int8, seq" : "device_id, ts, seq";
  for (const auto& f : kMeasurementFields) fmt::format_to(std::back_inserter(out), ", {}", f.name);
  out += ", grid_power_source, running_state, power_flow, power_flow_raw, ts_source, ts_adjust_ms";
  return out;
}

// The optional scalar columns after the measurements, as text (nullopt = NULL).
struct TailValues {
  std::optional<std::string> source;
  std::optional<std::string> state;
  std::optional<std::string> flow;
  std::optional<std::string> flow_raw;
  std::optional<std::string> ts_source;
  std::optional<std::string> ts_adjust;
};

TailValues tail_of(const Sample& s) {
  TailValues t;
  if (s.grid_power_source) t.source = std::string(to_string(*s.grid_power_source));
  if (s.running_state) t.state = std::to_string(*s.running_state);
  if (s.power_flow) t.flow = std::to_string(s.power_flow->bits());
  if (s.power_flow_raw) t.flow_raw = std::to_string(*s.power_flow_raw);
  if (s.ts_source) t.ts_source = std::string(to_string(*s.ts_source));
  if (s.ts_adjust_ms) t.ts_adjust = std::to_string(*s.ts_adjust_ms);
  return t;
}

void append_double(std::string& out, double v) {
  append_shortest(out, v);
}

// COPY text format escaping: backslash, and the characters that would end a field or a line.
void append_copy_text(std::string& out, std::string_view text) {
  for (const char c : text) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
}

StoreError bad_row(std::string_view column, std::string_view why) {
  return StoreError{StoreErrorKind::internal,
                    fmt::format("postgres: stored sample: {} {}", column, why)};
}

template <class T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr != end) return std::nullopt;
  return value;
}

// float8 output is "Infinity"/"NaN" for those; the store never writes them.
std::optional<double> parse_double(std::string_view text) {
  return parse_number<double>(text);
}

}  // namespace

const std::string& pg_sample_columns() {
  static const std::string columns = build_columns(false);
  return columns;
}

const std::string& pg_sample_select_list() {
  static const std::string columns = build_columns(true);
  return columns;
}

const std::string& pg_sample_unnest_args() {
  static const std::string args = [] {
    std::string out = "$1::text[], $2::timestamptz[], $3::int8[]";
    std::size_t n = kLeadingColumns;
    for (std::size_t i = 0; i < kMeasurementFields.size(); ++i) {
      fmt::format_to(std::back_inserter(out), ", ${}::float8[]", ++n);
    }
    fmt::format_to(std::back_inserter(out),
                   ", ${}::text[], ${}::int4[], ${}::int2[], ${}::int4[], ${}::text[], ${}::int8[]",
                   n + 1, n + 2, n + 3, n + 4, n + 5, n + 6);
    return out;
  }();
  return args;
}

void append_array_element(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

PgParams pg_sample_arrays(std::span<const Sample* const> samples) {
  std::vector<std::string> columns(kColumnCount, "{");
  auto separate = [&](std::string& column) {
    if (column.size() > 1) column += ',';
  };
  auto put_optional = [&](std::string& column, const std::optional<std::string>& v) {
    separate(column);
    if (v) {
      column += *v;  // enum names and integers: no quoting needed
    } else {
      column += "NULL";
    }
  };
  for (const Sample* s : samples) {
    separate(columns[0]);
    append_array_element(columns[0], s->device_id);
    separate(columns[1]);
    columns[1] += format_rfc3339(s->ts);
    separate(columns[2]);
    columns[2] += std::to_string(s->seq);
    for (std::size_t f = 0; f < kMeasurementFields.size(); ++f) {
      auto& column = columns[kLeadingColumns + f];
      separate(column);
      if (const auto& v = s->*kMeasurementFields[f].member) {
        append_double(column, *v);
      } else {
        column += "NULL";
      }
    }
    const auto tail = tail_of(*s);
    constexpr std::size_t kTail = kLeadingColumns + kMeasurementFields.size();
    put_optional(columns[kTail], tail.source);
    put_optional(columns[kTail + 1], tail.state);
    put_optional(columns[kTail + 2], tail.flow);
    put_optional(columns[kTail + 3], tail.flow_raw);
    put_optional(columns[kTail + 4], tail.ts_source);
    put_optional(columns[kTail + 5], tail.ts_adjust);
  }
  PgParams params;
  for (auto& column : columns) {
    column += '}';
    params.add(std::move(column));
  }
  return params;
}

std::string pg_sample_copy_text(std::span<const Sample* const> samples) {
  std::string out;
  out.reserve(samples.size() * 400);
  auto put_optional = [&](const std::optional<std::string>& v) {
    out += '\t';
    out += v ? *v : std::string("\\N");
  };
  for (const Sample* s : samples) {
    append_copy_text(out, s->device_id);
    out += '\t';
    out += format_rfc3339(s->ts);
    out += '\t';
    append_integer(out, s->seq);
    for (const auto& field : kMeasurementFields) {
      out += '\t';
      if (const auto& v = s->*field.member) {
        append_double(out, *v);
      } else {
        out += "\\N";
      }
    }
    const auto tail = tail_of(*s);
    put_optional(tail.source);
    put_optional(tail.state);
    put_optional(tail.flow);
    put_optional(tail.flow_raw);
    put_optional(tail.ts_source);
    put_optional(tail.ts_adjust);
    out += '\n';
  }
  return out;
}

StoreResult<Sample> pg_sample_from_row(const PGresult* result, int row, int first) {
  if (PQnfields(result) < first + static_cast<int>(kColumnCount)) {
    return bad_row("row", "has too few columns");
  }
  auto text = [&](std::size_t column) -> std::optional<std::string_view> {
    const int c = first + static_cast<int>(column);
    if (PQgetisnull(result, row, c) != 0) return std::nullopt;
    return std::string_view(PQgetvalue(result, row, c),
                            static_cast<std::size_t>(PQgetlength(result, row, c)));
  };
  Sample s;
  const auto id = text(0);
  const auto ts = text(1);
  const auto seq = text(2);
  if (!id || !ts || !seq) return bad_row("key", "is NULL");
  s.device_id = std::string(*id);
  const auto ms = parse_number<std::int64_t>(*ts);
  if (!ms) return bad_row("ts", "is not epoch milliseconds");
  s.ts = Timestamp{std::chrono::milliseconds{*ms}};
  const auto seq_value = parse_number<std::int64_t>(*seq);
  if (!seq_value) return bad_row("seq", "is not an integer");
  s.seq = *seq_value;
  for (std::size_t f = 0; f < kMeasurementFields.size(); ++f) {
    if (const auto v = text(kLeadingColumns + f)) {
      const auto parsed = parse_double(*v);
      if (!parsed) return bad_row(kMeasurementFields[f].name, "is not a finite number");
      s.*kMeasurementFields[f].member = *parsed;
    }
  }
  constexpr std::size_t kTail = kLeadingColumns + kMeasurementFields.size();
  if (const auto v = text(kTail)) {
    s.grid_power_source = grid_power_source_from_string(*v);
    if (!s.grid_power_source) return bad_row("grid_power_source", "is unknown");
  }
  if (const auto v = text(kTail + 1)) {
    const auto code = parse_number<std::uint16_t>(*v);
    if (!code) return bad_row("running_state", "is not a 16-bit code");
    s.running_state = *code;
  }
  if (const auto v = text(kTail + 2)) {
    const auto bits = parse_number<std::uint16_t>(*v);
    if (!bits) return bad_row("power_flow", "is not a bit set");
    s.power_flow = PowerFlow::from_bits(*bits);
  }
  if (const auto v = text(kTail + 3)) {
    const auto word = parse_number<std::uint16_t>(*v);
    if (!word) return bad_row("power_flow_raw", "is not a 16-bit word");
    s.power_flow_raw = *word;
  }
  if (const auto v = text(kTail + 4)) {
    s.ts_source = ts_source_from_string(*v);
    if (!s.ts_source) return bad_row("ts_source", "is unknown");
  }
  if (const auto v = text(kTail + 5)) {
    const auto adjust = parse_number<std::int64_t>(*v);
    if (!adjust) return bad_row("ts_adjust_ms", "is not an integer");
    s.ts_adjust_ms = *adjust;
  }
  return s;
}

}  // namespace sungrow::storage
