// ModbusClient: an RAII libmodbus TCP connection and its read outcome (libmodbus types stay out).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sungrow/core/registers.hpp"
#include "sungrow/core/result.hpp"

namespace sungrow::edge {

// What one read request came back with. `exception` means the device answered (the connection is
// still usable); `transport` means the connection must be considered broken.
struct ReadOutcome {
  enum class Kind : std::uint8_t { ok, exception, transport };
  Kind kind = Kind::transport;
  std::vector<std::uint16_t> words;  // when ok
  int exception_code = 0;            // when exception (e.g. 2 = illegal data address)
  std::string error;                 // human text when not ok

  bool ok() const { return kind == Kind::ok; }
  static ReadOutcome success(std::vector<std::uint16_t> w) {
    return {Kind::ok, std::move(w), 0, {}};
  }
  static ReadOutcome exception_reply(int code, std::string text) {
    return {Kind::exception, {}, code, std::move(text)};
  }
  static ReadOutcome transport_error(std::string text) {
    return {Kind::transport, {}, 0, std::move(text)};
  }
};

class ModbusClient {
 public:
  struct Options {
    std::string host;
    std::uint16_t port = 502;
    int unit_id = 1;
    std::chrono::milliseconds response_timeout{3'000};
  };

  // Connects (the connect itself is bounded by the response timeout). Fails with errno text.
  static Result<ModbusClient> connect(const Options& options);

  ModbusClient(ModbusClient&&) noexcept;
  ModbusClient& operator=(ModbusClient&&) noexcept;
  ~ModbusClient();

  // FC 0x03 / 0x04 read of `count` (1–125) words at wire address `first_wire`.
  ReadOutcome read(RegisterTable table, std::uint16_t first_wire, std::uint16_t count);
  // The unit id of the following reads: one connection serves every unit id behind a WiNet-S.
  Result<void> set_unit(int unit_id);

 private:
  struct Impl;
  explicit ModbusClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sungrow::edge
