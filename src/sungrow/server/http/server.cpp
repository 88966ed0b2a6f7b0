// The HTTP/1.1 transport: accept loop, one coroutine per connection, handlers on a worker pool.
#include "sungrow/server/http/server.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "sungrow/core/logger.hpp"
#include "sungrow/server/http/access_log.hpp"
#include "sungrow/server/http/beast_message.hpp"
#include "sungrow/server/http/body_budget.hpp"
#include "sungrow/server/http/client_address.hpp"
#include "sungrow/server/http/request_head.hpp"
#include "sungrow/server/metrics/metrics.hpp"

namespace sungrow::http {

namespace {
spdlog::logger& log() {
  return component_logger("http");
}
}  // namespace

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using asio::use_awaitable;
using detail::BeastRequest;

namespace {

constexpr auto kTuple = asio::as_tuple(use_awaitable);

// After an error reply the client may still be sending (the body we refused to read). Closing
// with unread data makes the kernel send RST, which can destroy our reply before the client
// reads it; so we stop sending, read and discard for a bounded time, then close.
constexpr auto kLingerTime = std::chrono::milliseconds(1000);
constexpr std::size_t kLingerBytes = 1024 * 1024;
// A connection refused for overload gets this long to take its 503.
constexpr auto kRejectWriteTime = std::chrono::milliseconds(1000);
// accept() failing (EMFILE, ENFILE, ENOBUFS) would otherwise spin the I/O thread: it waits, twice
// as long after each failure in a row, and says so at most every kAcceptWarningInterval.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);
constexpr auto kMaxAcceptRetryDelay = std::chrono::milliseconds(1000);
constexpr auto kAcceptWarningInterval = std::chrono::seconds(10);
// One read from a socket.
constexpr std::size_t kReadChunk = 16 * 1024;
// The connection's buffer holds the head being parsed plus this much more: what arrived behind it
// (the start of a body, pipelined requests). Small, so an unauthenticated client sending a body
// with its headers costs the server little before the head is judged.
constexpr std::size_t kBufferSlack = 16 * 1024;
// Told to a client whose body did not fit in the server's budget for bodies in flight.
constexpr std::string_view kBudgetRetryAfter = "2";
// After the drain (or the forced close), how long stop() waits for sessions to unwind.
constexpr auto kUnwindTime = std::chrono::seconds(2);

std::string endpoint_text(const tcp::socket& socket) {
  boost::system::error_code ec;
  const auto ep = socket.remote_endpoint(ec);
  if (ec) return "?";
  const auto address = ep.address();
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(ep.port());
}

asio::ip::address peer_address(const tcp::socket& socket) {
  boost::system::error_code ec;
  const auto ep = socket.remote_endpoint(ec);
  return ec ? asio::ip::address{} : ep.address();
}

bool is_http_error(const beast::error_code& ec) {
  return ec.category() == bhttp::make_error_code(bhttp::error::bad_method).category();
}

// A handler's exception must not take the server down: it becomes a 500 and a log line.
template <typename Answer, typename Call>
Answer guarded(std::string_view route, Call&& call) noexcept {
  try {
    return call();
  } catch (const std::exception& e) {
    log().error("handler of route {} threw: {}", route, e.what());
  } catch (...) {
    log().error("handler of route {} threw a non-standard exception", route);
  }
  return error_response(500, "internal", "the request failed on the server; see its log");
}

Response invoke_handler(const Handler& handler, const Request& request,
                        std::string_view route) noexcept {
  return guarded<Response>(route, [&] { return handler(request); });
}

std::optional<Response> invoke_fast_path(const FastPath& fast_path, const Request& request,
                                         std::string_view route) noexcept {
  return guarded<std::optional<Response>>(route, [&] { return fast_path(request); });
}

asio::awaitable<Response> run_handler(const Handler* handler,
                                      std::shared_ptr<const Request> request,
                                      std::string_view route) {
  co_return invoke_handler(*handler, *request, route);
}

}  // namespace

struct HttpServer::Impl {
  // One accepted client. The session coroutine owns it; stop() reaches it through a weak_ptr and
  // touches it only on its strand.
  struct Connection {
    Connection(Impl& owner_, std::uint64_t id_, tcp::socket socket)
        : owner(owner_),
          id(id_),
          remote(endpoint_text(socket)),
          peer(peer_address(socket)),
          stream(std::move(socket)) {}
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection() { owner.unregister(id); }

    Impl& owner;
    std::uint64_t id;
    std::string remote;
    asio::ip::address peer;
    beast::tcp_stream stream;
    bool idle = true;  // waiting for a request's first byte: stop() may close it at once
  };

  // What a request was, for the log and metrics, whatever happened to it.
  struct RequestLine {
    std::string method;
    std::string path;
    std::string_view route;
    unsigned version = 11;
  };

  ServerOptions opt;
  Router router;
  metrics::Metrics& metrics;

  std::atomic<bool> stopping{false};
  std::mutex stop_mutex;
  bool stopped = false;

  mutable std::mutex conn_mutex;
  std::condition_variable conn_changed;
  std::unordered_map<std::uint64_t, std::weak_ptr<Connection>> conns;
  std::uint64_t next_id = 0;
  std::atomic<std::int64_t> last_overload_warning{0};
  std::atomic<std::size_t> refusals_in_flight{0};
  std::atomic<std::uint64_t> body_bytes_read{0};
  detail::BodyBudget body_budget;
  TrustedProxies proxies;

  // Declared after everything sessions touch: if the context is ever destroyed with sessions
  // still suspended, their Connection destructors find the registry alive.
  asio::thread_pool workers;
  asio::io_context ioc;
  asio::strand<asio::io_context::executor_type> accept_strand;
  tcp::acceptor acceptor;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::thread> io_threads;
  std::uint16_t bound_port = 0;

  Impl(ServerOptions options, Router r, metrics::Metrics& m)
      : opt(std::move(options)),
        router(std::move(r)),
        metrics(m),
        body_budget(opt.max_body_bytes_in_flight),
        proxies(TrustedProxies::parse(opt.trusted_proxies).value()),  // checked by problems()
        workers(opt.worker_threads),
        ioc(static_cast<int>(opt.io_threads)),
        accept_strand(asio::make_strand(ioc)),
        acceptor(accept_strand) {}

  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() { stop(); }

  boost::system::result<void, Error> listen() {
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(opt.listen_address, ec);
    const tcp::endpoint endpoint(address, opt.port);
    const auto where = [&] {
      return "http: cannot listen on " + opt.listen_address + " port " + std::to_string(opt.port);
    };
    if (acceptor.open(endpoint.protocol(), ec); ec) return fail(where() + ": " + ec.message());
    acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (address.is_v6() && address.to_v6().is_unspecified()) {
      acceptor.set_option(asio::ip::v6_only(false), ec);  // "::" serves IPv4 too
    }
    if (acceptor.bind(endpoint, ec); ec) return fail(where() + ": " + ec.message());
    if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) {
      return fail(where() + ": " + ec.message());
    }
    bound_port = acceptor.local_endpoint(ec).port();
    return {};
  }

  void run() {
    work.emplace(ioc.get_executor());
    asio::co_spawn(accept_strand, accept_loop(), [](std::exception_ptr e) {
      if (e) log().critical("the accept loop ended with an exception");
    });
    for (std::size_t i = 0; i < opt.io_threads; ++i) io_threads.emplace_back([this] { ioc.run(); });
    log().info("listening on {} port {} ({} I/O thread(s), {} worker(s))", opt.listen_address,
               bound_port, opt.io_threads, opt.worker_threads);
  }

  // ---- connections registry -------------------------------------------------------------

  std::shared_ptr<Connection> admit(tcp::socket& socket) {
    std::lock_guard lock(conn_mutex);
    if (conns.size() >= opt.max_connections) return nullptr;
    auto c = std::make_shared<Connection>(*this, ++next_id, std::move(socket));
    conns.emplace(c->id, c);
    return c;
  }

  void unregister(std::uint64_t id) {
    {
      std::lock_guard lock(conn_mutex);
      conns.erase(id);
    }
    conn_changed.notify_all();
  }

  template <class F>
  void post_to_connections(F f) {
    std::vector<std::shared_ptr<Connection>> live;
    {
      std::lock_guard lock(conn_mutex);
      for (auto& [id, weak] : conns) {
        if (auto c = weak.lock()) live.push_back(std::move(c));
      }
    }
    for (auto& c : live) {
      asio::post(c->stream.get_executor(), [c, f] { f(*c); });
    }
  }

  bool wait_until_no_connections(std::chrono::milliseconds timeout) {
    std::unique_lock lock(conn_mutex);
    return conn_changed.wait_for(lock, timeout, [&] { return conns.empty(); });
  }

  // ---- stop -------------------------------------------------------------------------------

  void stop() {
    std::lock_guard stop_lock(stop_mutex);
    if (stopped) return;
    stopped = true;
    stopping = true;
    if (!io_threads.empty()) {
      std::promise<void> closed;
      asio::post(accept_strand, [&] {
        boost::system::error_code ignored;
        acceptor.close(ignored);
        closed.set_value();
      });
      closed.get_future().wait();
      log().info("stopped accepting; draining open connections");
      post_to_connections([](Connection& c) {
        if (c.idle) c.stream.cancel();
      });
      if (!wait_until_no_connections(opt.drain_timeout)) {
        log().warn("drain timeout ({} ms) reached; closing the remaining connections",
                   opt.drain_timeout.count());
        post_to_connections([](Connection& c) { c.stream.close(); });
      }
    }
    // Handlers still running finish (a thread cannot be interrupted); their sessions then find
    // their sockets closed and end.
    workers.join();
    work.reset();
    if (!wait_until_no_connections(kUnwindTime)) {
      log().warn("connections still open after the drain; abandoning them");
    }
    ioc.stop();
    if (io_threads.empty()) return;  // never started (the bind failed)
    for (auto& t : io_threads) t.join();
    io_threads.clear();
    log().info("stopped");
  }

  // ---- accept -----------------------------------------------------------------------------

  asio::awaitable<void> accept_loop() {
    auto retry_delay = kAcceptRetryDelay;
    std::uint64_t failures = 0;
    auto last_warning = Clock::time_point{};
    for (;;) {
      const asio::any_io_executor connection_executor = asio::make_strand(ioc);
      auto [ec, socket] = co_await acceptor.async_accept(connection_executor, kTuple);
      if (stopping || !acceptor.is_open()) co_return;
      if (ec) {
        // Out of descriptors (EMFILE/ENFILE) or buffers: nothing to do but wait for connections
        // to close. Backing off keeps the I/O thread and the log quiet meanwhile.
        ++failures;
        if (Clock::now() - last_warning >= kAcceptWarningInterval) {
          log().warn(
              "http: accept failed: {} ({} time(s) since the last warning); retrying in "
              "{} ms",
              ec.message(), failures, retry_delay.count());
          last_warning = Clock::now();
          failures = 0;
        }
        asio::steady_timer pause(accept_strand, retry_delay);
        co_await pause.async_wait(kTuple);
        retry_delay = std::min(retry_delay * 2, kMaxAcceptRetryDelay);
        continue;
      }
      retry_delay = kAcceptRetryDelay;
      boost::system::error_code ignored;
      // Replies go out in one write; Nagle would only hold back the tail of a large one.
      socket.set_option(tcp::no_delay(true), ignored);
      if (auto c = admit(socket)) {
        asio::co_spawn(c->stream.get_executor(), session(c), [](std::exception_ptr e) {
          if (e) log().error("a connection ended with an unexpected exception");
        });
      } else if (refusals_in_flight.load() < ServerOptions::kMaxRefusalsInFlight) {
        ++refusals_in_flight;
        asio::co_spawn(connection_executor, reject(std::move(socket)),
                       [this](std::exception_ptr) { --refusals_in_flight; });
      } else {
        // Answering would take descriptors kept for the answers already under way.
        warn_overload();
        socket.close(ignored);
      }
    }
  }

  // Over the connection cap: a 503 the client can act on (Retry-After), then close.
  asio::awaitable<void> reject(tcp::socket socket) {
    const auto started = Clock::now();
    warn_overload();
    beast::tcp_stream stream(std::move(socket));
    Response r = error_response(503, "overloaded", "too many open connections; retry later");
    r.headers.push_back(Header{.name = "Retry-After", .value = "1"});
    auto out = detail::to_beast(std::move(r), 11, false, false);
    stream.expires_after(kRejectWriteTime);
    auto [ec, n] = co_await bhttp::async_write(stream, out, kTuple);
    metrics.observe_request(kOverloadedRoute, 503, Clock::now() - started);
    if (!ec) co_await linger_close(stream);
  }

  void warn_overload() {
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(Clock::now().time_since_epoch()).count();
    auto last = last_overload_warning.load();
    if (now - last >= 10 && last_overload_warning.compare_exchange_strong(last, now)) {
      log().warn("connection cap ({}) reached; answering new connections 503", opt.max_connections);
    }
  }

  // ---- one connection -----------------------------------------------------------------------

  asio::awaitable<void> session(std::shared_ptr<Connection> c) {
    beast::flat_buffer buffer(std::size_t{opt.max_header_bytes} + kBufferSlack);
    bool first = true;
    // The first request's headers must be complete header_timeout after the accept.
    c->stream.expires_after(opt.header_timeout);
    for (;;) {
      c->idle = true;
      if (stopping) break;
      if (buffer.size() == 0) {
        if (!first) c->stream.expires_after(opt.idle_timeout);
        auto [ec, n] = co_await c->stream.async_read_some(buffer.prepare(kReadChunk), kTuple);
        if (ec) {
          if (ec == beast::error::timeout) log().debug("{} idle, closed", c->remote);
          break;
        }
        buffer.commit(n);
      }
      c->idle = false;
      if (!first) c->stream.expires_after(opt.header_timeout);
      first = false;
      if (!co_await serve_one(*c, buffer)) break;
    }
    beast::error_code ignored;
    c->stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    c->stream.close();
  }

  // Reads one request, runs its handler, writes the reply. True: the connection stays open.
  // The head is judged before any of the body is read: framing, route, the route's guard (auth),
  // whether it takes a body, and room in the body budget. Only then is `100 Continue` sent and
  // the body read.
  // (No temporaries in co_await argument lists here: GCC 12 miscompiles some of them, so every
  // argument is a named local.)
  asio::awaitable<bool> serve_one(Connection& c, beast::flat_buffer& buffer) {
    const auto started = Clock::now();
    detail::RequestParser parser;
    parser.header_limit(opt.max_header_bytes);
    parser.body_limit(opt.max_body_bytes);

    beast::error_code ec;
    detail::HeadReader head(parser, opt.max_header_bytes);
    for (;;) {
      const std::size_t used = head.put(buffer.data(), ec);
      buffer.consume(used);
      if (ec || head.done()) break;
      const std::size_t room = buffer.max_size() - buffer.size();
      if (room == 0) {
        ec = bhttp::error::header_limit;
        break;
      }
      auto [read_ec, n] =
          co_await c.stream.async_read_some(buffer.prepare(std::min(room, kReadChunk)), kTuple);
      if (read_ec) {
        if (read_ec == beast::error::timeout) {
          log().info("{} too slow sending its request; closed", c.remote);
        }
        co_return false;  // the client left or stalled: nobody to answer
      }
      buffer.commit(n);
    }
    if (ec) {
      if (auto refusal = refusal_for(c, parser, ec)) co_await reply_and_close(c, *refusal, started);
      co_return false;
    }
    if (auto bad = detail::check_request_head(parser)) {
      Refusal refusal{line_of(parser, kInvalidRoute),
                      error_response(bad->status, bad->code, bad->detail)};
      co_await reply_and_close(c, refusal, started);
      co_return false;
    }
    if (!detail::split_target(parser.get().target())) {
      Refusal refusal{line_of(parser, kInvalidRoute),
                      error_response(400, "bad_request", "unsupported request target")};
      co_await reply_and_close(c, refusal, started);
      co_return false;
    }

    auto request = std::make_shared<Request>(detail::to_request_head(
        parser.get(), c.remote, proxies.client_of(c.peer, forwarded_for(parser.get()))));
    const unsigned version = parser.get().version();
    const bool head_method = parser.get().method() == bhttp::verb::head;
    const bool keep_alive = parser.get().keep_alive();
    RouteMatch match = router.match(request->method, request->path);
    const RequestLine line{
        .method = request->method, .path = request->path, .route = match.route, .version = version};
    // Whatever is refused with a body still unread closes the connection: the unread bytes cannot
    // be told from the next request.
    const bool body_pending = !parser.is_done();
    const auto refuse = [&](Response reply) -> asio::awaitable<bool> {
      if (body_pending) {
        Refusal refusal{line, std::move(reply)};
        co_await reply_and_close(c, refusal, started);
        co_return false;
      }
      const bool stay_open = !stopping && keep_alive;
      const bool written = co_await respond(c, line, reply, stay_open, head_method, started);
      co_return written&& stay_open;
    };
    if (match.handler == nullptr) co_return co_await refuse(std::move(match.error));
    if (match.guard != nullptr) {
      if (auto refused = (*match.guard)(*request)) co_return co_await refuse(std::move(*refused));
    }

    std::optional<detail::BodyBudget::Reservation> reservation;
    if (body_pending) {
      if (!match.takes_body) {
        co_return co_await refuse(
            error_response(413, "body_not_allowed", "this route takes no request body"));
      }
      const std::size_t wanted = parser.content_length()
                                     ? static_cast<std::size_t>(*parser.content_length())
                                     : opt.max_body_bytes;
      reservation = body_budget.try_reserve(wanted);
      if (!reservation) {
        Response busy = error_response(503, "busy",
                                       "the server is receiving too many request bodies at once; "
                                       "retry later");
        busy.headers.push_back(
            Header{.name = "Retry-After", .value = std::string(kBudgetRetryAfter)});
        co_return co_await refuse(std::move(busy));
      }
      if (version >= 11 && beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
        bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, 11};
        c.stream.expires_after(opt.write_timeout);
        auto [wec, wn] = co_await bhttp::async_write(c.stream, go_on, kTuple);
        if (wec) co_return false;
      }
      c.stream.expires_after(opt.body_timeout);
      auto [bec, bn] = co_await bhttp::async_read(c.stream, buffer, parser, kTuple);
      if (bec) {
        if (auto refusal = refusal_for(c, parser, bec)) {
          co_await reply_and_close(c, *refusal, started);
        }
        co_return false;
      }
      request->body = std::move(parser.get().body());
      body_bytes_read += request->body.size();
    }
    c.stream.expires_never();  // the handler may take its time; the socket waits

    std::optional<Response> fast;
    if (match.fast_path != nullptr)
      fast = invoke_fast_path(*match.fast_path, *request, match.route);
    Response response;
    if (fast) {
      response = std::move(*fast);
    } else {
      auto job = run_handler(match.handler, request, match.route);
      response = co_await asio::co_spawn(workers, std::move(job), use_awaitable);
    }
    // The body's memory goes back to the budget with the request, before the reply is written.
    request.reset();
    reservation.reset();
    if (response.stream && response.status == 200) {
      co_await stream_events(c, line, response, head_method, started);
      co_return false;
    }
    const bool stay_open = !stopping && keep_alive;
    const bool written = co_await respond(c, line, response, stay_open, head_method, started);
    co_return written&& stay_open;
  }

  // Every X-Forwarded-For value, joined with ',' (a proxy may have added a header of its own).
  static std::string forwarded_for(const detail::BeastRequest& head) {
    std::string joined;
    const auto [first, last] = head.equal_range("X-Forwarded-For");
    for (auto it = first; it != last; ++it) {
      if (!joined.empty()) joined += ',';
      joined += it->value();
    }
    return joined;
  }

  // A request refused before its handler: what to log, and the error reply.
  struct Refusal {
    RequestLine line;
    Response reply;
  };

  static RequestLine line_of(const detail::RequestParser& parser, std::string_view route) {
    const auto& h = parser.get();
    const std::string_view target = h.target();
    const auto split = detail::split_target(target);
    const unsigned version = h.version() == 10 ? 10 : 11;  // 0 when the line did not parse
    return RequestLine{
        .method = std::string(h.method_string()),
        .path = split ? split->path : std::string(target.substr(0, target.find('?'))),
        .route = route,
        .version = version};
  }

  // A request that failed to read: an error reply where the client deserves one; nullopt: just
  // close (the client left, or was too slow).
  std::optional<Refusal> refusal_for(const Connection& c, const detail::RequestParser& parser,
                                     const beast::error_code& ec) const {
    if (ec == beast::error::timeout) {
      log().info("{} too slow sending its request; closed", c.remote);
      return std::nullopt;
    }
    if (ec == bhttp::error::body_limit) {
      const auto& h = parser.get();
      const auto target = detail::split_target(h.target());
      const auto route =
          target ? router.match(h.method_string(), target->path).route : kInvalidRoute;
      return Refusal{
          line_of(parser, route),
          error_response(413, "body_too_large",
                         "the body exceeds " + std::to_string(opt.max_body_bytes) + " bytes")};
    }
    if (ec == bhttp::error::header_limit) {
      return Refusal{line_of(parser, kInvalidRoute),
                     error_response(431, "headers_too_large",
                                    "request line and headers exceed " +
                                        std::to_string(opt.max_header_bytes) + " bytes")};
    }
    // The client went away (mid-message or between messages): nobody to answer.
    if (!is_http_error(ec) || ec == bhttp::error::end_of_stream ||
        ec == bhttp::error::partial_message) {
      return std::nullopt;
    }
    return Refusal{line_of(parser, kInvalidRoute),
                   error_response(400, "bad_request", ec.message())};
  }

  asio::awaitable<void> reply_and_close(Connection& c, Refusal& refusal,
                                        Clock::time_point started) {
    const bool written = co_await respond(c, refusal.line, refusal.reply, false, false, started);
    if (written) co_await linger_close(c.stream);
  }

  // Writes the reply, then observes and logs the request. True when the reply was written.
  asio::awaitable<bool> respond(Connection& c, const RequestLine& line, Response& response,
                                bool keep_alive, bool head, Clock::time_point started) {
    auto out = detail::to_beast(std::move(response), line.version, keep_alive, head);
    const int status = static_cast<int>(out.result_int());
    const std::size_t bytes = out.body().size();
    c.stream.expires_after(opt.write_timeout);
    auto [ec, n] = co_await bhttp::async_write(c.stream, out, kTuple);
    const auto latency = Clock::now() - started;
    metrics.observe_request(line.route, status, latency);
    log().info(access_log_line(AccessRecord{.remote_addr = c.remote,
                                            .method = line.method,
                                            .path = line.path,
                                            .route = line.route,
                                            .status = status,
                                            .body_bytes = bytes,
                                            .latency = latency}));
    co_return !ec;
  }

  // An EventStream reply: the head (chunked in HTTP/1.1, delimited by the close in 1.0), the
  // body as the first piece, then whatever the stream has on each tick and refresh until it
  // ends, a write fails (the client left, or stopped reading for write_timeout) or the server
  // stops. Logged and observed once, when the head is out (its latency: the time to first byte).
  asio::awaitable<void> stream_events(Connection& c, const RequestLine& line, Response& response,
                                      bool head, Clock::time_point started) {
    const std::shared_ptr<EventStream> stream = std::move(response.stream);
    std::string first = std::move(response.body);
    const bool chunked = line.version >= 11;
    auto out = detail::to_beast(std::move(response), line.version, false, true);
    out.erase(bhttp::field::content_length);
    if (chunked) out.chunked(true);
    out.set(bhttp::field::cache_control, "no-store");
    out.set("X-Accel-Buffering", "no");  // proxies that buffer by default (nginx) pass it on
    bhttp::response_serializer<detail::BeastResponse::body_type> serializer{out};
    c.stream.expires_after(opt.write_timeout);
    auto [hec, hn] = co_await bhttp::async_write_header(c.stream, serializer, kTuple);
    const auto latency = Clock::now() - started;
    metrics.observe_request(line.route, 200, latency);
    log().info(access_log_line(AccessRecord{.remote_addr = c.remote,
                                            .method = line.method,
                                            .path = line.path,
                                            .route = line.route,
                                            .status = 200,
                                            .body_bytes = first.size(),
                                            .latency = latency}));
    if (hec || head) co_return;

    const auto send = [&](const std::string& text) -> asio::awaitable<bool> {
      if (text.empty()) co_return true;
      c.stream.expires_after(opt.write_timeout);
      if (chunked) {
        auto piece = bhttp::make_chunk(asio::buffer(text));
        auto [ec, n] = co_await asio::async_write(c.stream, piece, kTuple);
        co_return !ec;
      }
      auto [ec, n] = co_await asio::async_write(c.stream, asio::buffer(text), kTuple);
      co_return !ec;
    };
    bool open = co_await send(first);
    asio::steady_timer timer(c.stream.get_executor());
    auto next_refresh = Clock::now() + stream->refresh_interval();
    bool sent_since_refresh = !first.empty();
    while (open && !stopping) {
      timer.expires_after(stream->tick());
      auto [tec] = co_await timer.async_wait(kTuple);
      if (tec || stopping) break;
      std::optional<std::string> text = stream->poll();
      bool refreshed = false;
      if (text && Clock::now() >= next_refresh) {
        auto job = refresh_stream(stream);
        std::optional<std::string> more =
            co_await asio::co_spawn(workers, std::move(job), use_awaitable);
        next_refresh = Clock::now() + stream->refresh_interval();
        refreshed = true;
        if (more) {
          *text += *more;
          // A comment line: nothing for the page, but proxies and the client see the stream alive.
          if (text->empty() && !sent_since_refresh) *text = ":\n\n";
        } else {
          text.reset();
        }
      }
      if (!text) break;
      if (!text->empty()) sent_since_refresh = true;
      open = co_await send(*text);
      if (refreshed) sent_since_refresh = false;
    }
    if (open && chunked) {
      c.stream.expires_after(opt.write_timeout);
      auto last = bhttp::make_chunk_last();
      co_await asio::async_write(c.stream, last, kTuple);
    }
    log().debug("{} event stream on {} ended after {} s", c.remote, line.path,
                std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - started).count());
  }

  static asio::awaitable<std::optional<std::string>> refresh_stream(
      std::shared_ptr<EventStream> stream) {
    try {
      co_return stream->refresh();
    } catch (const std::exception& e) {
      log().error("an event stream's refresh threw: {}", e.what());
    }
    co_return std::nullopt;
  }

  static asio::awaitable<void> linger_close(beast::tcp_stream& stream) {
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.expires_after(kLingerTime);
    std::string scratch(16 * 1024, '\0');
    std::size_t discarded = 0;
    while (discarded < kLingerBytes) {
      auto [ec, n] = co_await stream.async_read_some(asio::buffer(scratch), kTuple);
      if (ec) break;
      discarded += n;
    }
    stream.close();
  }
};

Result<std::unique_ptr<HttpServer>> HttpServer::start(ServerOptions options, Router router,
                                                      metrics::Metrics& metrics) {
  if (const auto bad = problems(options); !bad.empty()) {
    std::string message = "http: invalid server options:";
    for (const auto& e : bad) message += " " + e.message + ";";
    message.pop_back();
    return fail(std::move(message));
  }
  auto impl = std::make_unique<Impl>(std::move(options), std::move(router), metrics);
  if (auto listening = impl->listen(); !listening) return listening.error();
  impl->run();
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() {
  stop();
}

void HttpServer::stop() {
  impl_->stop();
}

std::uint16_t HttpServer::port() const {
  return impl_->bound_port;
}

std::size_t HttpServer::connection_count() const {
  std::lock_guard lock(impl_->conn_mutex);
  return impl_->conns.size();
}

std::uint64_t HttpServer::body_bytes_read() const {
  return impl_->body_bytes_read.load();
}

std::vector<std::thread::id> HttpServer::io_thread_ids() const {
  std::vector<std::thread::id> ids;
  for (const auto& t : impl_->io_threads) ids.push_back(t.get_id());
  return ids;
}

}  // namespace sungrow::http
