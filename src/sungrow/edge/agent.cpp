// Wires poller, normalizer, spool, uploader, health and the optional Home Assistant feed into two
// loops with clean shutdown.
#include "sungrow/edge/agent.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "sungrow/core/logger.hpp"
#include "sungrow/core/unique_fd.hpp"
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

void poll_once(Poller& poller, LoadEnergyHold& load_hold, Spool& spool, Health& health,
               HomeAssistantFeed* ha, const std::string& device_id, std::stop_token stop) {
  const auto ts = now_utc();
  auto image = poller.poll(stop);
  if (!image) {
    if (ha != nullptr) ha->poll_failed();
    health.update(
        [&](HealthState& h) {
          h.last_poll_at = ts;
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
  auto normalized = normalize(*image, ts, device_id);
  load_hold.apply(normalized.sample);
  for (const auto& w : normalized.warnings) log().warn("Value discarded: {}", w);
  const auto outcome = spool.enqueue(std::move(normalized.sample));
  // Debug only: the spool reports a failing disk itself, at first and then about hourly.
  if (!outcome.durable)
    log().debug("sample seq={} kept in memory: the spool refused the write", outcome.stored.seq);
  if (ha != nullptr) ha->polled(outcome.stored, *image);
  health.update(
      [&](HealthState& h) {
        if (h.consecutive_poll_failures > 0)
          log().info("Poll recovered after {} failures", h.consecutive_poll_failures);
        h.last_poll_at = ts;
        h.last_poll_ok = true;
        h.consecutive_poll_failures = 0;
        h.last_poll_error.clear();
        h.unsupported_registers = poller.unsupported().size();
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
  while (!stop.stop_requested()) {
    poll_once(poller, load_hold, *spool, health, ha ? &*ha : nullptr, device_id, stop);
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
