// The simulator's Modbus TCP server: one poll() loop thread, libmodbus framing, faults.
#include "sungrow/sim/sim_server.hpp"

#include <arpa/inet.h>
#include <date/tz.h>
#include <fcntl.h>
#include <modbus.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <thread>

#include "sungrow/core/logger.hpp"
#include "sungrow/core/unique_fd.hpp"
#include "sungrow/sim/household.hpp"
#include "sungrow/sim/plant.hpp"
#include "sungrow/sim/register_bank.hpp"

namespace sungrow::sim {

namespace {
spdlog::logger& log() {
  return component_logger("sim");
}
}  // namespace

namespace {

using namespace std::chrono_literals;

constexpr std::size_t kMaxClients = 16;  // beyond this, connections are refused like a busy dongle
constexpr int kIdleTickMs = 250;         // model ticks while idle keep catch-up steps small

// A client's libmodbus context owns its socket: closing the context closes the connection.
struct ModbusCloser {
  void operator()(modbus_t* ctx) const {
    modbus_close(ctx);
    modbus_free(ctx);
  }
};
using ModbusPtr = std::unique_ptr<modbus_t, ModbusCloser>;

struct MappingFree {
  void operator()(modbus_mapping_t* m) const { modbus_mapping_free(m); }
};
using MappingPtr = std::unique_ptr<modbus_mapping_t, MappingFree>;

std::string errno_text(int err) {
  return std::strerror(err);
}

Result<sockaddr_storage> parse_listen_address(const std::string& host, std::uint16_t port,
                                              socklen_t& len) {
  sockaddr_storage ss{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    len = sizeof(sockaddr_in);
    return ss;
  }
  if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    len = sizeof(sockaddr_in6);
    return ss;
  }
  return fail("listen address '" + host + "' is not a numeric IPv4/IPv6 address");
}

struct Listener {
  UniqueFd fd;
  std::uint16_t port;
};

Result<Listener> open_listener(const std::string& host, std::uint16_t port) {
  socklen_t len = 0;
  auto addr = parse_listen_address(host, port, len);
  if (!addr) return addr.error();
  UniqueFd fd{::socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
  if (!fd) return fail("socket: " + errno_text(errno));
  const int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&*addr), len) != 0)
    return fail("bind " + host + ":" + std::to_string(port) + ": " + errno_text(errno));
  if (::listen(fd.get(), 8) != 0) return fail("listen: " + errno_text(errno));
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0)
    return fail("getsockname: " + errno_text(errno));
  const auto real_port = bound.ss_family == AF_INET
                             ? ntohs(reinterpret_cast<const sockaddr_in*>(&bound)->sin_port)
                             : ntohs(reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port);
  return Listener{std::move(fd), real_port};
}

// sim_now = start + (real_now − real_start) × time_scale, on the monotonic clock.
class SimClock {
 public:
  SimClock(Timestamp sim_start, double scale)
      : sim_start_(sim_start), real_start_(std::chrono::steady_clock::now()), scale_(scale) {}
  Timestamp now() const {
    const std::chrono::duration<double, std::milli> real =
        std::chrono::steady_clock::now() - real_start_;
    return sim_start_ + std::chrono::milliseconds{std::llround(real.count() * scale_)};
  }

 private:
  Timestamp sim_start_;
  std::chrono::steady_clock::time_point real_start_;
  double scale_;
};

struct Client {
  ModbusPtr ctx;
  int fd() const { return modbus_get_socket(ctx.get()); }
};

// One inverter answering on the port: its nameplate, its faults and their counters.
struct Unit {
  int id;
  DeviceIdentity identity;
  Faults faults;
  std::uint64_t requests = 0;       // requests for this unit (drop_every of a fault unit)
  std::uint64_t counter_reads = 0;  // replies covering a lifetime counter (counter_glitch_every)
  std::uint64_t clock_reads = 0;    // holding reads touching the clock (intermittent clock fault)
};

// A slave's nameplate serial: the master's, marked with the unit id (at most 20 characters).
std::string slave_serial(const std::string& master, int unit_id) {
  return master.substr(0, 16) + "-" + std::to_string(unit_id);
}

std::vector<Unit> make_units(const SimOptions& o) {
  std::vector<Unit> units;
  std::vector<int> ids{o.unit_id};
  ids.insert(ids.end(), o.slave_units.begin(), o.slave_units.end());
  for (const int id : ids) {
    Unit u{.id = id, .identity = {}, .faults = {}};
    u.identity.serial = id == o.unit_id ? o.serial : slave_serial(o.serial, id);
    if (!o.fault_unit || *o.fault_unit == id) u.faults = o.faults;
    units.push_back(std::move(u));
  }
  return units;
}

class Server final : public SimServer {
 public:
  Server(SimOptions options, Plant plant, Listener listener, UniqueFd wake_read,
         UniqueFd wake_write)
      : options_(std::move(options)),
        plant_(std::move(plant)),
        units_(make_units(options_)),
        listen_fd_(std::move(listener.fd)),
        port_(listener.port),
        wake_read_(std::move(wake_read)),
        wake_write_(std::move(wake_write)),
        clock_(plant_.time(), options_.time_scale) {}

  ~Server() override { stop(); }

  void run_in_background() {
    thread_ = std::thread([this] { run(); });
  }

  std::uint16_t port() const override { return port_; }
  Timestamp sim_time() const override { return clock_.now(); }

  SimStats stats() const override {
    return {.connections = connections_.load(),
            .requests = requests_.load(),
            .exceptions = exceptions_.load(),
            .dropped = dropped_.load(),
            .refused = refused_.load()};
  }

  void stop() override {
    const std::lock_guard lock(stop_mutex_);
    if (!thread_.joinable()) return;
    stopping_.store(true);
    const char byte = 1;
    if (::write(wake_write_.get(), &byte, 1) < 0) {
      // The pipe is non-blocking; a full pipe already wakes the loop.
    }
    thread_.join();
    log().info("sungrow-sim on port {} stopped", port_);
  }

 private:
  void run();
  void accept_clients();
  bool serve_request(Client& client);  // false: close this connection
  bool send_exception(Client& client, const std::uint8_t* request, const Faults& faults,
                      ModbusException code);
  bool pause_unless_stopping(std::chrono::milliseconds pause) const;
  ReadReply answer(std::size_t unit, RegisterTable table, std::uint16_t first_wire,
                   std::uint16_t words);
  static void maybe_glitch(Unit& unit, std::vector<std::uint16_t>& values, std::uint16_t first_doc);

  SimOptions options_;
  Plant plant_;
  std::vector<Unit> units_;  // in the plant's order: the master first
  UniqueFd listen_fd_;
  std::uint16_t port_;
  UniqueFd wake_read_, wake_write_;
  SimClock clock_;
  std::vector<Client> clients_;

  std::thread thread_;
  std::mutex stop_mutex_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> connections_{0}, requests_{0}, exceptions_{0}, dropped_{0},
      refused_{0};
};

void Server::run() {
  std::vector<pollfd> fds;
  while (!stopping_.load()) {
    fds.clear();
    fds.push_back({wake_read_.get(), POLLIN, 0});
    fds.push_back({listen_fd_.get(), POLLIN, 0});
    for (const auto& c : clients_) fds.push_back({c.fd(), POLLIN, 0});

    const int n = ::poll(fds.data(), fds.size(), kIdleTickMs);
    if (n < 0 && errno != EINTR) {
      log().error("sungrow-sim: poll failed: {}", errno_text(errno));
      break;
    }
    plant_.advance_to(clock_.now());
    if (n <= 0) continue;
    if ((fds[0].revents & POLLIN) != 0 || stopping_.load()) break;

    // Serve before accepting, so indices into `fds` still match `clients_`.
    std::vector<bool> keep(clients_.size(), true);
    for (std::size_t i = 0; i < clients_.size(); ++i) {
      const auto ev = fds[i + 2].revents;
      if ((ev & POLLIN) != 0) {
        keep[i] = serve_request(clients_[i]);
      } else if ((ev & (POLLHUP | POLLERR | POLLNVAL)) != 0) {
        keep[i] = false;
      }
      if (stopping_.load()) break;
    }
    for (std::size_t i = clients_.size(); i-- > 0;) {
      if (!keep[i]) {
        log().debug("sungrow-sim: closing client fd {}", clients_[i].fd());
        clients_.erase(clients_.begin() + static_cast<std::ptrdiff_t>(i));
      }
    }
    if ((fds[1].revents & POLLIN) != 0) accept_clients();
  }
  clients_.clear();
}

void Server::accept_clients() {
  for (;;) {
    UniqueFd fd{::accept4(listen_fd_.get(), nullptr, nullptr, SOCK_CLOEXEC)};
    if (!fd) return;  // EAGAIN: no more pending connections
    const bool busy = options_.faults.refuse_second_client && !clients_.empty();
    if (busy || clients_.size() >= kMaxClients) {
      refused_.fetch_add(1);
      log().debug("sungrow-sim: refused a connection ({} open)", clients_.size());
      continue;  // UniqueFd closes it right away
    }
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ModbusPtr ctx{modbus_new_tcp("127.0.0.1", port_)};
    if (!ctx) {
      log().error("sungrow-sim: modbus_new_tcp failed");
      continue;
    }
    modbus_set_socket(ctx.get(), fd.release());  // the context owns the socket from here
    // A stalled half-frame may block the loop for at most this long.
    modbus_set_byte_timeout(ctx.get(), 0, 200'000);
    connections_.fetch_add(1);
    log().debug("sungrow-sim: client connected (fd {})", modbus_get_socket(ctx.get()));
    clients_.push_back(Client{std::move(ctx)});
  }
}

bool Server::pause_unless_stopping(std::chrono::milliseconds pause) const {
  const auto until = std::chrono::steady_clock::now() + pause;
  for (;;) {
    if (stopping_.load()) return false;
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
    if (left <= 0ms) return true;
    pollfd wake{wake_read_.get(), POLLIN, 0};
    ::poll(&wake, 1, static_cast<int>(left.count()));
  }
}

void Server::maybe_glitch(Unit& unit, std::vector<std::uint16_t>& values, std::uint16_t first_doc) {
  const auto every = unit.faults.counter_glitch_every;
  if (every == 0 || !covers_lifetime_counter(first_doc, values.size())) return;
  if (++unit.counter_reads % every != 0) return;
  const auto kind =
      static_cast<CounterGlitch>((unit.counter_reads / every - 1) % kCounterGlitchKinds);
  glitch_lifetime_counters(values, first_doc, kind);
  log().debug("sungrow-sim: lifetime counters glitched ({})", static_cast<int>(kind));
}

bool Server::send_exception(Client& client, const std::uint8_t* request, const Faults& faults,
                            ModbusException code) {
  exceptions_.fetch_add(1);
  const int header = modbus_get_header_length(client.ctx.get());
  if (faults.malformed_exception) {
    // WiNet-S: MBAP length says 2 although unit, function and code (3 bytes) follow.
    const std::array<std::uint8_t, 9> frame{request[0],
                                            request[1],
                                            0x00,
                                            0x00,
                                            0x00,
                                            0x02,
                                            request[header - 1],
                                            static_cast<std::uint8_t>(request[header] | 0x80U),
                                            static_cast<std::uint8_t>(code)};
    return ::send(client.fd(), frame.data(), frame.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(frame.size());
  }
  return modbus_reply_exception(client.ctx.get(), request, static_cast<unsigned>(code)) >= 0;
}

ReadReply Server::answer(std::size_t index, RegisterTable table, std::uint16_t first_wire,
                         std::uint16_t words) {
  auto& unit = units_[index];
  const auto& faults = unit.faults;
  if (faults.exception_all) return ModbusException::gateway_target_failed;
  plant_.advance_to(clock_.now());
  const auto& household = plant_.household(index);
  const auto bank =
      RegisterBank::encode(household.state(), household.local_time(), plant_.unit(index).config,
                           unit.identity, faults, plant_.view(index));
  ReadReply reply = answer_read(bank, faults, table, first_wire, words);
  if (table == RegisterTable::holding && words > 0 &&
      touches_clock(static_cast<std::uint16_t>(first_wire + 1), words) &&
      faults.clock_fault == ClockFault::intermittent && ++unit.clock_reads % 2 == 0)
    reply = ModbusException::illegal_data_address;
  if (auto* values = std::get_if<std::vector<std::uint16_t>>(&reply);
      values != nullptr && table == RegisterTable::input)
    maybe_glitch(unit, *values, static_cast<std::uint16_t>(first_wire + 1));
  return reply;
}

bool Server::serve_request(Client& client) {
  std::array<std::uint8_t, MODBUS_TCP_MAX_ADU_LENGTH> request{};
  const int length = modbus_receive(client.ctx.get(), request.data());
  if (length <= 0) return false;  // closed by the peer, or a frame libmodbus could not parse
  const auto count = requests_.fetch_add(1) + 1;

  const int header = modbus_get_header_length(client.ctx.get());
  if (length < header + 1) return false;
  const int unit_id = request[static_cast<std::size_t>(header - 1)];
  const std::uint8_t function = request[static_cast<std::size_t>(header)];
  // With --verbose, when each request arrived: a test reads the gaps a client leaves between them.
  log().debug("sungrow-sim: request for unit {} at {} us", unit_id,
              std::chrono::duration_cast<std::chrono::microseconds>(
                  std::chrono::steady_clock::now().time_since_epoch())
                  .count());
  const auto it =
      std::find_if(units_.begin(), units_.end(), [&](const Unit& u) { return u.id == unit_id; });
  if (it == units_.end()) {
    log().debug("sungrow-sim: ignoring request for unit {}", unit_id);
    return true;
  }
  auto& unit = *it;
  ++unit.requests;
  const auto& faults = unit.faults;
  if (faults.no_reply) {
    log().debug("sungrow-sim: unit {} does not answer (fault)", unit_id);
    return true;
  }
  // A fault unit counts its own requests; otherwise every request on the port counts, as always.
  const auto nth = options_.fault_unit ? unit.requests : count;
  if (faults.drop_every != 0 && nth % faults.drop_every == 0) {
    dropped_.fetch_add(1);
    return false;
  }

  ReadReply reply = ModbusException::illegal_function;
  RegisterTable table = RegisterTable::input;
  std::uint16_t first_wire = 0;
  if ((function == 0x03 || function == 0x04) && length >= header + 5) {
    const auto at = static_cast<std::size_t>(header);
    first_wire = static_cast<std::uint16_t>((request[at + 1] << 8U) | request[at + 2]);
    const auto words = static_cast<std::uint16_t>((request[at + 3] << 8U) | request[at + 4]);
    table = function == 0x03 ? RegisterTable::holding : RegisterTable::input;
    reply = answer(static_cast<std::size_t>(it - units_.begin()), table, first_wire, words);
  }

  if (faults.slow_reply > 0ms && !pause_unless_stopping(faults.slow_reply)) return false;

  if (const auto* code = std::get_if<ModbusException>(&reply))
    return send_exception(client, request.data(), faults, *code);

  const auto& values = std::get<std::vector<std::uint16_t>>(reply);
  const auto n = static_cast<unsigned>(values.size());
  MappingPtr mapping{table == RegisterTable::input
                         ? modbus_mapping_new_start_address(0, 0, 0, 0, 0, 0, first_wire, n)
                         : modbus_mapping_new_start_address(0, 0, 0, 0, first_wire, n, 0, 0)};
  if (!mapping) return false;
  auto* target =
      table == RegisterTable::input ? mapping->tab_input_registers : mapping->tab_registers;
  std::copy(values.begin(), values.end(), target);
  return modbus_reply(client.ctx.get(), request.data(), length, mapping.get()) >= 0;
}

}  // namespace

std::string_view to_string(ClockFault f) {
  switch (f) {
    case ClockFault::none:
      return "none";
    case ClockFault::unsupported:
      return "unsupported";
    case ClockFault::intermittent:
      return "intermittent";
    case ClockFault::garbage:
      return "garbage";
  }
  return "none";
}

std::optional<ClockFault> clock_fault_from_string(std::string_view s) {
  for (const auto f :
       {ClockFault::none, ClockFault::unsupported, ClockFault::intermittent, ClockFault::garbage})
    if (s == to_string(f)) return f;
  return std::nullopt;
}

Result<void> validate(const SimOptions& o) {
  if (o.since && o.start && *o.since > *o.start)
    return fail("since (" + format_rfc3339(*o.since) + ") is after the start (" +
                format_rfc3339(*o.start) + ")");
  if (o.since && *o.since < o.start.value_or(now_utc()) - std::chrono::days{kMaxSinceDays})
    return fail("since lies more than " + std::to_string(kMaxSinceDays) + " days before the start");
  std::vector<int> ids{o.unit_id};
  ids.insert(ids.end(), o.slave_units.begin(), o.slave_units.end());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 1 || ids[i] > 247)
      return fail("unit id must be 1–247, got " + std::to_string(ids[i]));
    if (std::find(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(i), ids[i]) !=
        ids.begin() + static_cast<std::ptrdiff_t>(i))
      return fail("unit id " + std::to_string(ids[i]) + " is listed twice");
  }
  if (o.fault_unit && std::find(ids.begin(), ids.end(), *o.fault_unit) == ids.end())
    return fail("fault unit " + std::to_string(*o.fault_unit) + " is not one of the units served");
  if (!std::isfinite(o.time_scale) || o.time_scale <= 0 || o.time_scale > 1e6)
    return fail("time scale must be > 0 and ≤ 1e6");
  try {
    (void)date::locate_zone(o.tz);
  } catch (const std::exception&) {
    return fail("unknown time zone '" + o.tz + "'");
  }
  for (const auto& r : o.faults.exception_ranges)
    if (r.first == 0 || r.first > r.last)
      return fail("exception range " + std::to_string(r.first) + "-" + std::to_string(r.last) +
                  " is empty or starts at 0 (document numbers are 1-based)");
  const bool serial_ok =
      !o.serial.empty() && o.serial.size() <= 20 &&
      std::all_of(o.serial.begin(), o.serial.end(), [](char c) { return c > ' ' && c < 0x7F; });
  if (!serial_ok)
    return fail("serial '" + o.serial + "' must be 1–20 printable ASCII characters, no spaces");
  socklen_t len = 0;
  if (auto addr = parse_listen_address(o.listen, o.port, len); !addr) return addr.error();
  return {};
}

Result<std::unique_ptr<SimServer>> SimServer::start(SimOptions options) {
  if (auto ok = validate(options); !ok) return ok.error();
  const auto start = options.start.value_or(now_utc());
  // From `since` the household lives through every step a history generated from there did, so
  // the counters and the battery carry on where that history ends. Slaves share the master's
  // weather and grid (its seed) and step with it.
  std::vector<PlantUnit> units{{.unit_id = options.unit_id, .config = {}, .seed = options.seed}};
  for (const int id : options.slave_units)
    units.push_back({.unit_id = id, .config = slave_config(id), .seed = options.seed});
  auto plant = Plant::create(std::move(units), std::min(options.since.value_or(start), start),
                             start, options.tz);
  if (!plant) return plant.error();
  auto listener = open_listener(options.listen, options.port);
  if (!listener) return listener.error();

  std::array<int, 2> pipe_fds{};
  if (::pipe2(pipe_fds.data(), O_CLOEXEC | O_NONBLOCK) != 0)
    return fail("pipe: " + errno_text(errno));
  UniqueFd wake_read{pipe_fds[0]}, wake_write{pipe_fds[1]};

  const auto port = listener.value().port;
  auto server = std::make_unique<Server>(std::move(options), std::move(plant.value()),
                                         std::move(listener.value()), std::move(wake_read),
                                         std::move(wake_write));
  server->run_in_background();
  log().info("sungrow-sim serving on port {}", port);
  return std::unique_ptr<SimServer>{std::move(server)};
}

}  // namespace sungrow::sim
