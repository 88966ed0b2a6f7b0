// The bodies of GET /v1/series (docs/api.md): JSON (one object per bucket, local boundaries), or
// CSV.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "sungrow/core/time.hpp"
#include "sungrow/server/rollup/frames.hpp"
#include "sungrow/server/rollup/series.hpp"
#include "sungrow/server/sites/site_table.hpp"

namespace sungrow::api {

struct SeriesHeader {
  std::string_view device_id;         // a device's series
  const sites::Site* site = nullptr;  // else a site's: "site_id" and its devices instead
  rollup::Frame frame;
  std::string_view tz;
  std::string from_local;  // the requested range on the zone's clock
  std::string to_local;
};

std::string series_json(const SeriesHeader& header, std::span<const rollup::SeriesBucket> buckets);

// format=csv: a header row, then one row per bucket (RFC 4180, CRLF); the same numbers as the JSON
// form, written the same way, nested fields flattened ("pv_power_w_avg"), null as an empty field.
std::string series_csv(std::span<const rollup::SeriesBucket> buckets);

}  // namespace sungrow::api
