// Serializes series buckets: energies by counter name, power and SoC summaries, coverage.
#include "sungrow/server/api/series_json.hpp"

#include "sungrow/core/json_writer.hpp"

namespace sungrow::api {

std::string series_json(const SeriesHeader& header, std::span<const rollup::SeriesBucket> buckets) {
  JsonWriter w;
  w.begin_object()
      .field("device_id", header.device_id)
      .field("frame", rollup::to_string(header.frame))
      .field("tz", header.tz)
      .field("from", header.from_local)
      .field("to", header.to_local)
      .key("buckets")
      .begin_array();
  for (const auto& b : buckets) {
    w.begin_object()
        .field("start", b.range.local_start)
        .field("end", b.range.local_end)
        .field("start_utc", format_rfc3339(b.range.start))
        .field("samples", b.samples)
        .field("coverage", b.coverage);
    for (std::size_t i = 0; i < rollup::kCounters.size(); ++i) {
      w.field(rollup::kCounters[i].energy_name, b.energy_kwh[i]);
    }
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

}  // namespace sungrow::api
