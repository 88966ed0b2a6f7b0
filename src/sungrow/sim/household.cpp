// Physics of the simulated household: sun, clouds, load, battery dispatch and counters.
#include "sungrow/sim/household.hpp"

#include <date/tz.h>

#include <algorithm>
#include <cmath>
#include <numbers>

namespace sungrow::sim {

namespace {

using std::chrono::milliseconds;
constexpr double kMsPerDay = 86'400'000.0;
constexpr double kDeg = std::numbers::pi / 180.0;

// splitmix64: a tiny, well-mixed hash, so every random quantity is a pure function of
// (seed, stream, index) and the model never depends on call order or step size.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27U)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31U);
}

double unit_random(std::uint64_t seed, std::uint64_t stream, std::int64_t index) {
  const auto h =
      mix(mix(seed ^ (stream * 0xD1B54A32D192ED03ULL)) ^ static_cast<std::uint64_t>(index));
  return static_cast<double>(h >> 11U) * 0x1.0p-53;
}

// Value noise with cosine interpolation between integer knots: smooth, in [0, 1].
double smooth_noise(std::uint64_t seed, std::uint64_t stream, double x) {
  const double k = std::floor(x);
  const auto i = static_cast<std::int64_t>(k);
  const double f = (1.0 - std::cos((x - k) * std::numbers::pi)) / 2.0;
  return unit_random(seed, stream, i) * (1.0 - f) + unit_random(seed, stream, i + 1) * f;
}

double gauss(double x, double mean, double width) {
  const double z = (x - mean) / width;
  return std::exp(-0.5 * z * z);
}

double epoch_seconds(Timestamp t) {
  return static_cast<double>(t.time_since_epoch().count()) / 1000.0;
}

int day_of_year(Timestamp t) {
  const auto day = std::chrono::floor<std::chrono::days>(t);
  const date::year_month_day ymd{date::sys_days{day.time_since_epoch()}};
  const date::sys_days jan1{ymd.year() / date::January / 1};
  return static_cast<int>((date::sys_days{day.time_since_epoch()} - jan1).count()) + 1;
}

// Noise streams; fixed numbers so a seed reproduces the same day forever.
enum Stream : std::uint64_t {
  day_weather = 1,
  slow_clouds,
  passing_clouds,
  base_load = 10,
  day_habits,
  appliance_on,
  appliance_power,
  appliance_duration,
  grid_voltage = 20,
  grid_frequency,
};

}  // namespace

namespace profile {

double clear_sky_pv_w(const HouseholdConfig& c, Timestamp t) {
  const double phi = c.latitude_deg * kDeg;
  const double tilt = c.panel_tilt_deg * kDeg;
  const double decl =
      23.44 * kDeg * std::sin(2.0 * std::numbers::pi * (284.0 + day_of_year(t)) / 365.0);
  const double utc_hours = std::fmod(epoch_seconds(t), 86400.0) / 3600.0;
  const double hour_angle = 15.0 * kDeg * (utc_hours + c.longitude_deg / 15.0 - 12.0);
  const double sin_elev =
      std::sin(phi) * std::sin(decl) + std::cos(phi) * std::cos(decl) * std::cos(hour_angle);
  if (sin_elev <= 0.0) return 0.0;
  const double elev_deg = std::asin(sin_elev) / kDeg;
  // Kasten–Young air mass and Meinel's clear-sky beam irradiance.
  const double air_mass = 1.0 / (sin_elev + 0.50572 * std::pow(6.07995 + elev_deg, -1.6364));
  const double beam = 1353.0 * std::pow(0.7, std::pow(air_mass, 0.678));
  // A south-facing panel tilted by β sees the sun like a flat one at latitude φ − β.
  const double cos_incidence =
      std::max(0.0, std::sin(phi - tilt) * std::sin(decl) +
                        std::cos(phi - tilt) * std::cos(decl) * std::cos(hour_angle));
  const double diffuse = 0.12 * beam * (1.0 + std::cos(tilt)) / 2.0;
  const double plane_of_array = beam * cos_incidence + diffuse;
  return std::min(c.pv_peak_w, c.pv_peak_w * 0.92 * plane_of_array / 1000.0);
}

double cloud_factor(std::uint64_t seed, Timestamp t) {
  const double s = epoch_seconds(t);
  const auto day = static_cast<std::int64_t>(std::floor(s / 86400.0));
  const double weather = unit_random(seed, day_weather, day);
  // Clear, mixed or overcast day; passing clouds matter most on mixed days.
  const double base = weather < 0.35 ? 0.05 : weather < 0.75 ? 0.35 : 0.75;
  const double passing = weather < 0.35 ? 0.3 : weather < 0.75 ? 0.9 : 0.4;
  const double cover =
      std::clamp(base + 0.4 * (smooth_noise(seed, slow_clouds, s / 1800.0) - 0.5) +
                     passing * (smooth_noise(seed, passing_clouds, s / 240.0) - 0.5),
                 0.0, 1.0);
  return 1.0 - 0.8 * cover;
}

double load_w(std::uint64_t seed, std::chrono::local_time<milliseconds> local) {
  const auto ms = static_cast<double>(local.time_since_epoch().count());
  const auto day = static_cast<std::int64_t>(std::floor(ms / kMsPerDay));
  const double hour = (ms - static_cast<double>(day) * kMsPerDay) / 3'600'000.0;
  const double minutes = ms / 60'000.0;

  const double base = 150.0 + 150.0 * smooth_noise(seed, base_load, minutes / 60.0);
  const double habits = 0.7 + 0.6 * unit_random(seed, day_habits, day);
  const double routine = habits * (900.0 * gauss(hour, 7.3, 0.6) + 250.0 * gauss(hour, 12.5, 1.0) +
                                   1300.0 * gauss(hour, 19.0, 1.3));
  // A fridge compressor cycling every 40 minutes.
  const double fridge = std::fmod(minutes, 40.0) < 15.0 ? 90.0 : 0.0;

  // Appliances (kettle, oven, washing machine) switch on in random 5-minute slots.
  const auto slot = static_cast<std::int64_t>(std::floor(minutes / 5.0));
  const double awake = (hour >= 6.5 && hour < 23.0) ? 0.12 : 0.015;
  double appliance = 0.0;
  if (unit_random(seed, appliance_on, slot) < awake) {
    const double on_for_min = 1.0 + 4.0 * unit_random(seed, appliance_duration, slot);
    if (minutes - static_cast<double>(slot) * 5.0 < on_for_min)
      appliance = 800.0 + 1700.0 * unit_random(seed, appliance_power, slot);
  }
  return base + routine + fridge + appliance;
}

}  // namespace profile

std::uint16_t power_flow_bits(const HouseholdState& s) {
  const auto pv = std::lround(s.pv_w);
  const auto battery = std::lround(s.battery_w);
  const auto load = std::lround(s.load_w);
  return power_flow_bits(pv, battery, load, load - pv - battery);  // the grid registers' arithmetic
}

std::uint16_t power_flow_bits(std::int64_t pv, std::int64_t battery, std::int64_t load,
                              std::int64_t grid) {
  std::uint16_t bits = 0;
  if (pv > 0) bits |= 0x01U;
  if (battery < 0) bits |= 0x02U;
  if (battery > 0) bits |= 0x04U;
  if (load > 0) bits |= 0x08U;
  if (grid < 0) bits |= 0x10U;
  if (grid > 0) bits |= 0x20U;
  return bits;
}

struct Household::Zone {
  const date::time_zone* tz;
  date::sys_info info{};  // cached: the offset only changes at transitions

  std::chrono::seconds offset(Timestamp t) {
    const auto s = std::chrono::floor<std::chrono::seconds>(t);
    if (s < info.begin || s >= info.end) info = tz->get_info(s);
    return info.offset;
  }
  std::chrono::local_time<milliseconds> local(Timestamp t) {
    return std::chrono::local_time<milliseconds>{(t + offset(t)).time_since_epoch()};
  }
  // The first local midnight strictly after t (on a day without one, the transition instant).
  Timestamp next_midnight(Timestamp t) {
    const auto today =
        date::floor<date::days>(date::local_time<milliseconds>{local(t).time_since_epoch()});
    return std::chrono::time_point_cast<milliseconds>(
        tz->to_sys(today + date::days{1}, date::choose::earliest));
  }
  Timestamp midnight_of(Timestamp t) {
    const auto today =
        date::floor<date::days>(date::local_time<milliseconds>{local(t).time_since_epoch()});
    return std::chrono::time_point_cast<milliseconds>(tz->to_sys(today, date::choose::earliest));
  }
};

Household::Household(HouseholdConfig config, std::uint64_t seed, std::unique_ptr<Zone> zone)
    : config_(config),
      seed_(seed),
      load_seed_(config.load_stream == 0 ? seed : mix(seed ^ mix(config.load_stream))),
      zone_(std::move(zone)),
      counters_(config.initial_totals) {}
Household::Household(Household&&) noexcept = default;
Household& Household::operator=(Household&&) noexcept = default;
Household::~Household() = default;

Result<Timestamp> local_midnight(Timestamp t, const std::string& tz) {
  try {
    Household::Zone zone{date::locate_zone(tz)};
    return zone.midnight_of(t);
  } catch (const std::exception& e) {
    return fail("unknown time zone '" + tz + "': " + e.what());
  }
}

Result<Household> Household::create(HouseholdConfig config, std::uint64_t seed, Timestamp start,
                                    const std::string& tz) {
  const date::time_zone* zone = nullptr;
  try {
    zone = date::locate_zone(tz);
  } catch (const std::exception& e) {
    return fail("unknown time zone '" + tz + "': " + e.what());
  }
  if (config.max_step <= std::chrono::seconds{0}) return fail("max_step must be positive");
  Household h{config, seed, std::make_unique<Zone>(Zone{zone})};
  const auto midnight = h.zone_->midnight_of(start);
  h.state_.time = midnight;
  h.state_.battery_soc =
      std::clamp(config.initial_soc, config.battery_min_soc, config.battery_max_soc);
  h.next_midnight_ = h.zone_->next_midnight(midnight);
  h.step(midnight);  // fills the instantaneous values without integrating
  h.advance_to(start);
  return h;
}

std::chrono::local_time<milliseconds> Household::local_time() const {
  return zone_->local(state_.time);
}

Timestamp Household::next_step_end(Timestamp t) const {
  return std::min({t, state_.time + config_.max_step, next_midnight_});
}

void Household::advance_to(Timestamp t) {
  while (state_.time < t) {
    const auto to = next_step_end(t);
    step(to);
    if (to == next_midnight_) start_new_day();
  }
}

void Household::start_new_day() {
  counters_.reset_today();
  state_.today = counters_.today();
  next_midnight_ = zone_->next_midnight(state_.time);
}

// Powers are evaluated at the end of the step and held over it (right-rectangle rule), so the
// powers a client sees are exactly the ones the counters and the SoC integrated.
void Household::step(Timestamp to) {
  const auto& c = config_;
  const double dt_s = static_cast<double>((to - state_.time).count()) / 1000.0;
  const double dt_h = dt_s / 3600.0;

  double pv = profile::clear_sky_pv_w(c, to) * profile::cloud_factor(seed_, to);
  const double load = c.load_scale * profile::load_w(load_seed_, zone_->local(to));

  // Self-consumption: surplus PV charges, a deficit discharges, within BDC and SoC limits.
  const double stored_wh = state_.battery_soc * c.battery_capacity_wh;
  double battery = 0.0;
  if (pv >= load) {
    const double room_w =
        dt_h > 0 ? (c.battery_max_soc * c.battery_capacity_wh - stored_wh) / dt_h
                 : (state_.battery_soc < c.battery_max_soc ? c.battery_max_charge_w : 0.0);
    battery = -std::min({pv - load, c.battery_max_charge_w, std::max(room_w, 0.0)});
  } else {
    const double avail_w =
        dt_h > 0 ? (stored_wh - c.battery_min_soc * c.battery_capacity_wh) / dt_h
                 : (state_.battery_soc > c.battery_min_soc ? c.battery_max_discharge_w : 0.0);
    battery = std::min({load - pv, c.battery_max_discharge_w, std::max(avail_w, 0.0)});
  }
  // The inverter's AC side is limited: first trim the discharge, then curtail PV.
  if (pv + battery > c.inverter_ac_limit_w) {
    if (battery > 0) battery = std::max(0.0, c.inverter_ac_limit_w - pv);
    if (pv + battery > c.inverter_ac_limit_w) pv = c.inverter_ac_limit_w - battery;
  }

  auto& s = state_;
  s.time = to;
  s.pv_w = pv;
  s.load_w = load;
  s.battery_w = battery;
  s.ac_w = pv + battery;
  s.grid_w = load - s.ac_w;
  s.battery_soc = std::clamp(s.battery_soc - battery * dt_h / c.battery_capacity_wh,
                             c.battery_min_soc, c.battery_max_soc);
  counters_.integrate({.pv_w = pv, .load_w = load, .battery_w = battery, .grid_w = s.grid_w}, dt_s);
  s.totals = counters_.totals();
  s.today = counters_.today();
  s.standby = std::lround(pv) == 0 && std::lround(battery) == 0 &&
              s.battery_soc <= c.battery_min_soc + 1e-6;

  // MPPT operating points: string voltage rises with irradiance and sags with heat.
  const double es = epoch_seconds(to);
  const double irradiance = std::clamp(pv / c.pv_peak_w, 0.0, 1.0);
  if (pv > 0.5) {
    const double v1 = 305.0 + 70.0 * std::sqrt(std::min(irradiance * 3.0, 1.0)) - 12.0 * irradiance;
    s.mppt1_v = v1;
    s.mppt2_v = v1 * 0.93;
    s.mppt1_a = pv * c.mppt1_share / s.mppt1_v;
    s.mppt2_a = pv * (1.0 - c.mppt1_share) / s.mppt2_v;
  } else {
    s.mppt1_v = s.mppt1_a = s.mppt2_v = s.mppt2_a = 0.0;
  }

  // SBR096: ~300 V empty to ~345 V full; internal resistance makes charging lift the voltage.
  const double open_circuit_v = 300.0 + 45.0 * s.battery_soc;
  s.battery_a = battery / open_circuit_v;
  s.battery_v = open_circuit_v - 0.15 * s.battery_a;

  const int doy = day_of_year(to);
  const double solar_hour = std::fmod(es / 3600.0 + c.longitude_deg / 15.0, 24.0);
  const double ambient = 10.0 + 8.0 * std::sin(2.0 * std::numbers::pi * (doy - 110) / 365.0) +
                         5.0 * std::sin(2.0 * std::numbers::pi * (solar_hour - 9.0) / 24.0);
  s.inverter_temp_c = ambient + 8.0 + 0.004 * std::abs(s.ac_w) + 0.002 * std::abs(battery);
  s.battery_temp_c = 18.0 + 0.3 * (ambient - 10.0) + 0.001 * std::abs(battery);

  // Exporting lifts the local grid voltage a little, as it does on a real feeder.
  s.grid_v = 230.0 + 4.0 * (smooth_noise(seed_, grid_voltage, es / 60.0) - 0.5) - 0.0008 * s.grid_w;
  s.grid_hz = 50.0 + 0.06 * (smooth_noise(seed_, grid_frequency, es / 20.0) - 0.5);
}

}  // namespace sungrow::sim
