// RedisConnection: one hiredis 0.14 connection (RAII), with time limits on every operation.
#pragma once

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "sungrow/core/result.hpp"
#include "sungrow/server/cache/redis_url.hpp"

struct redisContext;
struct redisReply;

namespace sungrow::cache {

struct RedisContextDeleter {
  void operator()(redisContext* c) const noexcept;
};
struct RedisReplyDeleter {
  void operator()(redisReply* r) const noexcept;
};
using RedisContextPtr = std::unique_ptr<redisContext, RedisContextDeleter>;
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyDeleter>;

// Why a command produced no reply. Either way the connection is unusable afterwards (hiredis
// cannot resynchronize a stream it gave up on); `peer_closed` says the server had already closed
// it (a restart, an idle timeout), so one retry on a fresh connection is safe and cheap, whereas
// `failed` (a timeout, a reset mid-command) should wait for the reconnect backoff.
enum class RedisFailure { peer_closed, failed };

struct RedisCommandError {
  RedisFailure failure = RedisFailure::failed;
  std::string message;
};

class RedisConnection {
 public:
  struct Timeouts {
    std::chrono::milliseconds connect;
    std::chrono::milliseconds command;
  };

  // Connects within `timeouts.connect` (name resolution excepted: getaddrinfo has no timeout, so
  // use an address or a name /etc/hosts answers), then sets `timeouts.command` as the socket's
  // read and write limit, then AUTH and SELECT as the endpoint asks. Messages name the endpoint in
  // redacted form.
  static Result<RedisConnection> open(const RedisEndpoint& endpoint, Timeouts timeouts);

  // One command, every argument sent length-prefixed (binary-safe; nothing is formatted into a
  // command string). A Redis error reply is a reply (type REDIS_REPLY_ERROR), not a failure: the
  // connection stays usable. A SIGPIPE raised by writing to a closed socket is absorbed.
  boost::system::result<RedisReplyPtr, RedisCommandError> command(
      std::span<const std::string_view> argv);

 private:
  RedisConnection(RedisContextPtr context, std::string where, std::chrono::milliseconds timeout)
      : context_(std::move(context)), where_(std::move(where)), command_timeout_(timeout) {}

  RedisContextPtr context_;
  std::string where_;  // the redacted endpoint, for messages
  std::chrono::milliseconds command_timeout_;
};

[[noreturn]] void throw_exception_from_error(const RedisCommandError& e,
                                             const boost::source_location& loc);

}  // namespace sungrow::cache
