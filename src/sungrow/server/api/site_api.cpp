// GET /v1/sites/realtime and GET /v1/sites/series: a site's numbers, for credentials that hold
// every device of the site.
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <variant>

#include "sungrow/core/json_writer.hpp"
#include "sungrow/server/api/api.hpp"
#include "sungrow/server/api/replies.hpp"
#include "sungrow/server/api/series_query.hpp"
#include "sungrow/server/sites/site_combine.hpp"

namespace sungrow::api {

namespace {

constexpr std::array<std::string_view, 1> kSiteRealtimeParams{"site_id"};
constexpr std::array<std::string_view, 6> kSiteSeriesParams{"site_id", "frame", "from",
                                                            "to",      "tz",    "format"};

}  // namespace

Api::SiteAccess Api::authorize_site(const http::Request& request,
                                    std::span<const std::string_view> allowed) {
  const auto refuse = [](http::Response reply) {
    return SiteAccess{{}, nullptr, std::move(reply)};
  };
  // The credential first, as for devices: an unauthenticated caller learns nothing about sites.
  const auto auth = authenticate(request);
  if (!auth.ok()) return refuse(unauthorized(auth));
  auto parsed = parse_query(request.query, allowed);
  if (!parsed) return refuse(http::error_response(400, "invalid_query", parsed.error().message));
  QueryParams query = std::move(parsed).value();
  const auto site_id = query.get("site_id");
  if (!site_id) return refuse(http::error_response(400, "invalid_query", "site_id is required"));
  if (!is_valid_device_id(*site_id)) {
    return refuse(
        http::error_response(400, "invalid_query", "site_id must match [A-Za-z0-9._:-]{1,64}"));
  }
  const sites::Site* site = options_.sites != nullptr ? options_.sites->find(*site_id) : nullptr;
  const bool held = site != nullptr && std::all_of(site->devices.begin(), site->devices.end(),
                                                   [&](const sites::SiteDevice& d) {
                                                     return auth.grants(d.device_id);
                                                   });
  if (!held) {
    // The same answer for a site that does not exist: ids cannot be probed.
    return refuse(http::error_response(
        403, "forbidden",
        fmt::format("site '{}' is not one this credential holds every device of", *site_id)));
  }
  return {std::move(query), site, std::nullopt};
}

http::Response Api::site_realtime(const http::Request& request) {
  auto access = authorize_site(request, kSiteRealtimeParams);
  if (access.refusal) return std::move(*access.refusal);
  const auto now = options_.now();
  std::vector<sites::MemberNow> members;
  std::vector<std::string_view> sources;
  for (const auto& device : access.site->devices) {
    auto newest = find_newest(device.device_id, now);
    if (!newest) return store_failure(newest.error(), "site realtime");
    members.push_back({.device = &device, .sample = std::move(newest.value().sample)});
    sources.push_back(newest.value().source);
  }
  const auto site = sites::combine_now(members);
  if (!site.newest_ts) {
    return http::error_response(404, "no_data", "no sample has been stored for this site yet");
  }
  const auto age = [&](Timestamp ts) { return std::chrono::duration<double>(now - ts).count(); };
  JsonWriter w;
  w.begin_object()
      .field("site_id", std::string_view(access.site->id))
      .field("ts", format_rfc3339(*site.newest_ts))
      .field("age_s", age(*site.oldest_ts))
      .field("pv_power_w", site.pv_power_w)
      .field("grid_power_w", site.grid_power_w)
      .field("battery_power_w", site.battery_power_w)
      .field("load_power_w", site.load_power_w)
      .field("battery_soc_pct", site.battery_soc_pct)
      .field("battery_capacity_kwh", site.battery_capacity_kwh)
      .field("soc_weighting", site.soc_weighted_by_capacity ? "capacity" : "equal")
      .key("devices")
      .begin_array();
  for (std::size_t i = 0; i < members.size(); ++i) {
    const auto& m = members[i];
    w.begin_object()
        .field("device_id", std::string_view(m.device->device_id))
        .field("role", sites::to_string(m.device->role))
        .key("realtime");
    if (m.sample) {
      w.raw(realtime_json(*m.sample, age(m.sample->ts), sources[i]));
    } else {
      w.null();
    }
    w.end_object();
  }
  w.end_array().end_object();
  return http::json_response(w.take());
}

http::Response Api::site_series(const http::Request& request) {
  auto access = authorize_site(request, kSiteSeriesParams);
  if (access.refusal) return std::move(*access.refusal);
  auto parsed = parse_series_query(access.query, options_.now());
  if (auto* refusal = std::get_if<http::Response>(&parsed)) return std::move(*refusal);
  const auto& query = std::get<SeriesQuery>(parsed);
  const auto now = options_.now();
  std::vector<std::vector<rollup::SeriesBucket>> per_device;
  std::vector<sites::MemberSeries> members;
  per_device.reserve(access.site->devices.size());
  for (const auto& device : access.site->devices) {
    auto buckets = device_buckets(device.device_id, query);
    if (!buckets) return store_failure(buckets.error(), "site series");
    per_device.push_back(std::move(buckets).value());
    // The capacity weighs the device's SoC; it is a property of the battery, so the newest
    // sample's is the one to use.
    auto newest = find_newest(device.device_id, now);
    if (!newest) return store_failure(newest.error(), "site series");
    const auto& sample = newest.value().sample;
    members.push_back({.device = &device,
                       .buckets = per_device.back(),
                       .capacity_kwh = sample ? sample->battery_capacity_kwh : std::nullopt});
  }
  const auto buckets = sites::combine_series(members);
  const SeriesHeader header{.device_id = {},
                            .site = access.site,
                            .frame = query.frame,
                            .tz = query.tz,
                            .from_local = rollup::format_local(query.from, query.zone),
                            .to_local = rollup::format_local(query.to, query.zone)};
  return series_reply(header, query, buckets, access.site->id);
}

}  // namespace sungrow::api
