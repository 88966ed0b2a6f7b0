// MqttRecorder on libmosquitto's own network thread (mosquitto_loop_start).
#include "mqtt_recorder.hpp"

#include <mosquitto.h>
#include <unistd.h>

#include <stdexcept>
#include <thread>

namespace sungrow::test {

MqttRecorder::MqttRecorder(std::uint16_t port, std::vector<std::string> filters)
    : filters_(std::move(filters)) {
  static int instance = 0;
  client_ = edge::make_mosquitto(
      "recorder-" + std::to_string(::getpid()) + "-" + std::to_string(++instance), this);
  if (!client_) throw std::runtime_error("mosquitto_new failed");
  mosquitto_connect_callback_set(client_.get(), &MqttRecorder::on_connect);
  mosquitto_subscribe_callback_set(client_.get(), &MqttRecorder::on_subscribe);
  mosquitto_message_callback_set(client_.get(), &MqttRecorder::on_message);
  mosquitto_reconnect_delay_set(client_.get(), 1, 1, false);
  // A broker that is not up yet is fine: the loop thread keeps reconnecting every second.
  mosquitto_connect_async(client_.get(), "127.0.0.1", port, 60);
  if (mosquitto_loop_start(client_.get()) != MOSQ_ERR_SUCCESS)
    throw std::runtime_error("mosquitto_loop_start failed");
}

MqttRecorder::~MqttRecorder() {
  mosquitto_disconnect(client_.get());
  mosquitto_loop_stop(client_.get(), true);
}

void MqttRecorder::on_connect(::mosquitto* m, void* self, int rc) {
  auto* r = static_cast<MqttRecorder*>(self);
  if (rc != 0) return;
  {
    const std::lock_guard lock(r->mutex_);
    r->subacks_due_ = static_cast<int>(r->filters_.size());
  }
  for (const auto& f : r->filters_) mosquitto_subscribe(m, nullptr, f.c_str(), 1);
}

void MqttRecorder::on_subscribe(::mosquitto*, void* self, int, int, const int*) {
  auto* r = static_cast<MqttRecorder*>(self);
  const std::lock_guard lock(r->mutex_);
  if (--r->subacks_due_ == 0) ++r->subscribed_;
}

void MqttRecorder::on_message(::mosquitto*, void* self, const ::mosquitto_message* msg) {
  auto* r = static_cast<MqttRecorder*>(self);
  RecordedMessage m{msg->topic,
                    std::string(static_cast<const char*>(msg->payload),
                                static_cast<std::size_t>(msg->payloadlen)),
                    msg->retain, std::chrono::steady_clock::now()};
  const std::lock_guard lock(r->mutex_);
  r->messages_.push_back(std::move(m));
}

MqttRecorder::Messages MqttRecorder::messages() const {
  const std::lock_guard lock(mutex_);
  return messages_;
}

MqttRecorder::Messages MqttRecorder::on(const std::string& topic) const {
  Messages out;
  const std::lock_guard lock(mutex_);
  for (const auto& m : messages_)
    if (m.topic == topic) out.push_back(m);
  return out;
}

std::map<std::string, std::string> MqttRecorder::latest() const {
  std::map<std::string, std::string> out;
  const std::lock_guard lock(mutex_);
  for (const auto& m : messages_) out[m.topic] = m.payload;
  return out;
}

bool MqttRecorder::wait_for(const std::function<bool(const Messages&)>& done,
                            std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (done(messages())) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
}

bool MqttRecorder::wait_connected(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    {
      const std::lock_guard lock(mutex_);
      if (subscribed_ > 0) return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds{20});
  }
}

void MqttRecorder::publish(const std::string& topic, const std::string& payload, bool retain) {
  mosquitto_publish(client_.get(), nullptr, topic.c_str(), static_cast<int>(payload.size()),
                    payload.data(), 1, retain);
}

}  // namespace sungrow::test
