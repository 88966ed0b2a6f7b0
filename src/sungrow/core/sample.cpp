// Sample helpers: enum names, power-flow bits, running-state texts, device-id rule.
#include "sungrow/core/sample.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>

namespace sungrow {

std::string_view to_string(GridPowerSource s) {
  switch (s) {
    case GridPowerSource::meter:
      return "meter";
    case GridPowerSource::inverter:
      return "inverter";
    case GridPowerSource::estimate:
      return "estimate";
  }
  return "estimate";
}

std::optional<GridPowerSource> grid_power_source_from_string(std::string_view s) {
  if (s == "meter") return GridPowerSource::meter;
  if (s == "inverter") return GridPowerSource::inverter;
  if (s == "estimate") return GridPowerSource::estimate;
  return std::nullopt;
}

std::string_view to_string(TsSource s) {
  switch (s) {
    case TsSource::ntp:
      return "ntp";
    case TsSource::inverter:
      return "inverter";
    case TsSource::unsynced:
      return "unsynced";
    case TsSource::bumped:
      return "bumped";
  }
  return "unsynced";
}

std::optional<TsSource> ts_source_from_string(std::string_view s) {
  if (s == "ntp") return TsSource::ntp;
  if (s == "inverter") return TsSource::inverter;
  if (s == "unsynced") return TsSource::unsynced;
  if (s == "bumped") return TsSource::bumped;
  return std::nullopt;
}

std::uint16_t PowerFlow::bits() const {
  unsigned out = 0;
  for (const auto& bit : kPowerFlowBits) {
    if (this->*bit.member) out |= bit.mask;
  }
  return static_cast<std::uint16_t>(out);
}

PowerFlow PowerFlow::from_bits(std::uint16_t bits) {
  PowerFlow flow;
  for (const auto& bit : kPowerFlowBits) flow.*bit.member = (bits & bit.mask) != 0;
  return flow;
}

namespace {

constexpr std::pair<std::uint16_t, std::string_view> kStates[] = {
    {0x0000, "Running"},
    {0x0040, "Running"},
    {0x0014, "Microgrid operation"},
    {0x0400, "Running in maintain mode"},
    {0x0800, "Running in forced mode"},
    {0x1000, "Running off-grid"},
    {0x2000, "Open loop"},
    {0x4000, "Running in external EMS mode"},
    {0x4001, "Emergency charging"},
    {0x1111, "Uninitialized"},
    {0x8000, "Stop"},
    {0x0001, "Stop"},
    {0x1300, "Key stop"},
    {0x0002, "Key stop"},
    {0x1500, "Emergency stop"},
    {0x0004, "Emergency stop"},
    {0x1400, "Standby"},
    {0x0008, "Standby"},
    {0x1200, "Initial standby"},
    {0x0010, "Initial standby"},
    {0x1600, "Starting"},
    {0x0020, "Starting"},
    {0x1800, "Intelligent station building"},
    {0x9100, "Warn running"},
    {0x8100, "Derating running"},
    {0x0080, "Derating running"},
    {0x8200, "Dispatch running"},
    {0x5500, "Fault"},
    {0x0100, "Fault"},
    {0x1700, "AFCI self-test shutdown"},
    {0x1900, "Safe mode"},
    {0x0041, "Off-grid charge"},
    {0x0200, "Update failed"},
    {0x2500, "Communication fault"},
    {0x2501, "Restarting"},
};

}  // namespace

std::string running_state_text(std::uint16_t code) {
  const auto* it = std::find_if(std::begin(kStates), std::end(kStates),
                                [code](const auto& e) { return e.first == code; });
  if (it != std::end(kStates)) return std::string(it->second);
  return fmt::format("unknown (0x{:04X})", code);
}

std::vector<std::string_view> running_state_texts() {
  std::vector<std::string_view> texts;
  for (const auto& [code, text] : kStates)
    if (std::find(texts.begin(), texts.end(), text) == texts.end()) texts.push_back(text);
  return texts;
}

bool is_valid_device_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
  });
}

std::optional<std::string> first_non_finite_field(const Sample& s) {
  for (const auto& field : kMeasurementFields) {
    if (const auto& v = s.*field.member; v && !std::isfinite(*v)) return std::string(field.name);
  }
  return std::nullopt;
}

}  // namespace sungrow
