// settings_for: the Poller settings the poller tests share for a peer on 127.0.0.1:port.
#pragma once

#include <chrono>
#include <cstdint>

#include "sungrow/edge/modbus/poller.hpp"

namespace sungrow::test {

inline edge::ModbusSettings settings_for(std::uint16_t port) {
  using namespace std::chrono_literals;
  edge::ModbusSettings s;
  s.host = "127.0.0.1";
  s.port = port;
  s.inter_read_delay = 2ms;
  // Generous: the peers of these tests answer at once (or close, or are slow on purpose in the one
  // test of the timeout, which sets its own), so only a stall of the test process on a loaded CI
  // machine could make a reply late, and that must not turn into a transport error.
  s.response_timeout = 5'000ms;
  s.backoff_base = 40ms;
  s.backoff_cap = 2'000ms;
  return s;
}

}  // namespace sungrow::test
