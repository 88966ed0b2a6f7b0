// The libmodbus side of ModbusClient: context ownership, timeouts and errno → ReadOutcome mapping.
#include "sungrow/edge/modbus/modbus_client.hpp"

#include <fmt/format.h>
#include <modbus/modbus.h>

#include <cerrno>
#include <string>

namespace sungrow::edge {
namespace {

struct ContextDeleter {
  void operator()(modbus_t* ctx) const {
    modbus_close(ctx);
    modbus_free(ctx);
  }
};
using ContextPtr = std::unique_ptr<modbus_t, ContextDeleter>;

void set_timeout(modbus_t* ctx, std::chrono::milliseconds timeout,
                 int (*setter)(modbus_t*, uint32_t, uint32_t)) {
  const auto ms = timeout.count() < 1 ? 1 : timeout.count();
  setter(ctx, static_cast<uint32_t>(ms / 1000), static_cast<uint32_t>((ms % 1000) * 1000));
}

}  // namespace

struct ModbusClient::Impl {
  ContextPtr ctx;
};

ModbusClient::ModbusClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ModbusClient::ModbusClient(ModbusClient&&) noexcept = default;
ModbusClient& ModbusClient::operator=(ModbusClient&&) noexcept = default;
ModbusClient::~ModbusClient() = default;

Result<ModbusClient> ModbusClient::connect(const Options& options) {
  // The _pi variant resolves host names as well as literal addresses.
  const auto service = std::to_string(options.port);
  ContextPtr ctx{modbus_new_tcp_pi(options.host.c_str(), service.c_str())};
  if (!ctx)
    return fail(fmt::format("modbus: cannot create context for {}:{}: {}", options.host,
                            options.port, modbus_strerror(errno)));
  if (modbus_set_slave(ctx.get(), options.unit_id) != 0)
    return fail(
        fmt::format("modbus: invalid unit id {}: {}", options.unit_id, modbus_strerror(errno)));
  set_timeout(ctx.get(), options.response_timeout, &modbus_set_response_timeout);
  // A reply trickling in byte by byte gets the same budget as the first byte.
  set_timeout(ctx.get(), options.response_timeout, &modbus_set_byte_timeout);
  if (modbus_connect(ctx.get()) != 0)
    return fail(fmt::format("modbus: connect to {}:{} failed: {}", options.host, options.port,
                            modbus_strerror(errno)));
  auto impl = std::make_unique<Impl>();
  impl->ctx = std::move(ctx);
  return ModbusClient{std::move(impl)};
}

Result<void> ModbusClient::set_unit(int unit_id) {
  if (modbus_set_slave(impl_->ctx.get(), unit_id) != 0)
    return fail(fmt::format("modbus: invalid unit id {}: {}", unit_id, modbus_strerror(errno)));
  return {};
}

ReadOutcome ModbusClient::read(RegisterTable table, std::uint16_t first_wire, std::uint16_t count) {
  if (count == 0 || count > MODBUS_MAX_READ_REGISTERS)
    return ReadOutcome::transport_error(fmt::format("modbus: invalid register count {}", count));
  std::vector<std::uint16_t> words(count);
  errno = 0;
  const int n = table == RegisterTable::input
                    ? modbus_read_input_registers(impl_->ctx.get(), first_wire, count, words.data())
                    : modbus_read_registers(impl_->ctx.get(), first_wire, count, words.data());
  if (n == count) return ReadOutcome::success(std::move(words));
  const int err = errno;
  if (n >= 0)  // libmodbus checks the count itself; keep the guard so a short read is never "ok"
    return ReadOutcome::transport_error(
        fmt::format("modbus: short reply ({} of {} registers)", n, count));
  // libmodbus reports a device exception as errno MODBUS_ENOBASE + code (EMBXILADD = code 2).
  // Everything else (EMBBADDATA for a foreign transaction id, EMBBADEXC, timeouts, resets) leaves
  // the stream in an unknown state, so the caller must drop the connection.
  if (err > MODBUS_ENOBASE && err < MODBUS_ENOBASE + MODBUS_EXCEPTION_MAX)
    return ReadOutcome::exception_reply(
        err - MODBUS_ENOBASE,
        fmt::format("modbus exception {}: {}", err - MODBUS_ENOBASE, modbus_strerror(err)));
  return ReadOutcome::transport_error(fmt::format("modbus: {}", modbus_strerror(err)));
}

}  // namespace sungrow::edge
