// A series request's query, checked once for GET /v1/series and GET /v1/sites/series: the frame,
// the zone, the range (defaults filled in) and the format; and the reply in either format.
#pragma once

#include <date/tz.h>

#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "sungrow/core/time.hpp"
#include "sungrow/server/api/query.hpp"
#include "sungrow/server/api/series_json.hpp"
#include "sungrow/server/http/message.hpp"
#include "sungrow/server/rollup/frames.hpp"
#include "sungrow/server/rollup/series.hpp"

namespace sungrow::api {

struct SeriesQuery {
  rollup::Frame frame{};
  std::string tz;
  const date::time_zone* zone = nullptr;
  Timestamp from{};
  Timestamp to{};
  bool csv = false;
  std::vector<rollup::BucketRange> ranges;  // the buckets to answer, in order
};

// The checked query, or the 400 reply saying what is wrong with it.
std::variant<SeriesQuery, http::Response> parse_series_query(const QueryParams& query,
                                                             Timestamp now);

// The JSON or CSV reply; `file_stem` names the CSV download (e.g. the device id).
http::Response series_reply(const SeriesHeader& header, const SeriesQuery& query,
                            std::span<const rollup::SeriesBucket> buckets,
                            std::string_view file_stem);

}  // namespace sungrow::api
