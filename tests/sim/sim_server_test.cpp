// Integration tests of sungrow-sim over real TCP on loopback, with libmodbus as the client.
#include "sungrow/sim/sim_server.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <modbus.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cmath>
#include <future>
#include <thread>

#include "sungrow/core/register_image.hpp"
#include "sungrow/core/words.hpp"

namespace sungrow::sim {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// Upper bounds in these tests catch a hang (a reply or a stop that never comes), not slowness:
// CI runs them on a loaded 2-core machine and under ASan+UBSan, so they are seconds, far above
// any scheduling delay, and waits return as soon as their event happens.
constexpr auto kHang = 5s;
constexpr auto kReplyWait = std::chrono::milliseconds{kHang};

std::unique_ptr<SimServer> start_sim(Faults faults = {}, double time_scale = 1.0) {
  SimOptions o;
  o.port = 0;
  o.start = parse_rfc3339("2026-06-21T10:00:00Z");  // midsummer morning: PV, battery, load all busy
  o.time_scale = time_scale;
  o.faults = std::move(faults);
  auto server = SimServer::start(std::move(o));
  EXPECT_TRUE(server.has_value()) << (server ? "" : server.error().message);
  return server ? std::move(server.value()) : nullptr;
}

struct ModbusCloser {
  void operator()(modbus_t* ctx) const {
    modbus_close(ctx);
    modbus_free(ctx);
  }
};
using ModbusPtr = std::unique_ptr<modbus_t, ModbusCloser>;

ModbusPtr connect_client(std::uint16_t port, int unit = 1,
                         std::chrono::milliseconds timeout = 2000ms) {
  ModbusPtr ctx{modbus_new_tcp("127.0.0.1", port)};
  EXPECT_NE(ctx, nullptr);
  modbus_set_slave(ctx.get(), unit);
  // libmodbus rejects (EINVAL) a microsecond part above 999999, silently keeping its 500 ms
  // default: split the timeout into seconds and microseconds.
  EXPECT_EQ(
      modbus_set_response_timeout(ctx.get(), static_cast<std::uint32_t>(timeout.count() / 1000),
                                  static_cast<std::uint32_t>(timeout.count() % 1000 * 1000)),
      0);
  EXPECT_EQ(modbus_connect(ctx.get()), 0) << modbus_strerror(errno);
  return ctx;
}

// Reads input registers at a document number; an empty vector + errno on failure.
std::vector<std::uint16_t> read_input(modbus_t* ctx, std::uint16_t doc, int count) {
  std::vector<std::uint16_t> w(static_cast<std::size_t>(count));
  const int rc = modbus_read_input_registers(ctx, doc - 1, count, w.data());
  if (rc != count) return {};
  return w;
}

// A plain TCP socket, for frames libmodbus will not send or cannot parse.
class RawSocket {
 public:
  explicit RawSocket(std::uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0);
  }
  ~RawSocket() { ::close(fd_); }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  void send_read(std::uint16_t tid, std::uint8_t unit, std::uint8_t function, std::uint16_t wire,
                 std::uint16_t count) {
    const std::array<std::uint8_t, 12> frame{static_cast<std::uint8_t>(tid >> 8U),
                                             static_cast<std::uint8_t>(tid & 0xFFU),
                                             0x00,
                                             0x00,
                                             0x00,
                                             0x06,
                                             unit,
                                             function,
                                             static_cast<std::uint8_t>(wire >> 8U),
                                             static_cast<std::uint8_t>(wire & 0xFFU),
                                             static_cast<std::uint8_t>(count >> 8U),
                                             static_cast<std::uint8_t>(count & 0xFFU)};
    ASSERT_EQ(::send(fd_, frame.data(), frame.size(), MSG_NOSIGNAL), 12);
  }
  // Whatever arrives within `wait`, up to `max` bytes: returns as soon as `max` bytes are in or
  // the peer closed, so a generous `wait` costs nothing unless something is wrong.
  std::vector<std::uint8_t> receive(std::size_t max, std::chrono::milliseconds wait = 1000ms) {
    std::vector<std::uint8_t> out;
    const auto deadline = Clock::now() + wait;
    while (out.size() < max) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left <= 0ms) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      std::array<std::uint8_t, 512> buf{};
      const auto n = ::recv(fd_, buf.data(), std::min(buf.size(), max - out.size()), 0);
      if (n <= 0) break;
      out.insert(out.end(), buf.begin(), buf.begin() + n);
    }
    return out;
  }

 private:
  int fd_;
};

TEST(SimServer, EphemeralPortAndReadsOfEveryGroupArePlausible) {
  auto sim = start_sim();
  ASSERT_TRUE(sim);
  EXPECT_NE(sim->port(), 0);
  auto client = connect_client(sim->port());

  RegisterImage image;
  for (const auto& g : kReadGroups) {
    std::vector<std::uint16_t> w(g.count);
    const int rc =
        g.table == RegisterTable::input
            ? modbus_read_input_registers(client.get(), g.first_wire(), g.count, w.data())
            : modbus_read_registers(client.get(), g.first_wire(), g.count, w.data());
    ASSERT_EQ(rc, g.count) << g.name << ": " << modbus_strerror(errno);
    image.set_block(g.table, g.first_wire(), w);
  }
  const auto value = [&](RegisterId id) {
    const auto& def = reg(id);
    std::array<std::uint16_t, 2> w{};
    EXPECT_TRUE(image.read(def, w)) << def.name;
    return static_cast<double>(words::raw_value(def.type, std::span{w}.first(def.words))) /
           def.divisor;
  };
  std::array<std::uint16_t, 10> serial{};
  ASSERT_TRUE(image.read(reg(RegisterId::serial_number), serial));
  EXPECT_EQ(words::utf8(serial), "A2350415770");
  EXPECT_EQ(value(RegisterId::device_type), 0x0D18);
  EXPECT_EQ(value(RegisterId::nominal_power), 4.0);
  EXPECT_GT(value(RegisterId::total_dc_power), 200);  // 12:00 local in June
  EXPECT_LE(value(RegisterId::total_dc_power), 4500);
  EXPECT_GT(value(RegisterId::mppt1_voltage), 280);
  EXPECT_LT(value(RegisterId::mppt1_voltage), 420);
  EXPECT_GT(value(RegisterId::mppt2_current), 0);
  EXPECT_NEAR(value(RegisterId::grid_frequency), 50.0, 0.05);
  EXPECT_NEAR(value(RegisterId::grid_frequency_legacy), 50.0, 0.1);
  EXPECT_NEAR(value(RegisterId::phase_a_voltage), 230.0, 8);
  EXPECT_GE(value(RegisterId::battery_soc), 5.0);
  EXPECT_LE(value(RegisterId::battery_soc), 100.0);
  EXPECT_NEAR(value(RegisterId::battery_soh), 98.7, 0.01);
  EXPECT_GT(value(RegisterId::pv_energy_today), 1.0);
  EXPECT_GT(value(RegisterId::pv_energy_total), 9000.0);
  EXPECT_GT(value(RegisterId::grid_import_total), 1000.0);
  EXPECT_EQ(value(RegisterId::running_state), 0);
  EXPECT_NE(static_cast<unsigned>(value(RegisterId::power_flow)) & 0x09U, 0U);  // pv, load
  EXPECT_EQ(value(RegisterId::battery_capacity), 9.6);
  EXPECT_NEAR(value(RegisterId::inverter_temperature), 30, 20);
  // Registers in one group come from one instant, so the balance holds to the watt there.
  EXPECT_EQ(value(RegisterId::export_power),
            value(RegisterId::total_active_power) - value(RegisterId::load_power));
  // Across groups (read milliseconds apart) it holds to within a few watts.
  EXPECT_NEAR(value(RegisterId::total_active_power),
              value(RegisterId::total_dc_power) + value(RegisterId::battery_power), 30);
  EXPECT_NEAR(value(RegisterId::meter_power), -value(RegisterId::export_power), 30);
  EXPECT_GE(sim->stats().requests, kReadGroups.size());
  EXPECT_EQ(sim->stats().connections, 1U);
  EXPECT_EQ(sim->stats().exceptions, 0U);
}

TEST(SimServer, HoldingRegistersAndTheirGaps) {
  auto sim = start_sim();
  auto client = connect_client(sim->port());
  std::array<std::uint16_t, 6> clock{};
  ASSERT_EQ(modbus_read_registers(client.get(), 4999, 6, clock.data()), 6);
  EXPECT_EQ(clock[0], 2026);
  EXPECT_EQ(clock[1], 6);
  EXPECT_EQ(clock[2], 21);
  EXPECT_EQ(clock[3], 12);  // 10:00Z in CEST
  EXPECT_LE(clock[4], 1);
  std::array<std::uint16_t, 2> soc{};
  ASSERT_EQ(modbus_read_registers(client.get(), 13057, 2, soc.data()), 2);
  EXPECT_EQ(soc[0], 1000);
  EXPECT_EQ(soc[1], 50);
  std::uint16_t w = 0;
  EXPECT_EQ(modbus_read_registers(client.get(), 13050, 1, &w), -1);  // 13051 not served
  EXPECT_EQ(errno, EMBXILADD);
}

// As seen through a WiNet-S: every second read of the clock registers fails, the others answer.
TEST(SimServer, FaultIntermittentClockFailsEverySecondClockRead) {
  Faults faults;
  faults.clock_fault = ClockFault::intermittent;
  auto sim = start_sim(faults);
  auto client = connect_client(sim->port());
  std::array<std::uint16_t, 6> clock{};
  for (int i = 0; i < 4; ++i) {
    const int rc = modbus_read_registers(client.get(), 4999, 6, clock.data());
    if (i % 2 == 0) {
      EXPECT_EQ(rc, 6) << i;
      EXPECT_EQ(clock[0], 2026);
    } else {
      EXPECT_EQ(rc, -1) << i;
      EXPECT_EQ(errno, EMBXILADD);
    }
  }
  std::array<std::uint16_t, 2> soc{};
  EXPECT_EQ(modbus_read_registers(client.get(), 13057, 2, soc.data()), 2);  // not the clock
  EXPECT_EQ(sim->stats().exceptions, 2U);
}

// `since`: the household began days before the start, so its counters and battery carry on from
// a history generated from then; the same start without it begins from the plausible install.
TEST(SimServer, SinceContinuesTheHouseholdThatBeganThen) {
  const auto start = parse_rfc3339("2026-06-21T10:00:00Z").value();
  const auto read_pv_total = [](std::optional<Timestamp> since, Timestamp at) {
    SimOptions o;
    o.port = 0;
    o.start = at;
    o.since = since;
    o.time_scale = 1e-9;
    auto server = SimServer::start(std::move(o));
    EXPECT_TRUE(server) << (server ? "" : server.error().message);
    if (!server) return 0.0;
    auto client = connect_client(server.value()->port());
    const auto w = read_input(client.get(), 13003, 2);
    EXPECT_EQ(w.size(), 2U);
    return w.size() == 2 ? static_cast<double>(words::u32(w[0], w[1])) / 10.0 : 0.0;
  };
  const double fresh = read_pv_total(std::nullopt, start);
  const double continued = read_pv_total(start - std::chrono::days{30}, start);
  // A June month of a 4.5 kWp roof: hundreds of kWh more than a household that began today.
  EXPECT_GT(continued - fresh, 200.0);
  EXPECT_LT(continued - fresh, 1200.0);

  SimOptions after;
  after.start = start;
  after.since = start + 1s;
  EXPECT_FALSE(validate(after));
  after.since = start - std::chrono::days{kMaxSinceDays + 1};
  EXPECT_FALSE(validate(after));
}

TEST(SimServer, UnknownAddressIsException02AndTheConnectionSurvives) {
  auto sim = start_sim();
  auto client = connect_client(sim->port());
  EXPECT_TRUE(read_input(client.get(), 6000, 1).empty());
  EXPECT_EQ(errno, EMBXILADD);
  EXPECT_TRUE(read_input(client.get(), 5009, 2).empty());  // WiNet-S gap
  EXPECT_EQ(errno, EMBXILADD);
  EXPECT_EQ(read_input(client.get(), 5000, 1), std::vector<std::uint16_t>{0x0D18});
  EXPECT_EQ(sim->stats().exceptions, 2U);
  EXPECT_EQ(sim->stats().requests, 3U);
}

TEST(SimServer, MoreThan125RegistersIsException03) {
  auto sim = start_sim();
  RawSocket raw{sim->port()};
  raw.send_read(0x0101, 1, 0x04, 12999, 126);
  EXPECT_EQ(raw.receive(9, kReplyWait),
            (std::vector<std::uint8_t>{0x01, 0x01, 0, 0, 0, 3, 0x01, 0x84, 0x03}));
}

TEST(SimServer, FaultExceptionRanges) {
  Faults f;
  f.exception_ranges = {DocRange{5011, 5014}, DocRange{13000, 13000}};
  auto sim = start_sim(f);
  auto client = connect_client(sim->port());
  EXPECT_TRUE(read_input(client.get(), 5011, 4).empty());
  EXPECT_EQ(errno, EMBXILADD);
  EXPECT_TRUE(read_input(client.get(), 13000, 50).empty());
  EXPECT_EQ(errno, EMBXILADD);
  EXPECT_EQ(read_input(client.get(), 5017, 3).size(), 3U);
  EXPECT_EQ(read_input(client.get(), 13001, 49).size(), 49U);
  EXPECT_EQ(sim->stats().exceptions, 2U);
}

TEST(SimServer, FaultMalformedExceptionFrameIsExactlyWinetStyle) {
  Faults f;
  f.malformed_exception = true;
  auto sim = start_sim(f);
  RawSocket raw{sim->port()};
  // Each receive waits for the expected frame size only (no fixed window the reply must make);
  // a byte too many would show up at the head of the next frame, and after the last one below.
  raw.send_read(0xBEEF, 1, 0x04, 5999, 1);
  EXPECT_EQ(raw.receive(9, kReplyWait),
            (std::vector<std::uint8_t>{0xBE, 0xEF, 0x00, 0x00, 0x00, 0x02, 0x01, 0x84, 0x02}));
  // A good read on the same connection is framed normally after it.
  raw.send_read(0x0002, 1, 0x04, 4999, 1);
  EXPECT_EQ(raw.receive(11, kReplyWait),
            (std::vector<std::uint8_t>{0x00, 0x02, 0, 0, 0, 5, 0x01, 0x04, 0x02, 0x0D, 0x18}));
  raw.send_read(0x0003, 1, 0x03, 5005, 1);  // holding gap: FC 0x83
  EXPECT_EQ(raw.receive(9, kReplyWait),
            (std::vector<std::uint8_t>{0x00, 0x03, 0x00, 0x00, 0x00, 0x02, 0x01, 0x83, 0x02}));
  // Nothing trails the last frame (a late stray byte could only make this pass wrongly, never
  // fail wrongly, so the short window is safe).
  EXPECT_TRUE(raw.receive(64, 200ms).empty());
  EXPECT_EQ(sim->stats().exceptions, 2U);
}

TEST(SimServer, ProperExceptionFrameWithoutTheFault) {
  auto sim = start_sim();
  RawSocket raw{sim->port()};
  raw.send_read(0xBEEF, 1, 0x04, 5999, 1);
  EXPECT_EQ(raw.receive(9, kReplyWait),
            (std::vector<std::uint8_t>{0xBE, 0xEF, 0x00, 0x00, 0x00, 0x03, 0x01, 0x84, 0x02}));
  EXPECT_TRUE(raw.receive(64, 200ms).empty());  // nothing trails it (can only pass wrongly)
}

TEST(SimServer, FaultFfffUnsupported) {
  Faults f;
  f.ffff_unsupported = true;
  auto sim = start_sim(f);
  auto client = connect_client(sim->port());
  EXPECT_EQ(read_input(client.get(), 6000, 3),
            (std::vector<std::uint16_t>{0xFFFF, 0xFFFF, 0xFFFF}));
  const auto mixed = read_input(client.get(), 4988, 24);  // gap, serial, type, …, 5009 gap
  ASSERT_EQ(mixed.size(), 24U);
  EXPECT_EQ(mixed[0], 0xFFFF);
  EXPECT_EQ(mixed[1], 0xFFFF);
  EXPECT_EQ(mixed[2], 0x4132);  // "A2"
  EXPECT_EQ(mixed[12], 0x0D18);
  EXPECT_EQ(mixed[21], 0xFFFF);
  EXPECT_EQ(mixed[22], 0xFFFF);
  EXPECT_GT(mixed[23], 2800);  // MPPT1 voltage, 0.1 V
  EXPECT_EQ(sim->stats().exceptions, 0U);
}

TEST(SimServer, FaultSlowReply) {
  Faults f;
  f.slow_reply = 300ms;
  auto sim = start_sim(f);
  auto client = connect_client(sim->port(), 1, 2 * kReplyWait);
  const auto t0 = Clock::now();
  EXPECT_EQ(read_input(client.get(), 5000, 1).size(), 1U);
  const auto elapsed = Clock::now() - t0;
  EXPECT_GE(elapsed, 300ms);  // the delay was respected
  EXPECT_LT(elapsed, kHang);  // and the reply came: catches a hang, not a speed check
}

TEST(SimServer, FaultDropEveryNthRequest) {
  Faults f;
  f.drop_every = 3;
  auto sim = start_sim(f);
  // The client would time out only after 2 × kHang, so a close is told apart from a timeout by
  // errno and by a bound that no scheduling delay reaches.
  auto client = connect_client(sim->port(), 1, 2 * kReplyWait);
  EXPECT_EQ(read_input(client.get(), 5000, 1).size(), 1U);
  EXPECT_EQ(read_input(client.get(), 5000, 1).size(), 1U);
  const auto t0 = Clock::now();
  EXPECT_TRUE(read_input(client.get(), 5000, 1).empty());  // closed without a reply
  EXPECT_NE(errno, ETIMEDOUT) << "a timeout, not a close";
  EXPECT_LT(Clock::now() - t0, kHang) << "a timeout, not a close";
  EXPECT_EQ(sim->stats().dropped, 1U);
  client = connect_client(sim->port(), 1, 2 * kReplyWait);
  EXPECT_EQ(read_input(client.get(), 5000, 1).size(), 1U);
  EXPECT_EQ(read_input(client.get(), 5000, 1).size(), 1U);
  EXPECT_TRUE(read_input(client.get(), 5000, 1).empty());
  EXPECT_EQ(sim->stats().dropped, 2U);
  EXPECT_EQ(sim->stats().requests, 6U);
  EXPECT_EQ(sim->stats().connections, 2U);
}

TEST(SimServer, FaultRefuseSecondClient) {
  Faults f;
  f.refuse_second_client = true;
  auto sim = start_sim(f);
  auto first = connect_client(sim->port());
  EXPECT_EQ(read_input(first.get(), 5000, 1).size(), 1U);
  RawSocket second{sim->port()};  // the TCP handshake succeeds; then the server closes it
  second.send_read(1, 1, 0x04, 4999, 1);
  EXPECT_TRUE(second.receive(64, kReplyWait).empty());  // returns at the close
  EXPECT_EQ(sim->stats().refused, 1U);
  EXPECT_EQ(read_input(first.get(), 5000, 1).size(), 1U);  // the first client is unaffected
  first.reset();
  // Once the first has gone (as soon as the server notices), a new client is welcome.
  for (const auto deadline = Clock::now() + kHang;
       Clock::now() < deadline && sim->stats().connections < 2;) {
    auto next = connect_client(sim->port());
    if (read_input(next.get(), 5000, 1).size() == 1U) break;
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(sim->stats().connections, 2U);
}

TEST(SimServer, ConcurrentClientsWithoutTheFault) {
  auto sim = start_sim();
  auto a = connect_client(sim->port());
  auto b = connect_client(sim->port());
  EXPECT_EQ(read_input(a.get(), 5000, 1).size(), 1U);
  EXPECT_EQ(read_input(b.get(), 5000, 1).size(), 1U);
  EXPECT_EQ(read_input(a.get(), 13000, 50).size(), 50U);
  EXPECT_EQ(sim->stats().connections, 2U);
  EXPECT_EQ(sim->stats().refused, 0U);
}

TEST(SimServer, FaultFlowBitsStuck) {
  Faults f;
  f.flow_bits_stuck = true;
  auto sim = start_sim(f);
  auto client = connect_client(sim->port());
  const auto state = read_input(client.get(), 13000, 2);
  ASSERT_EQ(state.size(), 2U);
  EXPECT_EQ(state[1], 0);
  EXPECT_GT(words::u32(read_input(client.get(), 5017, 2)[0], 0), 0U);  // PV is producing anyway

  auto normal = start_sim();
  auto c2 = connect_client(normal->port());
  EXPECT_NE(read_input(c2.get(), 13001, 1).at(0), 0);
}

TEST(SimServer, FaultNoBatteryPowerRegister) {
  Faults f;
  f.no_battery_power_register = true;
  auto sim = start_sim(f);
  auto client = connect_client(sim->port());
  EXPECT_TRUE(read_input(client.get(), 5214, 2).empty());
  EXPECT_EQ(errno, EMBXILADD);
  EXPECT_EQ(read_input(client.get(), 13022, 1).size(), 1U);  // legacy register still there
  EXPECT_EQ(read_input(client.get(), 5242, 1).size(), 1U);
}

TEST(SimServer, OtherUnitIdsGetNoReply) {
  auto sim = start_sim();
  auto wrong = connect_client(sim->port(), 2, 300ms);
  const auto t0 = Clock::now();
  EXPECT_TRUE(read_input(wrong.get(), 5000, 1).empty());
  EXPECT_EQ(errno, ETIMEDOUT);
  EXPECT_GE(Clock::now() - t0, 250ms);
  EXPECT_EQ(sim->stats().requests, 1U);
  EXPECT_EQ(sim->stats().exceptions, 0U);
  // The connection stays usable (nothing was sent back to desynchronise it).
  modbus_set_slave(wrong.get(), 1);
  EXPECT_EQ(read_input(wrong.get(), 5000, 1), std::vector<std::uint16_t>{0x0D18});
}

TEST(SimServer, UnsupportedFunctionIsException01) {
  auto sim = start_sim();
  auto client = connect_client(sim->port());
  EXPECT_EQ(modbus_write_register(client.get(), 13049, 2), -1);
  EXPECT_EQ(errno, EMBXILFUN);
}

TEST(SimServer, TimeScaleRunsTheDayFaster) {
  auto sim = start_sim({}, 1000.0);
  auto client = connect_client(sim->port());
  const auto total = [&] {
    const auto w = read_input(client.get(), 13003, 2);
    return w.size() == 2 ? words::u32(w[0], w[1]) : 0U;
  };
  // The simulated span is checked against the real span measured around it, not against the
  // nominal 1 s sleep: a stall of the test thread lengthens both alike.
  const auto real_t0 = Clock::now();
  const auto t0 = sim->sim_time();
  const auto before = total();
  std::this_thread::sleep_for(1s);
  const auto after = total();
  const auto simulated = sim->sim_time() - t0;
  const auto real = Clock::now() - real_t0;
  EXPECT_GE(simulated, 990s);  // ≥ 1000 × the 1 s sleep, less rounding
  EXPECT_LE(simulated, 1000 * std::chrono::duration_cast<std::chrono::milliseconds>(real) + 10s);
  EXPECT_GE(after, before + 1);  // ≥ 0.1 kWh of PV in ~17 simulated minutes around noon
}

TEST(SimServer, StopIsPromptWithIdleAndSlowClients) {
  Faults f;
  // A 60 s slow reply against kHang bounds: a stop that waited for the reply, or a client that
  // waited for its own timeout (also 60 s), fails; any scheduling delay passes.
  f.slow_reply = 60s;
  auto sim = start_sim(f);
  auto idle = connect_client(sim->port());
  auto busy = connect_client(sim->port(), 1, 60'000ms);
  auto pending = std::async(std::launch::async, [&] { return read_input(busy.get(), 5000, 1); });
  // The server is inside the slow reply once it has counted the request (an event, not a sleep).
  for (const auto deadline = Clock::now() + kHang;
       sim->stats().requests < 1 && Clock::now() < deadline;)
    std::this_thread::sleep_for(5ms);
  ASSERT_EQ(sim->stats().requests, 1U);
  const auto t0 = Clock::now();
  sim->stop();
  EXPECT_LT(Clock::now() - t0, kHang);  // a hang, not speed
  ASSERT_EQ(pending.wait_for(kHang), std::future_status::ready) << "client not released";
  EXPECT_TRUE(pending.get().empty());
  sim->stop();  // idempotent
  const auto t1 = Clock::now();
  sim.reset();
  EXPECT_LT(Clock::now() - t1, kHang);  // a hang, not speed
}

TEST(SimServer, SerialOption) {
  SimOptions o;
  o.port = 0;
  o.serial = "A2350415771";
  auto sim = SimServer::start(std::move(o));
  ASSERT_TRUE(sim.has_value());
  auto client = connect_client(sim.value()->port());
  EXPECT_EQ(words::utf8(read_input(client.get(), 4990, 10)), "A2350415771");
}

TEST(SimServer, FaultCounterGlitchEveryNthCounterRead) {
  Faults f;
  f.counter_glitch_every = 2;
  auto sim = start_sim(f);
  auto client = connect_client(sim->port());
  const auto pv_total = [&] {
    const auto w = read_input(client.get(), 13000, 50);
    EXPECT_EQ(w.size(), 50U);
    return w.size() < 5 ? -1.0 : words::u32(w[3], w[4]) / 10.0;
  };
  // Reads without a counter neither glitch nor count.
  EXPECT_EQ(read_input(client.get(), 13000, 2).size(), 2U);
  std::vector<double> seen;
  for (int i = 0; i < 8; ++i) seen.push_back(pv_total());
  const double real = seen[0];
  ASSERT_GT(real, 9000);
  // 1st read real, 2nd glitched, in turn: 0, 6553.5, high word 0xFFFF, +1000 kWh.
  EXPECT_NEAR(seen[2], real, 1.0);
  EXPECT_EQ(seen[1], 0);
  EXPECT_EQ(seen[3], 6553.5);
  EXPECT_GT(seen[5], 4e8);
  EXPECT_NEAR(seen[7], seen[6] + 1000, 1.0);
  // Without the fault the totals never jump.
  auto normal = start_sim();
  auto c2 = connect_client(normal->port());
  for (int i = 0; i < 4; ++i) {
    const auto w = read_input(c2.get(), 13003, 2);
    ASSERT_EQ(w.size(), 2U);
    EXPECT_GT(words::u32(w[0], w[1]), 90000U);
  }
}

TEST(SimServer, BadOptionsAreRejected) {
  SimOptions o;
  o.port = 0;
  o.unit_id = 0;
  EXPECT_FALSE(SimServer::start(o).has_value());
  o.unit_id = 1;
  o.tz = "Nowhere/Special";
  EXPECT_FALSE(SimServer::start(o).has_value());
  o.tz = "UTC";
  o.listen = "localhost";  // numeric addresses only
  EXPECT_FALSE(SimServer::start(o).has_value());
  o.listen = "127.0.0.1";
  o.time_scale = 0;
  EXPECT_FALSE(SimServer::start(o).has_value());
  o.time_scale = 1;
  o.faults.exception_ranges = {DocRange{5000, 4000}};
  EXPECT_FALSE(validate(o).has_value());
  o.faults.exception_ranges.clear();
  for (const auto* serial : {"", "A2350 415770", "ABCDEFGHIJKLMNOPQRSTU", "A23\x01"}) {
    o.serial = serial;
    EXPECT_FALSE(validate(o).has_value()) << serial;
  }

  auto first = start_sim();
  SimOptions same_port;
  same_port.port = first->port();
  const auto second = SimServer::start(same_port);
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(second.error().message.find("bind"), std::string::npos);
}

// --- Several inverters on one port (master/slave plant) ---

std::unique_ptr<SimServer> start_plant(std::vector<int> slaves, Faults faults = {},
                                       std::optional<int> fault_unit = std::nullopt,
                                       double time_scale = 1e-9) {
  SimOptions o;
  o.port = 0;
  o.start = parse_rfc3339("2026-06-21T10:00:00Z");
  o.time_scale = time_scale;  // by default frozen: reads of both units see one instant
  o.slave_units = std::move(slaves);
  o.faults = std::move(faults);
  o.fault_unit = fault_unit;
  auto server = SimServer::start(std::move(o));
  EXPECT_TRUE(server.has_value()) << (server ? "" : server.error().message);
  return server ? std::move(server.value()) : nullptr;
}

std::int64_t s32_at(modbus_t* ctx, std::uint16_t doc) {
  const auto w = read_input(ctx, doc, 2);
  EXPECT_EQ(w.size(), 2U) << doc << ": " << modbus_strerror(errno);
  return w.size() == 2 ? words::s32(w[0], w[1]) : 0;
}

std::uint32_t u32_at(modbus_t* ctx, std::uint16_t doc) {
  const auto w = read_input(ctx, doc, 2);
  EXPECT_EQ(w.size(), 2U) << doc << ": " << modbus_strerror(errno);
  return w.size() == 2 ? words::u32(w[0], w[1]) : 0;
}

// One connection, the unit id of each request selecting the inverter. The clock is frozen, so the
// plant balance holds to the watt across reads.
TEST(SimPlant, TwoUnitsOnOnePortEachWithItsOwnValuesAndOneMeter) {
  auto sim = start_plant({2});
  auto client = connect_client(sim->port());
  const auto as = [&](int unit) { modbus_set_slave(client.get(), unit); };

  as(1);
  EXPECT_EQ(words::utf8(read_input(client.get(), 4990, 10)), "A2350415770");
  const auto pv1 = s32_at(client.get(), 5017);
  const auto battery1 = s32_at(client.get(), 5214);
  const auto meter = s32_at(client.get(), 5601);
  const auto load = s32_at(client.get(), 13008);
  const auto export1 = s32_at(client.get(), 13010);
  const auto ac1 = s32_at(client.get(), 13034);
  EXPECT_EQ(read_input(client.get(), 13039, 1), std::vector<std::uint16_t>{96});  // 9.6 kWh
  const auto import_total1 = u32_at(client.get(), 13037);

  as(2);
  EXPECT_EQ(words::utf8(read_input(client.get(), 4990, 10)), "A2350415770-2");
  const auto pv2 = s32_at(client.get(), 5017);
  const auto battery2 = s32_at(client.get(), 5214);
  const auto ac2 = s32_at(client.get(), 13034);
  EXPECT_EQ(read_input(client.get(), 13039, 1), std::vector<std::uint16_t>{160});  // 16.0 kWh
  // No meter at the slave: 5601 "not available", load and export 0, no grid counters.
  EXPECT_EQ(read_input(client.get(), 5601, 2), (std::vector<std::uint16_t>{0xFFFF, 0x7FFF}));
  EXPECT_EQ(s32_at(client.get(), 13008), 0);
  EXPECT_EQ(s32_at(client.get(), 13010), 0);
  EXPECT_EQ(u32_at(client.get(), 13037), 0U);
  EXPECT_EQ(u32_at(client.get(), 13046), 0U);
  EXPECT_GT(u32_at(client.get(), 13003), 0U);  // its own PV total

  EXPECT_GT(pv1, 200);  // midsummer noon: both roofs produce, differently
  EXPECT_GT(pv2, 200);
  EXPECT_NE(pv1, pv2);
  // The master's meter is the plant balance, exactly in whole watts.
  EXPECT_EQ(meter, load - (pv1 + pv2) - (battery1 + battery2));
  // Its export register is its own AC output less the plant load: not −meter while the slave
  // feeds in (sungrow-registers.md §2), off by exactly the slave's AC output.
  EXPECT_EQ(export1, ac1 - load);
  EXPECT_NE(ac2, 0);
  EXPECT_EQ(-meter - export1, ac2);
  EXPECT_GT(import_total1, 40000U);  // the master keeps the installation's import history

  // A unit id that is not served gets no reply, as before; the connection stays usable.
  modbus_set_response_timeout(client.get(), 0, 300'000);
  as(3);
  EXPECT_TRUE(read_input(client.get(), 5000, 1).empty());
  EXPECT_EQ(errno, ETIMEDOUT);
  as(2);
  EXPECT_EQ(read_input(client.get(), 5000, 1), std::vector<std::uint16_t>{0x0D18});
  EXPECT_EQ(sim->stats().connections, 1U);
  EXPECT_EQ(sim->stats().exceptions, 0U);
}

// Simulated time runs (an hour a second): every unit's counters move with its own flows, and the
// slave's grid counters stay 0 while the master's carry the plant's.
TEST(SimPlant, CountersMoveOverASimulatedStretch) {
  auto sim = start_plant({2}, {}, std::nullopt, 3600.0);
  auto client = connect_client(sim->port());
  const auto read_totals = [&](int unit) {
    modbus_set_slave(client.get(), unit);
    return std::array<std::uint32_t, 3>{u32_at(client.get(), 13003),   // PV
                                        u32_at(client.get(), 13037),   // import
                                        u32_at(client.get(), 13046)};  // export
  };
  const auto t0 = sim->sim_time();
  const auto m0 = read_totals(1);
  const auto s0 = read_totals(2);
  std::this_thread::sleep_for(1500ms);
  const auto m1 = read_totals(1);
  const auto s1 = read_totals(2);
  ASSERT_GE(sim->sim_time() - t0, 1h);
  EXPECT_GT(m1[0], m0[0]);  // ≥ 0.1 kWh PV each, midday
  EXPECT_GT(s1[0], s0[0]);
  EXPECT_GE(m1[1], m0[1]);  // counters never go back
  EXPECT_GE(m1[2], m0[2]);
  EXPECT_EQ(s1[1], 0U);
  EXPECT_EQ(s1[2], 0U);
}

// The WiNet-S takes one TCP client for the whole port, whichever units it asks for.
TEST(SimPlant, OneClientFaultHoldsForThePortWithTwoUnits) {
  Faults f;
  f.refuse_second_client = true;
  auto sim = start_plant({2}, f);
  auto first = connect_client(sim->port());
  EXPECT_EQ(read_input(first.get(), 5000, 1).size(), 1U);
  modbus_set_slave(first.get(), 2);
  EXPECT_EQ(read_input(first.get(), 5000, 1).size(), 1U);
  RawSocket second{sim->port()};  // asks for the slave: refused all the same
  second.send_read(1, 2, 0x04, 4999, 1);
  EXPECT_TRUE(second.receive(64, kReplyWait).empty());
  EXPECT_EQ(sim->stats().refused, 1U);
  EXPECT_EQ(read_input(first.get(), 5000, 1).size(), 1U);
  modbus_set_slave(first.get(), 1);
  EXPECT_EQ(read_input(first.get(), 5000, 1).size(), 1U);
  EXPECT_EQ(sim->stats().connections, 1U);
}

// --fault-unit: a slave that answers every read with an exception, and one that never answers;
// the master on the same connection is unaffected either way.
TEST(SimPlant, FaultUnitExceptionsLeaveTheMasterAnswering) {
  Faults f;
  f.exception_all = true;
  auto sim = start_plant({2}, f, 2);
  auto client = connect_client(sim->port());
  for (int i = 0; i < 3; ++i) {
    modbus_set_slave(client.get(), 2);
    EXPECT_TRUE(read_input(client.get(), 5000, 1).empty());
    EXPECT_EQ(errno, EMBXGTAR);  // exception 0x0B
    std::uint16_t w = 0;
    EXPECT_EQ(modbus_read_registers(client.get(), 13057, 1, &w), -1);  // holding reads too
    EXPECT_EQ(errno, EMBXGTAR);
    modbus_set_slave(client.get(), 1);
    EXPECT_EQ(read_input(client.get(), 5000, 1), std::vector<std::uint16_t>{0x0D18});
  }
  EXPECT_EQ(sim->stats().exceptions, 6U);
}

TEST(SimPlant, FaultUnitSilentTimesOutWhileTheMasterAnswersAtOnce) {
  Faults f;
  f.no_reply = true;
  auto sim = start_plant({2}, f, 2);
  auto client = connect_client(sim->port(), 2, 300ms);
  const auto t0 = Clock::now();
  EXPECT_TRUE(read_input(client.get(), 5000, 1).empty());
  EXPECT_EQ(errno, ETIMEDOUT);
  EXPECT_GE(Clock::now() - t0, 250ms);
  // Nothing came back to desynchronise the stream: the master answers on the same connection,
  // within its timeout (the silent slave holds nothing up).
  modbus_set_slave(client.get(), 1);
  EXPECT_EQ(read_input(client.get(), 5000, 1), std::vector<std::uint16_t>{0x0D18});
  EXPECT_EQ(sim->stats().requests, 2U);
  EXPECT_EQ(sim->stats().exceptions, 0U);
}

// Without a fault unit the faults apply to every unit, as they always applied to the one.
TEST(SimPlant, FaultsWithoutAFaultUnitApplyToEveryUnit) {
  Faults f;
  f.exception_ranges = {DocRange{5000, 5000}};
  auto sim = start_plant({2}, f);
  auto client = connect_client(sim->port());
  for (const int unit : {1, 2}) {
    modbus_set_slave(client.get(), unit);
    EXPECT_TRUE(read_input(client.get(), 5000, 1).empty()) << unit;
    EXPECT_EQ(errno, EMBXILADD);
    EXPECT_EQ(read_input(client.get(), 5017, 2).size(), 2U) << unit;
  }
}

TEST(SimPlant, BadUnitListsAreRejected) {
  SimOptions o;
  o.port = 0;
  o.slave_units = {2, 2};
  EXPECT_FALSE(validate(o));
  o.slave_units = {1};
  EXPECT_FALSE(validate(o));
  o.slave_units = {248};
  EXPECT_FALSE(validate(o));
  o.slave_units = {2};
  o.fault_unit = 3;
  EXPECT_FALSE(validate(o));
  o.fault_unit = 2;
  EXPECT_TRUE(validate(o));
}

}  // namespace
}  // namespace sungrow::sim
