// Unit tests of ModbusClient over loopback TCP against a byte-level peer (RawServer).
#include "sungrow/edge/modbus/modbus_client.hpp"

#include <gtest/gtest.h>

#include "raw_server.hpp"

namespace sungrow::edge {
namespace {

using namespace std::chrono_literals;
using test::RawServer;

// The response timeout is generous by default: these peers answer at once or close, and a test
// stalled on a loaded CI machine must not see a late reply as a transport error. Only the test of
// the timeout itself uses a short one.
ModbusClient::Options options(std::uint16_t port, int unit = 1,
                              std::chrono::milliseconds timeout = 5'000ms) {
  return {"127.0.0.1", port, unit, timeout};
}

ModbusClient connect_to(std::uint16_t port, int unit = 1,
                        std::chrono::milliseconds timeout = 5'000ms) {
  auto c = ModbusClient::connect(options(port, unit, timeout));
  if (!c) throw std::runtime_error(c.error().message);
  return std::move(*c);
}

// A WiNet-S answers with MBAP length 2 but sends unit, function and code. libmodbus
// 3.1.6 sizes an exception reply from the function byte (always 9 bytes in total) and ignores
// the MBAP length, so it consumes the whole frame: the next reply on the same connection must be
// read correctly, with the right words.
TEST(ModbusClient, MalformedWinetExceptionFrameKeepsTheStreamInSync) {
  RawServer server([](int fd, int) {
    for (int i = 0;; ++i) {
      const auto r = test::read_request(fd);
      if (!r) return;
      if (i % 2 == 0)
        test::write_all(fd, test::malformed_exception(*r));
      else
        test::write_all(fd, test::reply(*r, [](std::uint16_t w) { return w; }));
    }
  });
  auto client = connect_to(server.port());
  for (int round = 0; round < 3; ++round) {
    const auto bad = client.read(RegisterTable::input, 5213, 2);
    EXPECT_EQ(bad.kind, ReadOutcome::Kind::exception) << bad.error;
    EXPECT_EQ(bad.exception_code, 2);
    const auto good = client.read(RegisterTable::input, 12999, 50);
    ASSERT_TRUE(good.ok()) << good.error;
    ASSERT_EQ(good.words.size(), 50U);
    for (std::uint16_t i = 0; i < 50; ++i) EXPECT_EQ(good.words[i], 12999 + i);
  }
}

// If a peer ever did leave a stray byte behind, the next reply must fail (transaction id check)
// rather than be decoded shifted by one byte.
TEST(ModbusClient, StrayByteAfterAReplyIsAnErrorNotShiftedData) {
  RawServer server([](int fd, int) {
    auto r = test::read_request(fd);
    if (!r) return;
    auto bytes = test::reply(*r, [](std::uint16_t w) { return w; });
    bytes.push_back(0x02);
    test::write_all(fd, bytes);
    r = test::read_request(fd);
    if (!r) return;
    test::write_all(fd, test::reply(*r, [](std::uint16_t w) { return w; }));
    test::read_request(fd);  // hold the connection until the client leaves
  });
  auto client = connect_to(server.port());
  ASSERT_TRUE(client.read(RegisterTable::input, 5010, 4).ok());
  const auto second = client.read(RegisterTable::input, 5010, 4);
  EXPECT_EQ(second.kind, ReadOutcome::Kind::transport) << "words decoded from a shifted stream";
}

TEST(ModbusClient, ExceptionCodesFunctionCodesAndUnitId) {
  std::vector<test::RawRequest> seen;
  RawServer server([&](int fd, int) {
    for (std::uint8_t code : {std::uint8_t{2}, std::uint8_t{4}}) {
      const auto r = test::read_request(fd);
      if (!r) return;
      seen.push_back(*r);
      test::write_all(fd, test::exception(*r, code));
    }
    const auto r = test::read_request(fd);
    if (!r) return;
    seen.push_back(*r);
    test::write_all(fd, test::reply(*r, [](std::uint16_t) { return std::uint16_t{0xBEEF}; }));
    test::read_request(fd);
  });
  auto client = connect_to(server.port(), 7);
  const auto a = client.read(RegisterTable::input, 100, 1);
  EXPECT_EQ(a.kind, ReadOutcome::Kind::exception);
  EXPECT_EQ(a.exception_code, 2);
  const auto b = client.read(RegisterTable::holding, 33046, 2);
  EXPECT_EQ(b.kind, ReadOutcome::Kind::exception);
  EXPECT_EQ(b.exception_code, 4);
  const auto c = client.read(RegisterTable::holding, 13049, 3);
  ASSERT_TRUE(c.ok()) << c.error;
  EXPECT_EQ(c.words, (std::vector<std::uint16_t>{0xBEEF, 0xBEEF, 0xBEEF}));
  ASSERT_EQ(seen.size(), 3U);
  EXPECT_EQ(seen[0].function, 0x04);
  EXPECT_EQ(seen[0].unit, 7);
  EXPECT_EQ(seen[1].function, 0x03);
  EXPECT_EQ(seen[1].address, 33046);
  EXPECT_EQ(seen[2].count, 3);
}

TEST(ModbusClient, SilentPeerTimesOutAsTransportError) {
  RawServer server([](int fd, int) {
    test::read_request(fd);
    std::this_thread::sleep_for(500ms);  // never answers, keeps the connection open
  });
  auto client = connect_to(server.port(), 1, 300ms);
  const auto start = std::chrono::steady_clock::now();
  const auto r = client.read(RegisterTable::input, 4999, 1);
  EXPECT_EQ(r.kind, ReadOutcome::Kind::transport);
  EXPECT_FALSE(r.error.empty());
  EXPECT_GE(std::chrono::steady_clock::now() - start, 250ms);
}

TEST(ModbusClient, ClosedPeerIsTransportErrorAndRefusedConnectFails) {
  std::uint16_t port = 0;
  {
    RawServer server([](int, int) {});  // accepts and closes at once
    port = server.port();
    auto client = connect_to(port);
    EXPECT_EQ(client.read(RegisterTable::input, 4999, 1).kind, ReadOutcome::Kind::transport);
  }
  const auto refused = ModbusClient::connect(options(port));
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("connect"), std::string::npos);
}

}  // namespace
}  // namespace sungrow::edge
