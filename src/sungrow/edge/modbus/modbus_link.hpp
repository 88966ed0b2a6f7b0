// ModbusLink: the one connection to a (host, port), shared by every unit id behind it, and its
// pacing and reconnect backoff.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>

#include "sungrow/core/backoff.hpp"
#include "sungrow/core/result.hpp"
#include "sungrow/edge/modbus/modbus_client.hpp"

namespace sungrow::edge {

struct LinkSettings {
  std::string host;
  std::uint16_t port = 502;
  std::chrono::milliseconds inter_read_delay{20};  // ≥ this between two requests, any unit id
  std::chrono::milliseconds response_timeout{3'000};
  std::chrono::milliseconds backoff_base{1'000};
  std::chrono::milliseconds backoff_cap{300'000};
};

// Not thread-safe: owned by one poll thread (the host's), used in turn by the Pollers of its units.
// A WiNet-S serves one client, so there is never a second connection: every unit's request goes
// through this one, with the inter-read delay between any two of them.
class ModbusLink {
 public:
  using Clock = std::chrono::steady_clock;
  using Now = std::function<Clock::time_point()>;

  ModbusLink(LinkSettings settings, std::uint64_t seed, Now now = {});

  // Connects unless connected already or still inside the backoff window. True when this call
  // opened the connection.
  Result<bool> ensure_connected(int unit_id);
  // Sleeps until the inter-read delay since the previous reply has passed; false when stopped.
  bool pace(const std::stop_token& stop);
  // One request for `unit_id` on the open connection (ensure_connected first).
  ReadOutcome send(int unit_id, RegisterTable table, std::uint16_t first_wire, std::uint16_t count);

  // Starts a round (one poll cycle over the link's units): answered_this_round() is false again.
  void begin_round() { answers_at_round_start_ = answers_; }
  // Whether any unit read data on this link since begin_round().
  bool answered_this_round() const { return answers_ > answers_at_round_start_; }

  // The connection broke: closed, and opened again by the next request — at once when the link
  // answered this round (a WiNet-S drops sessions; one silent unit must not cut off the others),
  // else after the backoff.
  void broken(const std::string& why);
  // Closes without a backoff (the link worked a moment ago).
  void close() { client_.reset(); }
  // A cycle read something: the next failure starts the backoff from its base again.
  void reset_backoff() { backoff_.reset(); }
  void enter_backoff(const std::string& why);

  bool connected() const { return client_.has_value(); }
  const LinkSettings& settings() const { return settings_; }

 private:
  LinkSettings settings_;
  Now now_;  // the backoff window's clock
  Backoff backoff_;
  std::optional<ModbusClient> client_;
  int client_unit_ = 0;           // the unit id the context is set to
  Clock::time_point retry_at_{};  // no connect attempt before this (backoff window)
  std::string last_connect_error_;
  std::optional<Clock::time_point> last_request_end_;
  std::uint64_t answers_ = 0;
  std::uint64_t answers_at_round_start_ = 0;
  std::mutex wait_mutex_;
  std::condition_variable_any wait_cv_;  // only ever woken by stop requests
};

}  // namespace sungrow::edge
