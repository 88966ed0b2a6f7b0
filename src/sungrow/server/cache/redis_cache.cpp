// RedisCache: a small connection pool, a shared reconnect backoff, and the put-if-newer script.
#include "sungrow/server/cache/redis_cache.hpp"

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <string>
#include <utility>

#include "sungrow/core/logger.hpp"
#include "sungrow/core/sample_json.hpp"
#include "sungrow/server/storage/precise_json.hpp"

namespace sungrow::cache {

namespace {
spdlog::logger& log() {
  return component_logger("cache");
}
}  // namespace

namespace {

// KEYS[1] = the device's hash; ARGV = ts (epoch millis), the sample's JSON, TTL in millis.
// Millisecond timestamps stay below 2^53, so Lua's doubles compare them exactly. An equal ts is
// a re-sent sample (the edge re-sends after a lost ack), so it changes nothing.
constexpr std::string_view kPutIfNewerScript = R"lua(
local stored = redis.call('HGET', KEYS[1], 'ts')
if stored and tonumber(stored) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'ts', ARGV[1], 'json', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
)lua";

std::string_view text_of(const redisReply& r) {
  return r.str != nullptr ? std::string_view(r.str, r.len) : std::string_view{};
}

}  // namespace

// A connection borrowed from the pool for one call; returned on scope exit, whatever happened.
class RedisCache::Lease {
 public:
  Lease(RedisCache* owner, std::unique_ptr<Slot> slot) : owner_(owner), slot_(std::move(slot)) {}
  Lease(Lease&& other) noexcept
      : owner_(std::exchange(other.owner_, nullptr)), slot_(std::move(other.slot_)) {}
  Lease& operator=(Lease&&) = delete;
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  ~Lease() {
    if (owner_ != nullptr && slot_) owner_->release(std::move(slot_));
  }
  Slot& slot() { return *slot_; }

 private:
  RedisCache* owner_;
  std::unique_ptr<Slot> slot_;
};

Result<std::unique_ptr<RedisCache>> RedisCache::create(RedisEndpoint endpoint,
                                                       std::chrono::milliseconds ttl,
                                                       RedisOptions options) {
  using std::chrono::milliseconds;
  if (ttl <= milliseconds::zero()) return fail("redis cache: the TTL must be positive");
  if (options.connect_timeout <= milliseconds::zero() ||
      options.command_timeout <= milliseconds::zero() ||
      options.pool_wait_timeout <= milliseconds::zero()) {
    return fail("redis cache: connect, command and pool-wait timeouts must be positive");
  }
  if (options.reconnect_backoff < milliseconds::zero()) {
    return fail("redis cache: the reconnect backoff must not be negative");
  }
  if (options.pool_size == 0 || options.pool_size > 64) {
    return fail("redis cache: the pool size must be in 1..64");
  }
  if (options.key_prefix.empty()) return fail("redis cache: the key prefix must not be empty");
  return std::unique_ptr<RedisCache>(new RedisCache(std::move(endpoint), ttl, std::move(options)));
}

RedisCache::RedisCache(RedisEndpoint endpoint, std::chrono::milliseconds ttl, RedisOptions options)
    : endpoint_(std::move(endpoint)),
      where_(endpoint_.redacted()),
      ttl_(ttl),
      options_(std::move(options)) {
  // Reserved once, so returning a slot in a destructor never allocates.
  idle_.reserve(options_.pool_size);
  for (std::size_t i = 0; i < options_.pool_size; ++i) idle_.push_back(std::make_unique<Slot>());
}

RedisCache::~RedisCache() = default;

std::string RedisCache::key_for(std::string_view device_id) const {
  std::string key = options_.key_prefix;
  key.append(device_id);
  return key;
}

Result<RedisCache::Lease> RedisCache::acquire() {
  std::unique_lock lock(pool_mutex_);
  if (!pool_cv_.wait_for(lock, options_.pool_wait_timeout, [&] { return !idle_.empty(); })) {
    return fail(fmt::format("redis {}: all {} connections stayed busy for {} ms", where_,
                            options_.pool_size, options_.pool_wait_timeout.count()));
  }
  std::unique_ptr<Slot> slot = std::move(idle_.back());
  idle_.pop_back();
  return Lease(this, std::move(slot));
}

void RedisCache::release(std::unique_ptr<Slot> slot) {
  {
    const std::lock_guard lock(pool_mutex_);
    idle_.push_back(std::move(slot));
  }
  pool_cv_.notify_one();
}

Result<void> RedisCache::connect(Slot& slot) {
  {
    const std::lock_guard lock(health_mutex_);
    if (std::chrono::steady_clock::now() < connect_not_before_) {
      return fail(fmt::format("{} (reconnecting at most every {} ms)", last_error_,
                              options_.reconnect_backoff.count()));
    }
  }
  auto connection = RedisConnection::open(
      endpoint_, {.connect = options_.connect_timeout, .command = options_.command_timeout});
  if (!connection) return note_failure(connection.error());
  // Loading the script here also proves the login works: without AUTH, Redis answers NOAUTH.
  const std::string_view load[] = {"SCRIPT", "LOAD", kPutIfNewerScript};
  auto reply = connection->command(load);
  if (!reply) return note_failure(Error{reply.error().message});
  const redisReply& r = **reply;
  if (r.type != REDIS_REPLY_STRING) {
    return note_failure(fail(fmt::format("redis {}: SCRIPT LOAD refused: {}", where_,
                                         r.type == REDIS_REPLY_ERROR ? text_of(r) : "bad reply")));
  }
  {
    const std::lock_guard lock(health_mutex_);
    put_script_sha_ = std::string(text_of(r));
  }
  slot.connection = std::move(connection).value();
  return {};
}

Result<RedisReplyPtr> RedisCache::execute(Slot& slot, std::span<const std::string_view> argv) {
  for (int attempt = 0;; ++attempt) {
    bool fresh = false;
    if (!slot.connection) {
      if (auto connected = connect(slot); !connected) return connected.error();
      fresh = true;
    }
    auto reply = slot.connection->command(argv);
    if (reply) {
      note_success();
      return std::move(reply).value();
    }
    slot.connection.reset();
    // A pooled connection the server closed while it sat idle (a Redis restart) fails at once
    // with EOF; one retry on a fresh connection hides that without waiting for the backoff.
    // Both commands used here are idempotent, so a retry cannot do harm.
    if (reply.error().failure == RedisFailure::peer_closed && !fresh && attempt == 0) continue;
    return note_failure(Error{reply.error().message});
  }
}

Error RedisCache::note_failure(Error error) {
  const std::lock_guard lock(health_mutex_);
  connect_not_before_ = std::chrono::steady_clock::now() + options_.reconnect_backoff;
  last_error_ = error.message;
  if (healthy_.exchange(false)) {
    log().warn("realtime cache unavailable, serving from the store: {}", error.message);
  }
  return error;
}

void RedisCache::note_success() {
  if (!healthy_.load(std::memory_order_relaxed) && !healthy_.exchange(true)) {
    log().info("realtime cache: redis {} answers again", where_);
  }
}

Result<RedisReplyPtr> RedisCache::run_put_script(Slot& slot, std::string_view key,
                                                 std::string_view ts, std::string_view json) {
  const std::string ttl = std::to_string(ttl_.count());
  std::string sha;
  {
    const std::lock_guard lock(health_mutex_);
    sha = put_script_sha_;
  }
  if (!sha.empty()) {
    const std::string_view argv[] = {"EVALSHA", sha, "1", key, ts, json, ttl};
    auto reply = execute(slot, argv);
    if (!reply) return reply;
    // NOSCRIPT: the script cache was flushed (SCRIPT FLUSH, a failover) since it was loaded.
    if ((*reply)->type != REDIS_REPLY_ERROR || !text_of(**reply).starts_with("NOSCRIPT")) {
      return reply;
    }
  }
  const std::string_view argv[] = {"EVAL", kPutIfNewerScript, "1", key, ts, json, ttl};
  return execute(slot, argv);
}

Result<void> RedisCache::put_if_newer(const Sample& sample) {
  if (!is_valid_device_id(sample.device_id)) {
    return fail("cache: refusing a sample whose device_id is not [A-Za-z0-9._:-]{1,64}");
  }
  const std::string key = key_for(sample.device_id);
  const std::string ts = std::to_string(sample.ts.time_since_epoch().count());
  const std::string json = to_json_text(sample);
  auto lease = acquire();
  if (!lease) return lease.error();
  auto reply = run_put_script(lease->slot(), key, ts, json);
  if (!reply) return reply.error();
  const redisReply& r = **reply;
  if (r.type == REDIS_REPLY_INTEGER) return {};
  return fail(fmt::format("redis {}: put to {} refused: {}", where_, key,
                          r.type == REDIS_REPLY_ERROR ? text_of(r) : "unexpected reply type"));
}

Result<std::optional<Sample>> RedisCache::get(std::string_view device_id) {
  const std::string key = key_for(device_id);
  const std::string_view argv[] = {"HGET", key, "json"};
  RedisReplyPtr reply;
  {
    auto lease = acquire();
    if (!lease) return lease.error();
    auto answer = execute(lease->slot(), argv);
    if (!answer) return answer.error();
    reply = std::move(answer).value();
  }
  const redisReply& r = *reply;
  if (r.type == REDIS_REPLY_NIL) return std::optional<Sample>{};
  if (r.type == REDIS_REPLY_ERROR) {
    return fail(fmt::format("redis {}: get of {} refused: {}", where_, key, text_of(r)));
  }
  if (r.type != REDIS_REPLY_STRING) {
    return fail(fmt::format("redis {}: get of {}: unexpected reply type {}", where_, key, r.type));
  }
  // Boost.JSON 1.81's own parser can be an ulp off; the precise one reads back exactly what
  // to_json_text wrote.
  auto parsed = storage::parse_json_precise(text_of(r));
  if (!parsed) {
    return fail(fmt::format("redis {}: the cached value under {} is not JSON: {}", where_, key,
                            parsed.error().message));
  }
  DecodedSample decoded = sample_from_json(*parsed);
  if (!decoded.sample) {
    const auto& first = decoded.problems.front();
    return fail(fmt::format("redis {}: the cached value under {} is not a valid sample ({}: {})",
                            where_, key, first.field, first.reason));
  }
  if (decoded.sample->device_id != device_id) {
    return fail(
        fmt::format("redis {}: the cached value under {} belongs to another device", where_, key));
  }
  return std::optional<Sample>{std::move(*decoded.sample)};
}

Result<void> RedisCache::ping() {
  const std::string_view argv[] = {"PING"};
  auto lease = acquire();
  if (!lease) return lease.error();
  auto reply = execute(lease->slot(), argv);
  if (!reply) return reply.error();
  const redisReply& r = **reply;
  if (r.type == REDIS_REPLY_STATUS && text_of(r) == "PONG") return {};
  return fail(fmt::format("redis {}: PING answered {}", where_,
                          r.type == REDIS_REPLY_ERROR ? text_of(r) : "an unexpected reply"));
}

}  // namespace sungrow::cache
