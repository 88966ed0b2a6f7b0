// Per-address authentication failure counting, rate-limited logging and cool-downs.
#include "sungrow/server/auth/failure_throttle.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <vector>

#include "sungrow/core/logger.hpp"

namespace sungrow::auth {

namespace {
spdlog::logger& log() {
  return component_logger("auth");
}
}  // namespace

namespace {
constexpr auto kLogInterval = std::chrono::minutes(1);
}  // namespace

FailureThrottle::FailureThrottle(ThrottleOptions options, std::function<Clock::time_point()> now)
    : options_(options), now_(std::move(now)) {}

std::chrono::seconds FailureThrottle::cooling(std::string_view client) {
  std::lock_guard lock(mutex_);
  const auto it = clients_.find(std::string(client));
  if (it == clients_.end()) return std::chrono::seconds{0};
  const auto left = it->second.cooling_until - now_();
  if (left <= Clock::duration::zero()) return std::chrono::seconds{0};
  return std::chrono::ceil<std::chrono::seconds>(left);
}

void FailureThrottle::record_failure(std::string_view client, std::string_view reason) {
  std::lock_guard lock(mutex_);
  const auto now = now_();
  std::string key(client);
  if (clients_.size() >= options_.max_clients && !clients_.contains(key)) forget_oldest();
  Client& c = clients_[std::move(key)];
  c.last_seen = now;
  if (c.failures == 0 || now - c.window_start >= options_.window) {
    c.window_start = now;
    c.failures = 0;
  }
  ++c.failures;
  ++c.unlogged;
  if (c.logged_at == Clock::time_point{} || now - c.logged_at >= kLogInterval) {
    log().warn(
        "auth: {} failed attempt(s) from {} since the last report (latest: {}); further "
        "failures from it are reported at most once a minute",
        c.unlogged, client, reason);
    c.logged_at = now;
    c.unlogged = 0;
  }
  const bool cooling_now = c.cooling_until > now;
  if (options_.max_failures > 0 && !cooling_now && c.failures >= options_.max_failures) {
    c.cooling_until = now + options_.cooldown;
    log().warn(
        "auth: {} failures from {} within {} s; refusing its failed attempts with 429 for "
        "{} s (requests with a valid token are still served)",
        c.failures, client, options_.window.count(), options_.cooldown.count());
  }
}

std::size_t FailureThrottle::tracked_clients() const {
  std::lock_guard lock(mutex_);
  return clients_.size();
}

void FailureThrottle::forget_oldest() {
  // Amortized: drop the least recently seen tenth in one pass rather than one entry per call.
  std::vector<Clock::time_point> seen;
  seen.reserve(clients_.size());
  for (const auto& [address, c] : clients_) seen.push_back(c.last_seen);
  const auto cut = seen.begin() + static_cast<std::ptrdiff_t>(seen.size() / 10);
  std::nth_element(seen.begin(), cut, seen.end());
  const auto oldest_kept = *cut;
  const auto now = now_();
  // Clients cooling down are kept, unless nothing else can go (then the map would grow unbounded).
  const auto before = clients_.size();
  std::erase_if(clients_, [&](const auto& entry) {
    const Client& c = entry.second;
    return c.last_seen <= oldest_kept && c.cooling_until <= now;
  });
  if (clients_.size() == before) {
    std::erase_if(clients_,
                  [&](const auto& entry) { return entry.second.last_seen <= oldest_kept; });
  }
}

}  // namespace sungrow::auth
