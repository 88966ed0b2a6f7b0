// RedisConnection on hiredis 0.14's synchronous API: connect, AUTH/SELECT, argv commands.
#include "sungrow/server/cache/redis_connection.hpp"

#include <fmt/format.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <ctime>
#include <string>
#include <vector>

namespace sungrow::cache {

void RedisContextDeleter::operator()(redisContext* c) const noexcept {
  redisFree(c);
}

void RedisReplyDeleter::operator()(redisReply* r) const noexcept {
  freeReplyObject(r);
}

void throw_exception_from_error(const RedisCommandError& e, const boost::source_location&) {
  throw ErrorException(Error{e.message});
}

namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  const auto count = ms.count();
  return timeval{static_cast<time_t>(count / 1000),
                 static_cast<suseconds_t>((count % 1000) * 1000)};
}

// hiredis writes with write(2), so a server that closed the socket raises SIGPIPE, whose default
// action kills the whole process. Installing a process-wide SIG_IGN would change the host
// program's behaviour; instead SIGPIPE is blocked on this thread for the duration of the call and
// a SIGPIPE the call raised is consumed before unblocking (signals from write(2) are
// thread-directed, so nobody else's is taken).
class SigpipeAbsorber {
 public:
  SigpipeAbsorber() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    sigemptyset(&pending);
    sigpending(&pending);
    already_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
  }
  SigpipeAbsorber(const SigpipeAbsorber&) = delete;
  SigpipeAbsorber& operator=(const SigpipeAbsorber&) = delete;
  ~SigpipeAbsorber() {
    if (!already_pending_) {
      sigset_t pending;
      sigemptyset(&pending);
      sigpending(&pending);
      if (sigismember(&pending, SIGPIPE) == 1) {
        const timespec no_wait{0, 0};
        while (sigtimedwait(&pipe_, nullptr, &no_wait) == -1 && errno == EINTR) {
        }
      }
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

 private:
  sigset_t pipe_{};
  sigset_t old_{};
  bool already_pending_ = false;
};

std::string reply_text(const redisReply& r) {
  return r.str != nullptr ? std::string(r.str, r.len) : std::string{};
}

}  // namespace

Result<RedisConnection> RedisConnection::open(const RedisEndpoint& endpoint, Timeouts timeouts) {
  std::string where = endpoint.redacted();
  const timeval connect_tv = to_timeval(timeouts.connect);
  RedisContextPtr context{
      endpoint.transport == RedisEndpoint::Transport::tcp
          ? redisConnectWithTimeout(endpoint.host.c_str(), endpoint.port, connect_tv)
          : redisConnectUnixWithTimeout(endpoint.socket_path.c_str(), connect_tv)};
  if (!context) return fail(fmt::format("redis {}: cannot allocate a connection", where));
  if (context->err != 0) {
    return fail(fmt::format("redis {}: cannot connect: {} (connect timeout {} ms)", where,
                            context->errstr, timeouts.connect.count()));
  }
  // hiredis 0.14 applies the connect timeout to connect(2) only; reads and writes need their own.
  if (redisSetTimeout(context.get(), to_timeval(timeouts.command)) != REDIS_OK) {
    return fail(
        fmt::format("redis {}: cannot set the command timeout: {}", where, context->errstr));
  }
  RedisConnection connection(std::move(context), std::move(where), timeouts.command);

  const auto handshake = [&](std::span<const std::string_view> argv,
                             std::string_view what) -> Result<void> {
    auto reply = connection.command(argv);
    if (!reply) return fail(fmt::format("{} ({} failed)", reply.error().message, what));
    const redisReply& r = **reply;
    if (r.type == REDIS_REPLY_ERROR) {
      return fail(fmt::format("redis {}: {} refused: {}", connection.where_, what, reply_text(r)));
    }
    return {};
  };
  if (!endpoint.password.empty()) {
    // Redis's own refusal ("WRONGPASS invalid username-password pair…") never echoes the secret.
    std::vector<std::string_view> auth{"AUTH"};
    if (!endpoint.username.empty()) auth.push_back(endpoint.username);
    auth.push_back(endpoint.password);
    if (auto r = handshake(auth, "AUTH"); !r) return r.error();
  }
  if (endpoint.db != 0) {
    const std::string db = std::to_string(endpoint.db);
    const std::string_view select[] = {"SELECT", db};
    if (auto r = handshake(select, "SELECT"); !r) return r.error();
  }
  return connection;
}

boost::system::result<RedisReplyPtr, RedisCommandError> RedisConnection::command(
    std::span<const std::string_view> argv) {
  std::vector<const char*> args;
  std::vector<std::size_t> lengths;
  args.reserve(argv.size());
  lengths.reserve(argv.size());
  for (const auto a : argv) {
    args.push_back(a.data());
    lengths.push_back(a.size());
  }
  void* raw = nullptr;
  int saved_errno = 0;
  {
    const SigpipeAbsorber absorb;
    errno = 0;
    raw = redisCommandArgv(context_.get(), static_cast<int>(args.size()), args.data(),
                           lengths.data());
    saved_errno = errno;
  }
  if (raw != nullptr) return RedisReplyPtr{static_cast<redisReply*>(raw)};

  const int err = context_->err;
  const bool closed = err == REDIS_ERR_EOF ||
                      (err == REDIS_ERR_IO && (saved_errno == ECONNRESET || saved_errno == EPIPE));
  const bool timed_out =
      err == REDIS_ERR_IO && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK);
  std::string why = err != 0 ? std::string(context_->errstr) : std::string("no reply");
  if (timed_out) why = fmt::format("no answer within {} ms", command_timeout_.count());
  return RedisCommandError{closed ? RedisFailure::peer_closed : RedisFailure::failed,
                           fmt::format("redis {}: {}", where_, why)};
}

}  // namespace sungrow::cache
