// Who the client is: the peer's address, or, when the peer is a proxy we trust (Caddy on the same
// host), the address that proxy says it forwarded for.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "sungrow/core/result.hpp"

namespace sungrow::http {

class TrustedProxies {
 public:
  // "127.0.0.0/8, ::1, 10.0.0.0/8": addresses or networks, comma separated; empty trusts none.
  // An error names the first entry that is neither.
  static Result<TrustedProxies> parse(std::string_view list);

  bool contains(const boost::asio::ip::address& address) const;

  // The client behind `peer`. While the hop is trusted, the next one to the left in
  // X-Forwarded-For (all such headers joined with ',') is taken; an entry that is not an IP
  // address stops the walk at the last address seen. An untrusted peer is the client, whatever
  // it claims.
  std::string client_of(const boost::asio::ip::address& peer, std::string_view forwarded_for) const;

 private:
  std::vector<boost::asio::ip::network_v4> v4_;
  std::vector<boost::asio::ip::network_v6> v6_;
};

// An IPv4-mapped IPv6 address ("::ffff:127.0.0.1", what a dual-stack socket reports) as IPv4.
boost::asio::ip::address unmapped(const boost::asio::ip::address& address);

}  // namespace sungrow::http
