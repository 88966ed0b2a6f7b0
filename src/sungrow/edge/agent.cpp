// Wires pollers, normalizer, spool, uploaders, health and the optional Home Assistant feed into the
// poll loops (one per host) and the upload loop, with clean shutdown.
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
#include <random>
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
#include "sungrow/edge/upload/rotation.hpp"
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

// The health state shared by the loops; every update rewrites the file.
class Health {
 public:
  Health(std::string path, const std::vector<DeviceSpec>& devices) : path_(std::move(path)) {
    for (const auto& d : devices) {
      DeviceHealth entry;
      entry.device_id = d.id;
      state_.devices.push_back(std::move(entry));
    }
  }

  HealthState snapshot() const {
    std::lock_guard lock(mutex_);
    return state_;
  }

  // Changes the entry of device `index` (in the configured order).
  template <class F>
  void update(std::size_t index, F&& change, const Spool& spool) {
    std::lock_guard lock(mutex_);
    change(state_.devices.at(index).state);
    const auto stats = spool.stats();
    state_.spool_depth = stats.depth;
    state_.pending_in_memory = stats.pending_in_memory;
    state_.oldest_unsent = stats.oldest_ts;
    state_.dead_letters = stats.dead_letters;
    state_.lost_in_memory = stats.lost_in_memory;
    state_.spool_error = stats.last_write_error.value_or("");
    for (auto& d : state_.devices) {
      const auto it =
          std::find_if(stats.devices.begin(), stats.devices.end(),
                       [&](const DeviceSpoolStats& s) { return s.device_id == d.device_id; });
      if (it == stats.devices.end()) continue;
      d.state.spool_depth = it->depth;
      d.state.pending_in_memory = it->pending_in_memory;
      d.state.oldest_unsent = it->oldest_ts;
      d.state.dead_letters = it->dead_letters;
      d.last_seq = it->last_seq;
    }
    summarize_devices(state_);
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
// which there is nothing to measure it against. One per inverter; the single-inverter edge keeps
// the names it always had.
struct ClockNotes {
  std::string inverter_offset = "clock.inverter_offset_ms";
  std::string measured_at = "clock.measured_at_ms";

  static ClockNotes of(const DeviceSpec& d, bool several) {
    if (!several) return {};
    return {fmt::format("clock.{}.inverter_offset_ms", d.id),
            fmt::format("clock.{}.measured_at_ms", d.id)};
  }
};

std::optional<ClockReference> load_clock_reference(Spool& spool, const ClockNotes& names) {
  auto offset = spool.note(names.inverter_offset);
  auto at = spool.note(names.measured_at);
  if (!offset || !at) {
    log().warn("Clock reference not read from the spool: {}",
               (!offset ? offset.error() : at.error()).message);
    return std::nullopt;
  }
  if (!*offset || !*at) return std::nullopt;
  return ClockReference{std::chrono::milliseconds{**offset},
                        Timestamp{std::chrono::milliseconds{**at}}};
}

void keep_clock_reference(Spool& spool, const ClockNotes& names,
                          const std::optional<ClockReference>& ref) {
  const std::array<Spool::Note, 2> notes{
      Spool::Note{names.inverter_offset,
                  ref ? std::optional{ref->inverter_offset.count()} : std::nullopt},
      Spool::Note{names.measured_at,
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

// What one device's polls work with, besides the spool and health shared with the upload loop.
// Owned by its host's poll loop.
struct PollParts {
  std::size_t index;  // in the configured order (the health file's)
  std::string device_id;
  Poller poller;
  LoadEnergyHold load_hold;
  EdgeClock clock;
  ClockNotes notes;
  std::function<bool()> synchronized;
  HomeAssistantFeed* ha = nullptr;
  std::optional<TsSource> last_source{};  // of the previous stamp, to log changes once
  bool failed_last = false;               // the previous poll failed: poll it after the others
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
  if (changed) keep_clock_reference(spool, p.notes, h.reference);
}

void poll_once(PollParts& p, Spool& spool, Health& health, std::stop_token stop) {
  const auto edge_now = now_utc();
  const auto steady_now = Clock::now();
  const bool synchronized = p.synchronized();
  auto image = p.poller.poll(stop);
  if (!image) {
    if (p.ha != nullptr) p.ha->poll_failed();
    p.failed_last = true;
    health.update(
        p.index,
        [&](HealthState& h) {
          h.last_poll_at = edge_now;
          h.last_poll_ok = false;
          ++h.consecutive_poll_failures;
          h.last_poll_error = image.error().message;
          if (h.consecutive_poll_failures == 1 || h.consecutive_poll_failures % 60 == 0)
            log().warn("Poll failed; will retry. failures={} error={} device={}",
                       h.consecutive_poll_failures, image.error().message, p.device_id);
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
      log().info("Sample times of {} come from {}", p.device_id, describe(stamp.source));
    else
      log().warn("Sample times of {} come from {}{}", p.device_id, describe(stamp.source), off);
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
  p.failed_last = false;
  health.update(
      p.index,
      [&](HealthState& h) {
        if (h.consecutive_poll_failures > 0)
          log().info("Poll recovered after {} failures (device {})", h.consecutive_poll_failures,
                     p.device_id);
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

void upload_loop(UploadRotation& rotation, std::stop_token stop) {
  while (!stop.stop_requested()) sleep_until(rotation.pass(Clock::now()), stop);
}

// One (host, port): its link and the devices behind it, polled in turn on one grid.
struct HostGroup {
  std::string host;
  std::uint16_t port = 0;
  std::shared_ptr<ModbusLink> link;  // null: the single device's Poller owns its link
  std::vector<PollParts> devices;
};

// Polls every device of `group` once per tick of its grid until stopped. A device whose last poll
// failed goes after the others, so a silent unit (one Modbus timeout per cycle) delays nobody else.
// A cycle that overruns the interval skips the missed ticks (next_tick): the host's cadence
// stretches and the link is never opened twice.
void host_loop(HostGroup& group, Spool& spool, Health& health, Clock::duration interval,
               Clock::time_point start, std::stop_token stop) {
  bool overrun_warned = false;
  std::vector<PollParts*> order;
  while (!stop.stop_requested()) {
    const auto cycle_start = Clock::now();
    if (group.link) group.link->begin_round();
    order.clear();
    for (auto& d : group.devices) order.push_back(&d);
    std::stable_partition(order.begin(), order.end(),
                          [](const PollParts* d) { return !d->failed_last; });
    for (auto* d : order) {
      if (stop.stop_requested()) break;
      poll_once(*d, spool, health, stop);
      if (d->ha != nullptr) d->ha->health(edge_health(health.snapshot(), now_utc()));
    }
    const auto took = Clock::now() - cycle_start;
    if (took > interval && !overrun_warned && !stop.stop_requested()) {
      log().warn(
          "Polling {}:{} ({} device(s)) took {} ms, longer than the poll interval of {} ms: its "
          "cadence stretches to the next free tick (never a second connection)",
          group.host, group.port, group.devices.size(),
          std::chrono::duration_cast<std::chrono::milliseconds>(took).count(),
          std::chrono::duration_cast<std::chrono::milliseconds>(interval).count());
      overrun_warned = true;
    }
    sleep_until(next_tick<Clock>(start, interval, Clock::now()), stop);
  }
}

}  // namespace

ModbusSettings modbus_settings(const EdgeConfig& c, const DeviceSpec& device) {
  ModbusSettings s;
  s.host = device.host;
  s.port = device.port;
  s.unit_id = device.unit;
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

UploaderSettings uploader_settings(const EdgeConfig& c, const DeviceSpec& device) {
  UploaderSettings s;
  s.url = c.vps_ingest_url;
  s.token = device.token;
  s.device_id = device.id;
  if (!c.vps_ca_file.empty()) s.ca_file = c.vps_ca_file;
  s.gzip = c.vps_gzip;
  s.timeout = std::chrono::seconds{c.upload_timeout_s};
  s.batch_size = static_cast<std::size_t>(c.batch_size);
  s.max_batch_size = static_cast<std::size_t>(c.max_batch_size);
  s.upload_interval = std::chrono::seconds{c.upload_interval_s};
  return s;
}

namespace {

// The devices grouped by (host, port), in the order of their first device.
std::vector<HostGroup> group_by_host(const EdgeConfig& config,
                                     const std::vector<DeviceSpec>& devices, Spool& spool,
                                     HomeAssistantFeed* ha) {
  const bool several = config.several_devices();
  std::vector<HostGroup> groups;
  for (std::size_t i = 0; i < devices.size(); ++i) {
    const auto& d = devices[i];
    auto it = std::find_if(groups.begin(), groups.end(), [&](const HostGroup& g) {
      return g.host == d.host && g.port == d.port;
    });
    if (it == groups.end()) {
      HostGroup g{.host = d.host, .port = d.port, .link = nullptr, .devices = {}};
      const auto m = modbus_settings(config, d);
      if (several)
        g.link = std::make_shared<ModbusLink>(LinkSettings{.host = m.host,
                                                           .port = m.port,
                                                           .inter_read_delay = m.inter_read_delay,
                                                           .response_timeout = m.response_timeout,
                                                           .backoff_base = m.backoff_base,
                                                           .backoff_cap = m.backoff_cap},
                                              std::random_device{}());
      groups.push_back(std::move(g));
      it = std::prev(groups.end());
    }
    auto notes = ClockNotes::of(d, several);
    auto reference = load_clock_reference(spool, notes);
    it->devices.push_back(PollParts{
        .index = i,
        .device_id = d.id,
        .poller = it->link ? Poller(it->link, d.unit) : Poller(modbus_settings(config, d)),
        .load_hold = {},
        .clock = EdgeClock(
            ClockSettings{.check_interval = std::chrono::seconds{config.clock_check_interval_s},
                          .first_retry = std::chrono::seconds{60},
                          .edge_zone = system_zone_offset()},
            std::move(reference)),
        .notes = std::move(notes),
        .synchronized = sync_status(config),
        .ha = ha,
    });
  }
  return groups;
}

}  // namespace

Result<void> run_agent(const EdgeConfig& config, std::stop_token stop) {
  auto configured = configured_devices(config, true);
  if (!configured) return configured.error();
  const std::vector<DeviceSpec> devices = std::move(configured).value();
  auto lock = SpoolLock::acquire(config.spool_path);
  if (!lock) return lock.error();
  SpoolOptions spool_options;
  spool_options.max_pages = static_cast<std::uint64_t>(config.spool_max_mb) * 256U;  // 4 KiB pages
  auto spool = Spool::open(config.spool_path, spool_options);
  if (!spool) return spool.error();

  Health health(config.health_path, devices);
  std::vector<Uploader> uploaders;
  for (const auto& d : devices) {
    auto created = Uploader::create(uploader_settings(config, d), *spool);
    if (!created) return fail(fmt::format("device {}: {}", d.id, created.error().message));
    uploaders.push_back(std::move(*created));
  }
  UploadRotation rotation(std::move(uploaders), [&](std::size_t i, const UploadStep& step) {
    health.update(
        i,
        [&](HealthState& h) {
          h.last_upload_at = now_utc();
          h.last_upload_ok = step.ok;
          h.consecutive_upload_failures = step.ok ? 0 : h.consecutive_upload_failures + 1;
          h.last_upload_error = step.ok ? std::string{} : step.error;
        },
        *spool);
  });

  {
    const auto s = spool->stats();
    if (!config.several_devices()) {
      const auto& d = devices.front();
      log().info(
          "Edge started. device_id={} inverter={}:{} unit={} poll_interval_ms={} spool={} "
          "backlog={} last_seq={}",
          d.id, d.host, d.port, d.unit, config.poll_interval().count(), config.spool_path, s.depth,
          s.last_seq);
    } else {
      std::vector<std::string> listed;
      for (const auto& d : devices)
        listed.push_back(
            fmt::format("{}@{}:{}/unit {} ({})", d.id, d.host, d.port, d.unit, to_string(d.role)));
      log().info("Edge started. devices={} [{}] poll_interval_ms={} spool={} backlog={}",
                 devices.size(), fmt::join(listed, ", "), config.poll_interval().count(),
                 config.spool_path, s.depth);
    }
  }

  // Home Assistant (one device only; validate() refuses MQTT_URL with a devices file): declared
  // before the loops so it outlives them; its destructor says "offline".
  std::unique_ptr<MqttPublisher> mqtt;
  std::optional<HomeAssistantFeed> ha;
  if (config.mqtt_enabled() && devices.size() == 1) {
    auto settings = mqtt_settings(config);
    if (!settings) return settings.error();
    log().info("Home Assistant over MQTT: broker {}, discovery prefix {}, base topic {}",
               settings->endpoint.text(), config.mqtt_discovery_prefix, config.mqtt_base_topic);
    auto started = MqttPublisher::start(std::move(*settings));
    if (!started) return started.error();
    mqtt = std::move(*started);
    ha.emplace(ha_topics(config), config.poll_interval(), *mqtt);
  }

  auto groups = group_by_host(config, devices, *spool, ha ? &*ha : nullptr);
  std::jthread uploads([&](std::stop_token own) { upload_loop(rotation, own); });
  const auto interval = std::chrono::duration_cast<Clock::duration>(config.poll_interval());
  const auto start = Clock::now();
  // Hosts poll independently: every host but the first on a thread of its own, so a dead or slow
  // inverter never shifts the grid of another host.
  std::vector<std::jthread> other_hosts;
  for (std::size_t g = 1; g < groups.size(); ++g)
    other_hosts.emplace_back([&, g](std::stop_token own) {
      host_loop(groups[g], *spool, health, interval, start, own);
    });
  std::stop_callback forward(stop, [&] {
    uploads.request_stop();
    for (auto& t : other_hosts) t.request_stop();
  });
  host_loop(groups.front(), *spool, health, interval, start, stop);
  for (auto& t : other_hosts) {
    t.request_stop();
    t.join();
  }
  uploads.request_stop();
  uploads.join();
  ha.reset();
  mqtt.reset();  // publishes "offline" and disconnects
  log().info("Edge stopped. backlog={}", spool->stats().depth);
  return {};
}

}  // namespace sungrow::edge
