// FailureThrottle: failed authentication per client address — counted, logged at most once a
// minute per client, and a client with too many failures in a minute refused for a cool-down.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sungrow::auth {

struct ThrottleOptions {
  // Failures from one client address within `window` that start a cool-down; 0 never does.
  std::uint32_t max_failures = 20;
  std::chrono::seconds window{60};
  std::chrono::seconds cooldown{300};
  // Addresses remembered at once; beyond it the least recently seen are forgotten, so a flood
  // from many addresses costs bounded memory.
  std::size_t max_clients = 10'000;
};

// Thread-safe. A client is an address string (Request::client_addr); the caller decides what a
// failure is. Nothing here ever sees a token.
class FailureThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  explicit FailureThrottle(ThrottleOptions options = {},
                           std::function<Clock::time_point()> now = &Clock::now);

  // Seconds of cool-down left for `client`; zero when it is not cooling down.
  std::chrono::seconds cooling(std::string_view client);

  // Counts one failure of `client`. Logs the first failure of a window (with the failures of the
  // last one, if any) and the start of a cool-down.
  void record_failure(std::string_view client, std::string_view reason);

  std::size_t tracked_clients() const;

 private:
  struct Client {
    Clock::time_point window_start{};
    std::uint32_t failures = 0;     // in the current window
    std::uint32_t unlogged = 0;     // failures since the last log line
    Clock::time_point logged_at{};  // the last log line about this client
    Clock::time_point cooling_until{};
    Clock::time_point last_seen{};
  };

  void forget_oldest();

  ThrottleOptions options_;
  std::function<Clock::time_point()> now_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Client> clients_;
};

}  // namespace sungrow::auth
