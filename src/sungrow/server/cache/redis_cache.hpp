// RedisCache: the RealtimeCache shared by every server replica, in Redis (REDIS_URL).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sungrow/server/cache/cache.hpp"
#include "sungrow/server/cache/redis_connection.hpp"
#include "sungrow/server/cache/redis_url.hpp"

namespace sungrow::cache {

struct RedisOptions {
  std::chrono::milliseconds connect_timeout{250};
  std::chrono::milliseconds command_timeout{250};
  // After a failure, connecting again is not tried more often than this; calls meanwhile fail at
  // once with the last error, so an outage costs each request nothing and Redis is not hammered.
  std::chrono::milliseconds reconnect_backoff{1000};
  // A small pool, not one mutex-guarded connection: /v1/realtime is the server's hottest path
  // and runs on several blocking-pool threads; one connection would serialize them all on one
  // round trip. A handful is enough (each call is one loopback round trip).
  std::size_t pool_size = 4;
  // How long a call waits for a free connection before giving up (all of them busy, e.g. each
  // stuck in a command timeout against a hung Redis).
  std::chrono::milliseconds pool_wait_timeout{500};
  // Keys are `<prefix><device_id>`, each a hash {ts: epoch millis, json: the sample's JSON}.
  std::string key_prefix = "sungrow:realtime:";
};

// Time per call. Against a hung Redis (SIGSTOP, a dead host) the first command on a connection
// times out, so a call costs at most pool_wait_timeout + connect_timeout + command_timeout
// (1 s with the defaults), and calls within the following reconnect_backoff fail at once. A Redis
// that is merely slow could use up to one command_timeout per round trip of a new connection
// (AUTH, SELECT, SCRIPT LOAD, the command): each stays bounded, the sum is not a hard deadline.
// A pooled connection the server had closed is retried once on a fresh one (an immediate EOF,
// not a timeout).
class RedisCache final : public RealtimeCache {
 public:
  // Validates the options (positive timeouts and TTL, pool_size ≥ 1, a non-empty prefix). Does
  // not connect: a server may start while Redis is down and serve from the store meanwhile.
  static Result<std::unique_ptr<RedisCache>> create(RedisEndpoint endpoint,
                                                    std::chrono::milliseconds ttl,
                                                    RedisOptions options = {});
  ~RedisCache() override;

  // Atomic across replicas: a Lua script compares the stored ts with the new one and writes and
  // expires the hash only when the new ts is greater (EVALSHA, EVAL after a script-cache flush).
  // A device_id outside [A-Za-z0-9._:-]{1,64} is refused, as in MemoryCache.
  Result<void> put_if_newer(const Sample& sample) override;
  // The device id goes to Redis as one binary-safe argument, whatever bytes it holds.
  Result<std::optional<Sample>> get(std::string_view device_id) override;
  // Every answer is a round trip: NearCache is what holds copies in process.
  std::optional<Sample> peek(std::string_view) override { return std::nullopt; }
  Result<void> ping() override;
  std::string_view kind() const override { return "redis"; }

  std::string key_for(std::string_view device_id) const;

 private:
  struct Slot {
    std::optional<RedisConnection> connection;  // empty until first use and after a failure
  };
  class Lease;

  RedisCache(RedisEndpoint endpoint, std::chrono::milliseconds ttl, RedisOptions options);

  Result<Lease> acquire();
  void release(std::unique_ptr<Slot> slot);
  Result<void> connect(Slot& slot);
  // One command on a leased connection, connecting first if needed. Errors are transport
  // failures only; a Redis error reply comes back as a reply.
  Result<RedisReplyPtr> execute(Slot& slot, std::span<const std::string_view> argv);
  Result<RedisReplyPtr> run_put_script(Slot& slot, std::string_view key, std::string_view ts,
                                       std::string_view json);
  Error note_failure(Error error);
  void note_success();

  RedisEndpoint endpoint_;
  std::string where_;  // redacted endpoint
  std::chrono::milliseconds ttl_;
  RedisOptions options_;

  std::mutex pool_mutex_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<Slot>> idle_;

  std::mutex health_mutex_;
  std::chrono::steady_clock::time_point connect_not_before_{};
  std::string last_error_;
  std::string put_script_sha_;  // from SCRIPT LOAD; the same on every connection and server
  // Logged on transitions only, so an outage of days is two log lines. Atomic so the healthy
  // path needs no lock.
  std::atomic<bool> healthy_{true};
};

}  // namespace sungrow::cache
