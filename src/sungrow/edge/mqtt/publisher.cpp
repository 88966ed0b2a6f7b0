// The publisher's thread: one libmosquitto client per connection attempt, pumped from poll(),
// reconnect backoff, latest-per-topic bookkeeping and the re-sending of retained messages.
#include "sungrow/edge/mqtt/publisher.hpp"

#include <fmt/format.h>
#include <mosquitto.h>
#include <poll.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <stop_token>
#include <thread>

#include "sungrow/core/backoff.hpp"
#include "sungrow/core/logger.hpp"
#include "sungrow/core/unique_fd.hpp"
#include "sungrow/edge/mqtt/mosquitto_handle.hpp"

namespace sungrow::edge {

namespace {
spdlog::logger& log() {
  return component_logger("mqtt");
}
}  // namespace
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kShutdownWait = 2s;  // for the broker to acknowledge the "offline" status
constexpr auto kTick = 1s;          // libmosquitto's keepalive wants a call about once a second
constexpr std::string_view kOnline = "online";
constexpr std::string_view kOffline = "offline";

struct Entry {
  MqttMessage message;
  bool pending = true;     // to be handed to libmosquitto
  bool in_flight = false;  // handed over and not yet written (QoS 0) or acknowledged (QoS 1)
};

bool is(const mosquitto_message& m, std::string_view topic, std::string_view payload) {
  const std::string_view got(static_cast<const char*>(m.payload),
                             static_cast<std::size_t>(std::max(m.payloadlen, 0)));
  return m.topic != nullptr && topic == m.topic && got == payload;
}

}  // namespace

struct MqttPublisher::Impl {
  Impl(MqttSettings s, UniqueFd w)
      : settings(std::move(s)),
        wake(std::move(w)),
        backoff(settings.backoff_base, settings.backoff_cap) {}

  MqttSettings settings;
  UniqueFd wake;  // eventfd: a post arrived or a stop was requested

  mutable std::mutex mutex;  // guards outbox, shared_stats and superseded_in_outbox
  std::map<std::string, MqttMessage> outbox;
  MqttPublisherStats shared_stats;  // the thread's latest copy of `stats`
  std::uint64_t superseded_in_outbox = 0;

  // Everything below belongs to the thread.
  std::map<std::string, Entry> topics;
  std::map<int, std::string> in_flight;  // mid → topic
  std::set<int> written_early;           // QoS 0 mids written inside mosquitto_publish itself
  MosquittoHandle client;
  enum class Phase { down, connecting, up } phase = Phase::down;
  Clock::time_point retry_at{};
  Clock::time_point attempt_started{};
  Backoff backoff;
  MqttPublisherStats stats;
  // Set by libmosquitto's callbacks, which run on this thread inside mosquitto_* calls.
  std::optional<int> connack;
  std::optional<int> disconnected;  // the reason libmosquitto gave
  std::string library_error;        // the last error libmosquitto logged, e.g. OpenSSL's reason

  std::jthread thread;

  void run(std::stop_token stop);
  void take_posts();
  void open();
  void flush();
  void pump();
  void became_up();
  void attempt_failed(const std::string& why);
  void drop_client();
  void wait(Clock::duration timeout);
  void shutdown();
  void publish_stats();
  void received(const mosquitto_message& m);
  void confirmed(int mid);
  std::string reason(int rc) const;
};

namespace {

void on_connect(mosquitto*, void* self, int rc) {
  static_cast<MqttPublisher::Impl*>(self)->connack = rc;
}
void on_disconnect(mosquitto*, void* self, int rc) {
  static_cast<MqttPublisher::Impl*>(self)->disconnected = rc;
}
void on_publish(mosquitto*, void* self, int mid) {
  static_cast<MqttPublisher::Impl*>(self)->confirmed(mid);
}
void on_message(mosquitto*, void* self, const mosquitto_message* m) {
  if (m != nullptr) static_cast<MqttPublisher::Impl*>(self)->received(*m);
}
void on_log(mosquitto*, void* self, int level, const char* text) {
  if ((level & MOSQ_LOG_ERR) != 0 && text != nullptr)
    static_cast<MqttPublisher::Impl*>(self)->library_error = text;
}

}  // namespace

void MqttPublisher::Impl::run(std::stop_token stop) {
  // libmosquitto writes with write(2): a broker that closed the socket would raise SIGPIPE, whose
  // default action kills the edge. The signal goes to the writing thread, so blocking it on this
  // dedicated thread turns it into EPIPE, which libmosquitto reports as a lost connection.
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe_signal, nullptr);

  const std::stop_callback wake_on_stop(stop, [this] {
    const std::uint64_t one = 1;
    if (::write(wake.get(), &one, sizeof one) < 0) {
      // The counter is far from full; a failed write still leaves the loop's 1 s tick.
    }
  });
  while (!stop.stop_requested()) {
    take_posts();
    if (!client) {
      const auto now = Clock::now();
      if (now >= retry_at) {
        open();
      } else {
        wait(retry_at - now);
      }
    } else {
      if (phase == Phase::up) flush();
      wait(phase == Phase::connecting
               ? std::min<Clock::duration>(
                     kTick, attempt_started + settings.connect_timeout - Clock::now())
               : Clock::duration{kTick});
      pump();
    }
    publish_stats();
  }
  shutdown();
  publish_stats();
}

void MqttPublisher::Impl::take_posts() {
  std::map<std::string, MqttMessage> taken;
  {
    const std::lock_guard lock(mutex);
    taken.swap(outbox);
  }
  for (auto& [topic, message] : taken) {
    auto [it, inserted] = topics.try_emplace(topic);
    Entry& e = it->second;
    if (!inserted && e.pending) ++stats.superseded;  // never handed over
    e.message = std::move(message);
    e.pending = true;
  }
}

void MqttPublisher::Impl::open() {
  connack.reset();
  disconnected.reset();
  library_error.clear();
  client = make_mosquitto(settings.client_id, this);
  if (!client) return attempt_failed("libmosquitto could not create a client (out of memory)");
  mosquitto* m = client.get();
  mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
  mosquitto_connect_callback_set(m, on_connect);
  mosquitto_disconnect_callback_set(m, on_disconnect);
  mosquitto_publish_callback_set(m, on_publish);
  mosquitto_message_callback_set(m, on_message);
  mosquitto_log_callback_set(m, on_log);
  int rc = MOSQ_ERR_SUCCESS;
  if (!settings.username.empty()) {
    rc = mosquitto_username_pw_set(m, settings.username.c_str(),
                                   settings.password.empty() ? nullptr : settings.password.c_str());
  }
  if (rc == MOSQ_ERR_SUCCESS) {
    rc = mosquitto_will_set(m, settings.status_topic.c_str(), static_cast<int>(kOffline.size()),
                            kOffline.data(), 1, true);
  }
  if (rc == MOSQ_ERR_SUCCESS && settings.endpoint.tls) {
    if (settings.ca_file.empty()) {
      rc = mosquitto_int_option(m, MOSQ_OPT_TLS_USE_OS_CERTS, 1);
    } else {
      rc = mosquitto_tls_set(m, settings.ca_file.c_str(), nullptr, nullptr, nullptr, nullptr);
    }
    // Verify the broker's chain and its name, always: there is no setting to turn this off.
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_tls_opts_set(m, 1, nullptr, nullptr);
    if (rc == MOSQ_ERR_SUCCESS) rc = mosquitto_tls_insecure_set(m, false);
  }
  if (rc == MOSQ_ERR_SUCCESS) {
    // Non-blocking connect; the name is resolved here, on this thread, never the poll loop's.
    rc = mosquitto_connect_async(m, settings.endpoint.host.c_str(), settings.endpoint.port,
                                 static_cast<int>(settings.keepalive.count()));
  }
  if (rc != MOSQ_ERR_SUCCESS) return attempt_failed(reason(rc));
  phase = Phase::connecting;
  attempt_started = Clock::now();
}

void MqttPublisher::Impl::flush() {
  for (auto& [topic, e] : topics) {
    if (!e.pending || e.in_flight) continue;
    int mid = 0;
    const int rc = mosquitto_publish(client.get(), &mid, topic.c_str(),
                                     static_cast<int>(e.message.payload.size()),
                                     e.message.payload.data(), e.message.qos, e.message.retain);
    if (rc == MOSQ_ERR_PAYLOAD_SIZE || rc == MOSQ_ERR_OVERSIZE_PACKET || rc == MOSQ_ERR_INVAL ||
        rc == MOSQ_ERR_MALFORMED_UTF8 || rc == MOSQ_ERR_QOS_NOT_SUPPORTED) {
      e.pending = false;  // this message can never be sent
      log().warn("message for {} dropped: {}", topic, mosquitto_error_text(rc));
      continue;
    }
    if (rc != MOSQ_ERR_SUCCESS) return;  // the connection broke: pump() sees it, this waits
    e.pending = false;
    ++stats.handed_over;
    if (written_early.erase(mid) == 0) {
      e.in_flight = true;
      in_flight.emplace(mid, topic);
    }
  }
}

void MqttPublisher::Impl::confirmed(int mid) {
  const auto it = in_flight.find(mid);
  if (it == in_flight.end()) {
    // A QoS 0 publish can be written completely before mosquitto_publish returns its mid.
    written_early.insert(mid);
    return;
  }
  if (const auto t = topics.find(it->second); t != topics.end()) t->second.in_flight = false;
  in_flight.erase(it);
}

void MqttPublisher::Impl::received(const mosquitto_message& m) {
  // Retained copies are old news: the connect itself already re-sends everything.
  if (m.retain) return;
  if (is(m, settings.birth_topic, kOnline)) {
    std::size_t n = 0;
    for (auto& [topic, e] : topics) {
      if (!e.message.retain) continue;
      e.pending = true;
      ++n;
    }
    log().info("Home Assistant came online; sending the {} retained messages again", n);
  } else if (is(m, settings.status_topic, kOffline) && phase == Phase::up) {
    // A last will of an earlier connection of ours, delivered late (e.g. a broker resuming from
    // a stall): this connection is alive, so say so again.
    if (const auto it = topics.find(settings.status_topic); it != topics.end())
      it->second.pending = true;
  }
}

void MqttPublisher::Impl::pump() {
  const int rc = mosquitto_loop(client.get(), 0, 1);
  if (connack) {
    const int code = *connack;
    connack.reset();
    if (code != 0) {
      const bool credentials = code == 4 || code == 5;
      return attempt_failed(
          fmt::format("the broker refused the connection: {}{}", mosquitto_connack_text(code),
                      credentials ? " (check MQTT_USERNAME and MQTT_PASSWORD_FILE)" : ""));
    }
    became_up();
  }
  if (rc != MOSQ_ERR_SUCCESS) return attempt_failed(reason(rc));
  if (disconnected) return attempt_failed(reason(*disconnected));
  if (phase == Phase::connecting && Clock::now() - attempt_started >= settings.connect_timeout)
    return attempt_failed(fmt::format("no answer to CONNECT within {} ms (broker hung?)",
                                      settings.connect_timeout.count()));
}

void MqttPublisher::Impl::became_up() {
  phase = Phase::up;
  backoff.reset();
  ++stats.connections;
  log().info("connected to {} as {}", settings.endpoint.text(), settings.client_id);
  mosquitto_subscribe(client.get(), nullptr, settings.birth_topic.c_str(), 1);
  mosquitto_subscribe(client.get(), nullptr, settings.status_topic.c_str(), 1);
  for (auto& [topic, e] : topics)
    if (e.message.retain) e.pending = true;
}

void MqttPublisher::Impl::attempt_failed(const std::string& why) {
  const bool was_up = phase == Phase::up;
  drop_client();
  ++stats.failed_attempts;
  const auto delay = backoff.next_delay();
  retry_at = Clock::now() + delay;
  if (was_up) {
    log().warn("connection to {} lost: {}; reconnecting in {} ms", settings.endpoint.text(), why,
               delay.count());
  } else {
    log().warn("cannot connect to {}: {}; next attempt in {} ms", settings.endpoint.text(), why,
               delay.count());
  }
}

void MqttPublisher::Impl::drop_client() {
  client.reset();
  phase = Phase::down;
  in_flight.clear();
  written_early.clear();
  for (auto& [topic, e] : topics) e.in_flight = false;
}

std::string MqttPublisher::Impl::reason(int rc) const {
  std::string text =
      rc == MOSQ_ERR_SUCCESS ? std::string("connection closed") : mosquitto_error_text(rc);
  if (!library_error.empty()) text += fmt::format(" ({})", library_error);
  if (rc == MOSQ_ERR_TLS) text += " (check MQTT_CA_FILE and the broker's certificate)";
  return text;
}

void MqttPublisher::Impl::wait(Clock::duration timeout) {
  std::array<pollfd, 2> fds{};
  fds[0] = {wake.get(), POLLIN, 0};
  nfds_t n = 1;
  if (client) {
    if (const int sock = mosquitto_socket(client.get()); sock >= 0) {
      const short events =
          static_cast<short>(POLLIN | (mosquitto_want_write(client.get()) ? POLLOUT : 0));
      fds[1] = {sock, events, 0};
      n = 2;
    }
  }
  const auto ms =
      std::chrono::ceil<std::chrono::milliseconds>(std::max(timeout, Clock::duration{}));
  ::poll(fds.data(), n, static_cast<int>(std::min<std::int64_t>(ms.count(), 60'000)));
  if ((fds[0].revents & POLLIN) != 0) {
    std::uint64_t count = 0;
    if (::read(wake.get(), &count, sizeof count) < 0) {
      // EAGAIN: another read drained it first; nothing to do.
    }
  }
}

void MqttPublisher::Impl::shutdown() {
  if (phase == Phase::up) {
    int mid = 0;
    if (mosquitto_publish(client.get(), &mid, settings.status_topic.c_str(),
                          static_cast<int>(kOffline.size()), kOffline.data(), 1,
                          true) == MOSQ_ERR_SUCCESS) {
      in_flight.emplace(mid, settings.status_topic);
      const auto deadline = Clock::now() + kShutdownWait;
      while (in_flight.contains(mid) && Clock::now() < deadline) {
        wait(std::min<Clock::duration>(100ms, deadline - Clock::now()));
        if (mosquitto_loop(client.get(), 0, 1) != MOSQ_ERR_SUCCESS) break;
      }
    }
    mosquitto_disconnect(client.get());
    log().info("disconnected from {}", settings.endpoint.text());
  }
  drop_client();
}

void MqttPublisher::Impl::publish_stats() {
  stats.connected = phase == Phase::up;
  stats.in_flight = in_flight.size();
  std::uint64_t bytes = 0;
  for (const auto& [topic, e] : topics) bytes += e.message.payload.size();
  stats.held_bytes = bytes;
  const std::lock_guard lock(mutex);
  shared_stats = stats;
}

Result<std::unique_ptr<MqttPublisher>> MqttPublisher::start(MqttSettings settings) {
  UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake) return fail(fmt::format("eventfd: {}", std::strerror(errno)));
  auto impl = std::make_unique<Impl>(std::move(settings), std::move(wake));
  // This publisher's own presence: "online" while connected, the will says the rest.
  impl->topics.emplace(impl->settings.status_topic,
                       Entry{MqttMessage{std::string(kOnline), 1, true}, true, false});
  Impl& self = *impl;
  impl->thread = std::jthread([&self](std::stop_token stop) { self.run(std::move(stop)); });
  return std::unique_ptr<MqttPublisher>(new MqttPublisher(std::move(impl)));
}

MqttPublisher::MqttPublisher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MqttPublisher::~MqttPublisher() {
  impl_->thread.request_stop();
  impl_->thread.join();
}

void MqttPublisher::post(const std::string& topic, MqttMessage message) {
  {
    const std::lock_guard lock(impl_->mutex);
    auto [it, inserted] = impl_->outbox.insert_or_assign(topic, std::move(message));
    if (!inserted) ++impl_->superseded_in_outbox;
  }
  const std::uint64_t one = 1;
  if (::write(impl_->wake.get(), &one, sizeof one) < 0) {
    // Only fails when the counter is saturated, in which case the thread is already woken.
  }
}

MqttPublisherStats MqttPublisher::stats() const {
  const std::lock_guard lock(impl_->mutex);
  auto s = impl_->shared_stats;
  s.superseded += impl_->superseded_in_outbox;
  for (const auto& [topic, m] : impl_->outbox) s.held_bytes += m.payload.size();
  return s;
}

}  // namespace sungrow::edge
