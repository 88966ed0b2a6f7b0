// Serializes series buckets: energies by counter name, the energy balance, power and SoC
// summaries, coverage — as JSON, or as CSV with the very same numbers.
#include "sungrow/server/api/series_json.hpp"

#include <fmt/format.h>

#include <iterator>

#include "sungrow/core/json_writer.hpp"

namespace sungrow::api {

namespace {

// The columns after the bucket's own fields, in both forms: name and value per bucket.
struct Column {
  std::string name;
  std::optional<double> (*value)(const rollup::SeriesBucket&, const rollup::EnergyBalance&,
                                 std::size_t index);
  std::size_t index;
};

std::vector<Column> value_columns() {
  std::vector<Column> out;
  for (std::size_t i = 0; i < rollup::kCounters.size(); ++i) {
    out.push_back({std::string(rollup::kCounters[i].energy_name),
                   [](const rollup::SeriesBucket& b, const rollup::EnergyBalance&, std::size_t c) {
                     return b.energy_kwh[c];
                   },
                   i});
  }
  const std::pair<const char*, std::optional<double> rollup::EnergyBalance::*> balance[] = {
      {"consumption_kwh", &rollup::EnergyBalance::consumption_kwh},
      {"self_sufficiency_pct", &rollup::EnergyBalance::self_sufficiency_pct},
      {"self_consumption_pct", &rollup::EnergyBalance::self_consumption_pct},
      {"self_consumed_pv_kwh", &rollup::EnergyBalance::self_consumed_pv_kwh}};
  for (std::size_t i = 0; i < std::size(balance); ++i) {
    out.push_back({balance[i].first,
                   [](const rollup::SeriesBucket&, const rollup::EnergyBalance& e, std::size_t k) {
                     switch (k) {
                       case 0:
                         return e.consumption_kwh;
                       case 1:
                         return e.self_sufficiency_pct;
                       case 2:
                         return e.self_consumption_pct;
                       default:
                         return e.self_consumed_pv_kwh;
                     }
                   },
                   i});
  }
  return out;
}

void write_optional(std::string& out, std::optional<double> v) {
  if (v) fmt::format_to(std::back_inserter(out), "{}", *v);
}

}  // namespace

std::string series_json(const SeriesHeader& header, std::span<const rollup::SeriesBucket> buckets) {
  static const auto columns = value_columns();
  JsonWriter w;
  w.begin_object();
  if (header.site != nullptr) {
    w.field("site_id", std::string_view(header.site->id)).key("devices").begin_array();
    for (const auto& d : header.site->devices) {
      w.begin_object()
          .field("device_id", std::string_view(d.device_id))
          .field("role", sites::to_string(d.role))
          .end_object();
    }
    w.end_array();
  } else {
    w.field("device_id", header.device_id);
  }
  w.field("frame", rollup::to_string(header.frame))
      .field("tz", header.tz)
      .field("from", header.from_local)
      .field("to", header.to_local)
      .key("buckets")
      .begin_array();
  for (const auto& b : buckets) {
    const auto balance = rollup::energy_balance(b);
    w.begin_object()
        .field("start", b.range.local_start)
        .field("end", b.range.local_end)
        .field("start_utc", format_rfc3339(b.range.start))
        .field("samples", b.samples)
        .field("coverage", b.coverage);
    for (const auto& c : columns) w.field(c.name, c.value(b, balance, c.index));
    for (std::size_t i = 0; i < rollup::kPowerFields.size(); ++i) {
      const auto& p = b.power[i];
      w.key(rollup::kPowerFields[i].name)
          .begin_object()
          .field("avg", p.avg)
          .field("min", p.min)
          .field("max", p.max)
          .end_object();
    }
    w.key("battery_soc_pct")
        .begin_object()
        .field("min", b.soc.min)
        .field("max", b.soc.max)
        .field("last", b.soc.last)
        .end_object()
        .field("counter_anomalies", b.counter_anomalies)
        .end_object();
  }
  w.end_array().end_object();
  return w.take();
}

std::string series_csv(std::span<const rollup::SeriesBucket> buckets) {
  static const auto columns = value_columns();
  std::string out = "start,end,start_utc,samples,coverage";
  for (const auto& c : columns) out += "," + c.name;
  for (const auto& p : rollup::kPowerFields) {
    for (const char* stat : {"avg", "min", "max"})
      fmt::format_to(std::back_inserter(out), ",{}_{}", p.name, stat);
  }
  out += ",battery_soc_pct_min,battery_soc_pct_max,battery_soc_pct_last,counter_anomalies\r\n";
  for (const auto& b : buckets) {
    const auto balance = rollup::energy_balance(b);
    fmt::format_to(std::back_inserter(out), "{},{},{},{},{}", b.range.local_start,
                   b.range.local_end, format_rfc3339(b.range.start), b.samples, b.coverage);
    for (const auto& c : columns) {
      out += ',';
      write_optional(out, c.value(b, balance, c.index));
    }
    for (const auto& p : b.power) {
      for (const auto& v : {p.avg, p.min, p.max}) {
        out += ',';
        write_optional(out, v);
      }
    }
    for (const auto& v : {b.soc.min, b.soc.max, b.soc.last}) {
      out += ',';
      write_optional(out, v);
    }
    fmt::format_to(std::back_inserter(out), ",{}\r\n", b.counter_anomalies);
  }
  return out;
}

}  // namespace sungrow::api
