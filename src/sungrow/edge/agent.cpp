// Wires poller, normalizer, spool, uploader, health and the optional Home Assistant feed into two
// loops with clean shutdown.
#include "sungrow/edge/agent.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "sungrow/core/logger.hpp"
#include "sungrow/core/unique_fd.hpp"
#include "sungrow/edge/clock/clock_sync.hpp"
#include "sungrow/edge/clock/edge_clock.hpp"
#include "sungrow/edge/health.hpp"
#include "sungrow/edge/modbus/poller.hpp"
#include "sungrow/edge/mqtt/home_assistant.hpp"
#include "sungrow/edge/mqtt/mqtt_url.hpp"
#include "sungrow/edge/mqtt/publisher.hpp"
#include "sungrow/edge/normalize/load_energy_hold.hpp"
#include "sungrow/edge/normalize/normalizer.hpp"
#include "sungrow/edge/schedule.hpp"
#include "sungrow/edge/spool/spool.hpp"
#include "sungrow/edge/upload/uploader.hpp"

namespace sungrow::edge {

namespace {
spdlog::logger& log() {
  return component_logger("edge");
}
}  // namespace

namespace {

using Clock = std::chrono::steady_clock;

// Sleeps until `deadline` or until stop is requested, whichever comes first.
void sleep_until(Clock::time_point deadline, std::stop_token stop) {
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);
  cv.wait_until(lock, stop, deadline, [] { return false; });
}

// The health state shared by both loops; every update rewrites the file.
class Health {
 public:
  explicit Health(std::string path) : path_(std::move(path)) {}

  HealthState snapshot() const {
    std::lock_guard lock(mutex_);
    return state_;
  }

  template <class F>
  void update(F&& change, const Spool& spool) {
    std::lock_guard lock(mutex_);
    change(state_);
    const auto stats = spool.stats();
    state_.spool_depth = stats.depth;
    state_.pending_in_memory = stats.pending_in_memory;
    state_.oldest_unsent = stats.oldest_ts;
    state_.dead_letters = stats.dead_letters;
    state_.lost_in_memory = stats.lost_in_memory;
    state_.spool_error = stats.last_write_error.value_or("");
    if (auto written = write_health_file(path_, state_, now_utc()); !written) {
      if (!write_failed_) log().warn("Health file not written: {}", written.error().message);
      write_failed_ = true;
    } else {
      write_failed_ = false;
    }
  }

 private:
  mutable std::mutex mutex_;
  std::string path_;
  HealthState state_;
  bool write_failed_ = false;
};

// Holds an exclusive lock on `<spool>.lock` for the agent's lifetime: the spool assigns seq and ts
// in memory, so two agents on one spool would hand out the same seq twice.
class SpoolLock {
 public:
  static Result<SpoolLock> acquire(const std::string& spool_path) {
    const auto path = spool_path + ".lock";
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    if (!fd) return fail(fmt::format("cannot open {}: {}", path, std::strerror(errno)));
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
      return fail(
          fmt::format("another sungrow-edge is already running on {} (lock {})", spool_path, path));
    }
    return SpoolLock(std::move(fd));
  }

 private:
  explicit SpoolLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;  // closing it releases the lock
};

// What the Home Assistant edge entities show, from the health state.
EdgeHealth edge_health(const HealthState& h, Timestamp now) {
  EdgeHealth out{.status = to_string(classify(h)),
                 .spool_depth = h.spool_depth + h.pending_in_memory,
                 .oldest_unsent_age_s = std::nullopt,
                 .last_upload_at = h.last_upload_at,
                 .dead_letters = h.dead_letters};
  if (h.oldest_unsent)
    out.oldest_unsent_age_s =
        std::max(0.0, std::chrono::duration<double>(now - *h.oldest_unsent).count());
  return out;
}

// The clock reference lives in the spool's notes: it must survive exactly the restarts during
// which there is nothing to measure it against.
constexpr std::string_view kNoteInverterOffset = "clock.inverter_offset_ms";
constexpr std::string_view kNoteMeasuredAt = "clock.measured_at_ms";

std::optional<ClockReference> load_clock_reference(Spool& spool) {
  auto offset = spool.note(kNoteInverterOffset);
  auto at = spool.note(kNoteMeasuredAt);
  if (!offset || !at) {
    log().warn("Clock reference not read from the spool: {}",
               (!offset ? offset.error() : at.error()).message);
    return std::nullopt;
  }
  if (!*offset || !*at) return std::nullopt;
  return ClockReference{std::chrono::milliseconds{**offset},
                        Timestamp{std::chrono::milliseconds{**at}}};
}

void keep_clock_reference(Spool& spool, const std::optional<ClockReference>& ref) {
  const std::array<Spool::Note, 2> notes{
      Spool::Note{kNoteInverterOffset,
                  ref ? std::optional{ref->inverter_offset.count()} : std::nullopt},
      Spool::Note{kNoteMeasuredAt,
                  ref ? std::optional{unix_millis(ref->measured_at)} : std::nullopt}};
  // Kept in memory either way; only a restart before the next measurement would miss it.
  if (auto kept = spool.set_notes(notes); !kept)
    log().warn("Clock reference not written to the spool: {}", kept.error().message);
}

// Whether the edge's clock is synchronized: the kernel's word, or a test's file in its place.
std::function<bool()> sync_status(const EdgeConfig& config) {
  if (config.test_clock_sync_file.empty()) return system_clock_synchronized;
  return [path = config.test_clock_sync_file] {
    std::ifstream in(path);
    std::string word;
    in >> word;
    return word == "synced";
  };
}

std::string_view describe(TsSource source) {
  switch (source) {
    case TsSource::ntp:
      return "the edge's clock, synchronized";
    case TsSource::inverter:
      return "the inverter's clock (the edge's clock is not synchronized)";
    case TsSource::unsynced:
      return "the edge's clock, NOT synchronized and not checked (marked ts_source=unsynced)";
    case TsSource::bumped:
      break;
  }
  return "the spool (bumped)";
}

// What the poll loop works with, besides the spool and health it shares with the upload loop.
struct PollParts {
  Poller& poller;
  LoadEnergyHold& load_hold;
  EdgeClock& clock;
  std::function<bool()> synchronized;
  HomeAssistantFeed* ha;
  std::string device_id;
  std::optional<TsSource> last_source{};  // of the previous stamp, to log changes once
};

// Reads holding registers 5000–5005 on the poll's connection; the outcome only ever changes how
// samples are stamped, never whether they are taken.
void check_inverter_clock(PollParts& p, Spool& spool, std::stop_token stop) {
  const auto& r = kInverterClockRegisters;
  const auto words = p.poller.read_extra(r.table, r.first_doc, r.count, stop);
  const auto before = p.clock.health().consecutive_failures;
  const bool changed = p.clock.observe_read(words, now_utc(), Clock::now(), p.synchronized());
  const auto& h = p.clock.health();
  if (h.consecutive_failures > 0) {
    if (h.consecutive_failures == 1 || h.consecutive_failures % 10 == 0)
      log().warn("Inverter clock not usable ({} in a row): {}", h.consecutive_failures,
                 h.last_error);
  } else {
    if (before > 0) log().info("Inverter clock read again after {} failure(s)", before);
    log().debug("Inverter clock reads {} (inverter − edge = {} ms)", h.inverter_reads,
                h.inverter_minus_edge ? h.inverter_minus_edge->count() : 0);
  }
  if (changed) keep_clock_reference(spool, h.reference);
}

void poll_once(PollParts& p, Spool& spool, Health& health, std::stop_token stop) {
  const auto edge_now = now_utc();
  const auto steady_now = Clock::now();
  const bool synchronized = p.synchronized();
  auto image = p.poller.poll(stop);
  if (!image) {
    if (p.ha != nullptr) p.ha->poll_failed();
    health.update(
        [&](HealthState& h) {
          h.last_poll_at = edge_now;
          h.last_poll_ok = false;
          ++h.consecutive_poll_failures;
          h.last_poll_error = image.error().message;
          if (h.consecutive_poll_failures == 1 || h.consecutive_poll_failures % 60 == 0)
            log().warn("Poll failed; will retry. failures={} error={}", h.consecutive_poll_failures,
                       image.error().message);
        },
        spool);
    return;
  }
  // After the poll's reads, so the inverter is asked only while it answers; the stamp is still
  // the poll's own instant.
  if (p.clock.read_due(steady_now)) check_inverter_clock(p, spool, stop);
  const auto stamp = p.clock.stamp(edge_now, steady_now, synchronized);
  if (stamp.source != p.last_source) {
    const auto off = stamp.adjust_ms ? fmt::format(" (the edge's clock is {:+.3f} s off)",
                                                   -static_cast<double>(*stamp.adjust_ms) / 1000.0)
                                     : std::string{};
    if (stamp.source == TsSource::ntp)
      log().info("Sample times come from {}", describe(stamp.source));
    else
      log().warn("Sample times come from {}{}", describe(stamp.source), off);
    p.last_source = stamp.source;
  }

  auto normalized = normalize(*image, stamp.ts, p.device_id);
  normalized.sample.ts_source = stamp.source;
  normalized.sample.ts_adjust_ms = stamp.adjust_ms;
  p.load_hold.apply(normalized.sample);
  for (const auto& w : normalized.warnings) log().warn("Value discarded: {}", w);
  const auto outcome = spool.enqueue(std::move(normalized.sample));
  // Debug only: the spool reports a failing disk itself, at first and then about hourly.
  if (!outcome.durable)
    log().debug("sample seq={} kept in memory: the spool refused the write", outcome.stored.seq);
  if (p.ha != nullptr) p.ha->polled(outcome.stored, *image);
  health.update(
      [&](HealthState& h) {
        if (h.consecutive_poll_failures > 0)
          log().info("Poll recovered after {} failures", h.consecutive_poll_failures);
        h.last_poll_at = edge_now;
        h.last_poll_ok = true;
        h.consecutive_poll_failures = 0;
        h.last_poll_error.clear();
        h.unsupported_registers = p.poller.unsupported().size();
        h.clock = p.clock.health();
        h.last_ts_source = outcome.stored.ts_source;
        h.last_ts_adjust_ms = outcome.stored.ts_adjust_ms;
      },
      spool);
}

void upload_loop(Uploader& uploader, Spool& spool, Health& health, std::stop_token stop) {
  while (!stop.stop_requested()) {
    const auto step = uploader.step();
    const bool posted = step.sent > 0 || step.dead_lettered > 0 || !step.ok;
    if (posted) {
      health.update(
          [&](HealthState& h) {
            h.last_upload_at = now_utc();
            h.last_upload_ok = step.ok;
            h.consecutive_upload_failures = step.ok ? 0 : h.consecutive_upload_failures + 1;
            h.last_upload_error = step.ok ? std::string{} : step.error;
          },
          spool);
    }
    sleep_until(Clock::now() + step.wait, stop);
  }
}

}  // namespace

ModbusSettings modbus_settings(const EdgeConfig& c) {
  ModbusSettings s;
  s.host = c.sungrow_host;
  s.port = static_cast<std::uint16_t>(c.sungrow_port);
  s.unit_id = c.slave_id;
  s.inter_read_delay = std::chrono::milliseconds{c.inter_register_delay_ms};
  s.response_timeout = std::chrono::milliseconds{c.modbus_timeout_ms};
  return s;
}

Result<MqttSettings> mqtt_settings(const EdgeConfig& c) {
  auto endpoint = parse_mqtt_url(c.mqtt_url);
  if (!endpoint) return fail("MQTT_URL " + endpoint.error().message);
  MqttSettings s;
  s.endpoint = std::move(*endpoint);
  s.username = c.mqtt_username;
  if (!c.mqtt_password_file.empty()) {
    auto password = read_password_file(c.mqtt_password_file);
    if (!password) return password.error();
    s.password = std::move(*password);
  }
  s.ca_file = c.mqtt_ca_file;
  s.client_id = "sungrow-edge-" + c.effective_device_id();
  const auto topics = ha_topics(c);
  s.status_topic = topics.edge_status();
  s.birth_topic = topics.birth();
  if (c.test_mqtt_keepalive_s > 0) s.keepalive = std::chrono::seconds{c.test_mqtt_keepalive_s};
  return s;
}

HaTopics ha_topics(const EdgeConfig& c) {
  return HaTopics{.discovery_prefix = c.mqtt_discovery_prefix,
                  .base = c.mqtt_base_topic,
                  .device_id = c.effective_device_id()};
}

UploaderSettings uploader_settings(const EdgeConfig& c) {
  UploaderSettings s;
  s.url = c.vps_ingest_url;
  s.token = c.vps_device_token;
  if (!c.vps_ca_file.empty()) s.ca_file = c.vps_ca_file;
  s.gzip = c.vps_gzip;
  s.timeout = std::chrono::seconds{c.upload_timeout_s};
  s.batch_size = static_cast<std::size_t>(c.batch_size);
  s.max_batch_size = static_cast<std::size_t>(c.max_batch_size);
  s.upload_interval = std::chrono::seconds{c.upload_interval_s};
  return s;
}

Result<void> run_agent(const EdgeConfig& config, std::stop_token stop) {
  auto lock = SpoolLock::acquire(config.spool_path);
  if (!lock) return lock.error();
  SpoolOptions spool_options;
  spool_options.max_pages = static_cast<std::uint64_t>(config.spool_max_mb) * 256U;  // 4 KiB pages
  auto spool = Spool::open(config.spool_path, spool_options);
  if (!spool) return spool.error();

  Health health(config.health_path);
  Poller poller(modbus_settings(config));
  EdgeClock clock(
      ClockSettings{.check_interval = std::chrono::seconds{config.clock_check_interval_s},
                    .first_retry = std::chrono::seconds{60},
                    .edge_zone = system_zone_offset()},
      load_clock_reference(*spool));
  auto created = Uploader::create(uploader_settings(config), *spool);
  if (!created) return created.error();
  Uploader& uploader = *created;
  const auto device_id = config.effective_device_id();

  {
    const auto s = spool->stats();
    log().info(
        "Edge started. device_id={} inverter={}:{} unit={} poll_interval_ms={} spool={} "
        "backlog={} last_seq={}",
        device_id, config.sungrow_host, config.sungrow_port, config.slave_id,
        config.poll_interval().count(), config.spool_path, s.depth, s.last_seq);
  }

  // Home Assistant: declared before the loops so it outlives them; its destructor says "offline".
  std::unique_ptr<MqttPublisher> mqtt;
  std::optional<HomeAssistantFeed> ha;
  if (config.mqtt_enabled()) {
    auto settings = mqtt_settings(config);
    if (!settings) return settings.error();
    log().info("Home Assistant over MQTT: broker {}, discovery prefix {}, base topic {}",
               settings->endpoint.text(), config.mqtt_discovery_prefix, config.mqtt_base_topic);
    auto started = MqttPublisher::start(std::move(*settings));
    if (!started) return started.error();
    mqtt = std::move(*started);
    ha.emplace(ha_topics(config), config.poll_interval(), *mqtt);
  }

  std::jthread uploads([&](std::stop_token own) { upload_loop(uploader, *spool, health, own); });
  std::stop_callback forward(stop, [&] { uploads.request_stop(); });

  const auto interval = std::chrono::duration_cast<Clock::duration>(config.poll_interval());
  const auto start = Clock::now();
  LoadEnergyHold load_hold;
  PollParts parts{.poller = poller,
                  .load_hold = load_hold,
                  .clock = clock,
                  .synchronized = sync_status(config),
                  .ha = ha ? &*ha : nullptr,
                  .device_id = device_id};
  while (!stop.stop_requested()) {
    poll_once(parts, *spool, health, stop);
    if (ha) ha->health(edge_health(health.snapshot(), now_utc()));
    sleep_until(next_tick<Clock>(start, interval, Clock::now()), stop);
  }
  uploads.request_stop();
  uploads.join();
  ha.reset();
  mqtt.reset();  // publishes "offline" and disconnects
  log().info("Edge stopped. backlog={}", spool->stats().depth);
  return {};
}

}  // namespace sungrow::edge
