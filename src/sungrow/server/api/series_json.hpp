// The JSON body of GET /v1/series (docs/api.md): one object per bucket, local boundaries.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "sungrow/core/time.hpp"
#include "sungrow/server/rollup/frames.hpp"
#include "sungrow/server/rollup/series.hpp"

namespace sungrow::api {

struct SeriesHeader {
  std::string_view device_id;
  rollup::Frame frame;
  std::string_view tz;
  std::string from_local;  // the requested range on the zone's clock
  std::string to_local;
};

std::string series_json(const SeriesHeader& header, std::span<const rollup::SeriesBucket> buckets);

}  // namespace sungrow::api
