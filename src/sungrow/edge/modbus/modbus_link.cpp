// ModbusLink: connect with backoff, pace every request, switch unit ids on the one connection.
#include "sungrow/edge/modbus/modbus_link.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <utility>

#include "sungrow/core/logger.hpp"

namespace sungrow::edge {

namespace {
spdlog::logger& log() {
  return component_logger("modbus");
}
}  // namespace

ModbusLink::ModbusLink(LinkSettings settings, std::uint64_t seed, Now now)
    : settings_(std::move(settings)),
      now_(now ? std::move(now) : Now{[] { return Clock::now(); }}),
      backoff_(settings_.backoff_base, settings_.backoff_cap, seed) {}

Result<bool> ModbusLink::ensure_connected(int unit_id) {
  if (client_) return false;
  const auto at = now_();
  if (at < retry_at_) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(retry_at_ - at);
    return fail(fmt::format("modbus: in reconnect backoff ({} ms left) after: {}", left.count(),
                            last_connect_error_));
  }
  auto c = ModbusClient::connect(
      ModbusClient::Options{settings_.host, settings_.port, unit_id, settings_.response_timeout});
  if (!c) {
    enter_backoff(c.error().message);
    return c.error();
  }
  client_.emplace(std::move(*c));
  client_unit_ = unit_id;
  // A fresh connection gets no settle delay here: the first request already follows the
  // inter-read pacing of the previous reply, if any.
  log().info("connected to {}:{} (unit {})", settings_.host, settings_.port, unit_id);
  return true;
}

bool ModbusLink::pace(const std::stop_token& stop) {
  if (last_request_end_) {
    std::unique_lock lock(wait_mutex_);
    wait_cv_.wait_until(lock, stop, *last_request_end_ + settings_.inter_read_delay,
                        [] { return false; });
  }
  return !stop.stop_requested();
}

ReadOutcome ModbusLink::send(int unit_id, RegisterTable table, std::uint16_t first_wire,
                             std::uint16_t count) {
  if (!client_) return ReadOutcome::transport_error("modbus: not connected");
  if (unit_id != client_unit_) {
    if (auto set = client_->set_unit(unit_id); !set)
      return ReadOutcome::transport_error(set.error().message);
    client_unit_ = unit_id;
  }
  auto outcome = client_->read(table, first_wire, count);
  last_request_end_ = Clock::now();
  if (outcome.ok()) ++answers_;
  return outcome;
}

void ModbusLink::broken(const std::string& why) {
  client_.reset();
  if (answered_this_round()) {
    backoff_.reset();
    log().warn("{}; connection to {}:{} closed, reconnecting on the next request", why,
               settings_.host, settings_.port);
  } else {
    enter_backoff(why);
  }
}

void ModbusLink::enter_backoff(const std::string& why) {
  const auto delay = backoff_.next_delay();
  retry_at_ = now_() + delay;
  last_connect_error_ = why;
  log().warn("{}; next connection attempt in {} ms", why, delay.count());
}

}  // namespace sungrow::edge
