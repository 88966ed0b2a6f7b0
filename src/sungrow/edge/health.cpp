// Health classification, its JSON form, and the atomic file write.
#include "sungrow/edge/health.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cerrno>
#include <cstring>

#include "sungrow/core/unique_fd.hpp"

namespace sungrow::edge {

namespace json = boost::json;

namespace {
constexpr std::uint32_t kFailingAfter = 3;  // poll failures in a row
}  // namespace

HealthStatus classify(const HealthState& s) {
  if (s.consecutive_poll_failures >= kFailingAfter || s.pending_in_memory > 0 ||
      s.lost_in_memory > 0)
    return HealthStatus::failing;
  if (s.consecutive_upload_failures > 0 || s.consecutive_poll_failures > 0 || s.dead_letters > 0 ||
      !s.spool_error.empty() || s.failing_devices > 0)
    return HealthStatus::degraded;
  return HealthStatus::ok;
}

HealthStatus classify(const DeviceHealth& d) {
  return classify(d.state);
}

void summarize_devices(HealthState& s) {
  if (s.devices.empty()) return;
  const auto& first = s.devices.front().state;
  // The poll, upload and clock figures; the spool's are the edge's own (one file).
  const auto take = [&s](const HealthState& d) {
    s.last_poll_at = d.last_poll_at;
    s.last_poll_ok = d.last_poll_ok;
    s.consecutive_poll_failures = d.consecutive_poll_failures;
    s.last_poll_error = d.last_poll_error;
    s.unsupported_registers = d.unsupported_registers;
    s.last_upload_at = d.last_upload_at;
    s.last_upload_ok = d.last_upload_ok;
    s.consecutive_upload_failures = d.consecutive_upload_failures;
    s.last_upload_error = d.last_upload_error;
    s.clock = d.clock;  // with several devices, each device's own is in its entry
    s.last_ts_source = d.last_ts_source;
    s.last_ts_adjust_ms = d.last_ts_adjust_ms;
  };
  take(first);  // the single-inverter edge: the device's figures are the edge's, as always
  s.failing_devices = 0;
  if (s.devices.size() == 1) return;
  const auto later = [](const std::optional<Timestamp>& a, const std::optional<Timestamp>& b) {
    return !a ? b : !b ? a : std::optional{std::max(*a, *b)};
  };
  const auto append = [](std::string& all, const DeviceHealth& d, const std::string& error) {
    if (error.empty()) return;
    if (!all.empty()) all += "; ";
    all += fmt::format("{}: {}", d.device_id, error);
  };
  s.last_poll_error.clear();
  s.last_upload_error.clear();
  s.unsupported_registers = 0;
  s.consecutive_upload_failures = 0;
  s.last_upload_ok = true;
  for (const auto& entry : s.devices) {
    const auto& d = entry.state;
    s.last_poll_at = later(s.last_poll_at, d.last_poll_at);
    s.last_poll_ok = s.last_poll_ok && d.last_poll_ok;
    // Nothing is captured only while every device fails: the fewest failures in a row.
    s.consecutive_poll_failures =
        std::min(s.consecutive_poll_failures, d.consecutive_poll_failures);
    append(s.last_poll_error, entry, d.last_poll_error);
    s.unsupported_registers += d.unsupported_registers;
    s.last_upload_at = later(s.last_upload_at, d.last_upload_at);
    if (d.last_upload_at) s.last_upload_ok = s.last_upload_ok && d.last_upload_ok;
    s.consecutive_upload_failures =
        std::max(s.consecutive_upload_failures, d.consecutive_upload_failures);
    append(s.last_upload_error, entry, d.last_upload_error);
    if (d.consecutive_poll_failures >= kFailingAfter) ++s.failing_devices;
  }
}

std::string_view to_string(HealthStatus status) {
  switch (status) {
    case HealthStatus::ok:
      return "ok";
    case HealthStatus::degraded:
      return "degraded";
    case HealthStatus::failing:
      return "failing";
  }
  return "failing";
}

namespace {

json::value time_or_null(const std::optional<Timestamp>& t) {
  if (!t) return nullptr;
  return json::value(format_rfc3339(*t));
}

json::value text_or_null(const std::string& s) {
  if (s.empty()) return nullptr;
  return json::value(s);
}

// Whole milliseconds: exact, and Boost.JSON would print a double such as 0.242 as 2.42E-1.
json::value ms_or_null(const std::optional<std::chrono::milliseconds>& d) {
  if (!d) return nullptr;
  return json::value(d->count());
}

// Which clock the samples' times come from, and what the inverter's clock said.
json::object clock_json(const HealthState& s) {
  const auto& c = s.clock;
  json::object inverter{
      {"checked", c.checking},
      {"read_at", time_or_null(c.inverter_read_at)},
      {"reads", text_or_null(c.inverter_reads)},
      {"minus_edge_ms", ms_or_null(c.inverter_minus_edge)},
      {"consecutive_failures", c.consecutive_failures},
      {"last_error", text_or_null(c.last_error)},
  };
  json::value reference = nullptr;
  if (c.reference)
    reference = json::object{{"inverter_utc_offset_ms", ms_or_null(c.reference->inverter_offset)},
                             {"measured_at", format_rfc3339(c.reference->measured_at)}};
  return json::object{
      {"synchronized", c.synchronized},
      {"ts_source",
       s.last_ts_source ? json::value(to_string(*s.last_ts_source)) : json::value(nullptr)},
      {"ts_adjust_ms",
       s.last_ts_adjust_ms ? json::value(*s.last_ts_adjust_ms) : json::value(nullptr)},
      {"inverter", std::move(inverter)},
      {"reference", std::move(reference)},
  };
}

}  // namespace

namespace {

// The status, poll, upload, spool and clock sections, for the edge and for each device.
json::object sections(const HealthState& s) {
  return json::object{
      {"status", to_string(classify(s))},
      {"poll",
       {{"last_at", time_or_null(s.last_poll_at)},
        {"ok", s.last_poll_ok},
        {"consecutive_failures", s.consecutive_poll_failures},
        {"last_error", text_or_null(s.last_poll_error)},
        {"unsupported_registers", s.unsupported_registers}}},
      {"upload",
       {{"last_at", time_or_null(s.last_upload_at)},
        {"ok", s.last_upload_ok},
        {"consecutive_failures", s.consecutive_upload_failures},
        {"last_error", text_or_null(s.last_upload_error)}}},
      {"spool",
       {{"depth", s.spool_depth},
        {"pending_in_memory", s.pending_in_memory},
        {"oldest_unsent", time_or_null(s.oldest_unsent)},
        {"dead_letters", s.dead_letters},
        {"lost_in_memory", s.lost_in_memory},
        {"last_error", text_or_null(s.spool_error)}}},
      {"clock", clock_json(s)},
  };
}

}  // namespace

std::string health_json(const HealthState& s, Timestamp now) {
  json::object o{{"status", to_string(classify(s))}, {"updated_at", format_rfc3339(now)}};
  for (auto& kv : sections(s))
    if (kv.key() != "status") o.emplace(kv.key(), std::move(kv.value()));
  if (s.devices.empty()) return json::serialize(o);
  json::array devices;
  json::array failing;
  for (const auto& d : s.devices) {
    json::object entry{{"device_id", d.device_id}};
    for (auto& kv : sections(d.state)) entry.emplace(kv.key(), std::move(kv.value()));
    entry["spool"].as_object().emplace("last_seq", d.last_seq);
    if (classify(d) == HealthStatus::failing) failing.emplace_back(d.device_id);
    devices.push_back(std::move(entry));
  }
  o["devices"] = std::move(devices);
  o["failing_devices"] = std::move(failing);
  return json::serialize(o);
}

Result<void> write_health_file(const std::filesystem::path& path, const HealthState& state,
                               Timestamp now) {
  const auto text = health_json(state, now) + "\n";
  auto tmp = path;
  tmp += ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd)
    return fail(fmt::format("health: cannot open {}: {}", tmp.string(), std::strerror(errno)));
  std::size_t written = 0;
  while (written < text.size()) {
    const auto n = ::write(fd.get(), text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return fail(fmt::format("health: cannot write {}: {}", tmp.string(), std::strerror(errno)));
    }
    written += static_cast<std::size_t>(n);
  }
  // No fsync: the file is rewritten every few seconds and only readers need atomicity, which the
  // rename gives; an fsync per cycle would wear a Raspberry Pi's SD card for nothing.
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0)
    return fail(
        fmt::format("health: cannot rename to {}: {}", path.string(), std::strerror(errno)));
  return {};
}

}  // namespace sungrow::edge
