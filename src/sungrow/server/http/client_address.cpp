// Trusted proxy networks and the X-Forwarded-For walk that finds the client behind them.
#include "sungrow/server/http/client_address.hpp"

#include <algorithm>

namespace sungrow::http {

namespace ip = boost::asio::ip;

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool in_v6(const ip::address_v6& a, const ip::network_v6& net) {
  const auto bytes = a.to_bytes();
  const auto prefix = net.network().to_bytes();
  unsigned bits = net.prefix_length();
  for (std::size_t i = 0; i < bytes.size() && bits > 0; ++i) {
    const unsigned take = std::min(bits, 8U);
    const auto mask = static_cast<unsigned char>(0xFFU << (8U - take));
    if ((bytes[i] & mask) != (prefix[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

}  // namespace

ip::address unmapped(const ip::address& address) {
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    return ip::make_address_v4(ip::v4_mapped, address.to_v6());
  }
  return address;
}

Result<TrustedProxies> TrustedProxies::parse(std::string_view list) {
  TrustedProxies out;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const std::string entry(trim(list.substr(0, comma)));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (entry.empty()) continue;
    boost::system::error_code ec;
    const bool network = entry.find('/') != std::string::npos;
    if (entry.find(':') != std::string::npos) {
      const auto net = network ? ip::make_network_v6(entry, ec)
                               : ip::network_v6(ip::make_address_v6(entry, ec), 128);
      if (!ec) {
        out.v6_.push_back(net);
        continue;
      }
    } else {
      const auto net = network ? ip::make_network_v4(entry, ec)
                               : ip::network_v4(ip::make_address_v4(entry, ec), 32);
      if (!ec) {
        out.v4_.push_back(net);
        continue;
      }
    }
    return fail("'" + entry + "' is not an IP address or network (e.g. 10.0.0.0/8, ::1)");
  }
  return out;
}

bool TrustedProxies::contains(const ip::address& address) const {
  const auto a = unmapped(address);
  if (a.is_v4()) {
    const auto v4 = a.to_v4().to_uint();
    return std::any_of(v4_.begin(), v4_.end(), [&](const ip::network_v4& net) {
      return (v4 & net.netmask().to_uint()) == net.network().to_uint();
    });
  }
  return std::any_of(v6_.begin(), v6_.end(),
                     [&](const ip::network_v6& net) { return in_v6(a.to_v6(), net); });
}

std::string TrustedProxies::client_of(const ip::address& peer,
                                      std::string_view forwarded_for) const {
  ip::address hop = unmapped(peer);
  while (contains(hop) && !forwarded_for.empty()) {
    const auto comma = forwarded_for.rfind(',');
    const auto entry =
        trim(comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1));
    forwarded_for =
        comma == std::string_view::npos ? std::string_view{} : forwarded_for.substr(0, comma);
    if (entry.empty()) continue;
    boost::system::error_code ec;
    const auto next = ip::make_address(std::string(entry), ec);
    if (ec) break;
    hop = unmapped(next);
  }
  return hop.to_string();
}

}  // namespace sungrow::http
