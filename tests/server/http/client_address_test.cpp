// Trusted proxies and the client behind them; the connection cap derived from descriptors.
#include "sungrow/server/http/client_address.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>

#include "sungrow/server/http/descriptor_limit.hpp"

namespace sungrow::http {
namespace {

namespace ip = boost::asio::ip;

TrustedProxies proxies(std::string_view list) {
  auto parsed = TrustedProxies::parse(list);
  EXPECT_TRUE(parsed) << list;
  return parsed ? std::move(parsed).value() : TrustedProxies{};
}

TEST(TrustedProxies, ParsesAddressesAndNetworks) {
  const auto p = proxies(" 127.0.0.0/8, ::1 ,10.1.2.3,fd00::/8,");
  EXPECT_TRUE(p.contains(ip::make_address("127.9.9.9")));
  EXPECT_TRUE(p.contains(ip::make_address("::1")));
  EXPECT_TRUE(p.contains(ip::make_address("::ffff:127.0.0.1")));  // a dual-stack socket's view
  EXPECT_TRUE(p.contains(ip::make_address("10.1.2.3")));
  EXPECT_FALSE(p.contains(ip::make_address("10.1.2.4")));
  EXPECT_TRUE(p.contains(ip::make_address("fd12::7")));
  EXPECT_FALSE(p.contains(ip::make_address("fe80::1")));
  EXPECT_FALSE(p.contains(ip::make_address("203.0.113.1")));
  EXPECT_FALSE(proxies("").contains(ip::make_address("127.0.0.1")));
  for (const char* bad : {"localhost", "10.0.0.0/33", "1.2.3", "::1/129"}) {
    const auto r = TrustedProxies::parse(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message.find(bad), std::string::npos);
  }
}

TEST(TrustedProxies, TheClientIsTheFirstUntrustedHopFromTheRight) {
  const auto p = proxies("127.0.0.0/8,10.0.0.0/8");
  const auto loopback = ip::make_address("127.0.0.1");
  EXPECT_EQ(p.client_of(loopback, ""), "127.0.0.1");
  EXPECT_EQ(p.client_of(loopback, "203.0.113.7"), "203.0.113.7");
  // A client's own (forged) entries stay to the left of what the proxies appended.
  EXPECT_EQ(p.client_of(loopback, "1.1.1.1, 203.0.113.7, 10.0.0.5"), "203.0.113.7");
  EXPECT_EQ(p.client_of(loopback, "10.0.0.9,10.0.0.5"), "10.0.0.9");
  EXPECT_EQ(p.client_of(loopback, "garbage, 203.0.113.7"), "203.0.113.7");
  EXPECT_EQ(p.client_of(loopback, "203.0.113.7, garbage"), "127.0.0.1");
  EXPECT_EQ(p.client_of(loopback, "2001:db8::5"), "2001:db8::5");
  // An untrusted peer is the client, whatever it forwards.
  EXPECT_EQ(p.client_of(ip::make_address("198.51.100.2"), "127.0.0.1"), "198.51.100.2");
  EXPECT_EQ(p.client_of(ip::make_address("::ffff:198.51.100.2"), ""), "198.51.100.2");
}

TEST(ConnectionCap, KeepsTheReserveOutOfTheDescriptorLimit) {
  EXPECT_EQ(connection_cap(1024, 1024, 104), 920U);
  EXPECT_EQ(connection_cap(1024, 65536, 104), 1024U);
  EXPECT_EQ(connection_cap(100, 150, 104), 46U);
  EXPECT_EQ(connection_cap(100, 50, 104), 1U);
}

TEST(DescriptorLimit, RaisesTheSoftLimitToTheHardOne) {
  const auto limit = raise_descriptor_limit();
  EXPECT_GT(limit.soft, 0U);
  EXPECT_GE(limit.soft, limit.soft_before);
  EXPECT_TRUE(limit.soft == limit.hard || limit.hard == RLIM_INFINITY);
}

}  // namespace
}  // namespace sungrow::http
