// REDIS_URL parsing: where the Redis server is and how to log in, validated at start-up.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "sungrow/core/result.hpp"

namespace sungrow::cache {

struct RedisEndpoint {
  enum class Transport { tcp, unix_socket };

  Transport transport = Transport::tcp;
  std::string host;           // tcp: a name, an IPv4 address, or an IPv6 address (no brackets)
  std::uint16_t port = 6379;  // tcp
  std::string socket_path;    // unix_socket
  std::string username;       // Redis 6 ACL user; empty = AUTH with the password alone
  std::string password;       // empty = no AUTH; never put into logs or messages
  std::uint32_t db = 0;       // SELECT index

  // For logs and error messages: the endpoint with the password replaced by "***".
  std::string redacted() const;
};

// Accepts `redis://[[user]:password@]host[:port][/db]` (port 6379 and db 0 by default, IPv6 as
// [::1], user and password percent-decoded) and `unix://[[user]:password@]/path/to.sock[?db=N]`.
// Anything else (rediss://, a missing host, a port outside 1..65535, a db that is not a number,
// unknown query parameters) is an Error whose text never contains the password.
Result<RedisEndpoint> parse_redis_url(std::string_view url);

}  // namespace sungrow::cache
