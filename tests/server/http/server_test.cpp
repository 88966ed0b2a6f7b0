// HttpServer over real loopback sockets: keep-alive, limits, deadlines, the connection cap,
// graceful stop, handler failures and threads, malformed input, metrics and the access log.
#include "sungrow/server/http/server.hpp"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <boost/beast/http/field.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "raw_client.hpp"
#include "sungrow/server/metrics/metrics.hpp"

namespace sungrow::http {
namespace {

using namespace std::chrono_literals;
using test::RawClient;
using test::Reply;
namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;

// Holds a handler inside its call until the test opens it: a request "in flight" on demand.
class Gate {
 public:
  void pass() {
    std::unique_lock lock(mutex_);
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
  }
  bool wait_entered(int n, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, timeout, [&] { return entered_ >= n; });
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int entered_ = 0;
  bool open_ = false;
};

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

std::string ms_since(Clock::time_point t) {
  return std::to_string(
             std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count()) +
         " ms";
}

class HttpServerTest : public ::testing::Test {
 protected:
  static ServerOptions test_options() {
    ServerOptions o;
    o.listen_address = "127.0.0.1";
    o.port = 0;
    o.io_threads = 2;
    o.worker_threads = 2;
    o.max_body_bytes = 1024;
    o.header_timeout = 2s;
    o.body_timeout = 2s;
    o.write_timeout = 2s;
    o.idle_timeout = 5s;
    o.drain_timeout = 10s;
    o.max_connections = 16;
    return o;
  }

  Router routes() {
    Router r;
    r.add("GET", "/ok", [](const Request&) { return json_response(R"({"ok":true})"); });
    r.add("HEAD", "/ok", [](const Request&) { return json_response(R"({"ok":true})"); });
    r.add(
        "POST", "/echo",
        [](const Request& req) {
          return Response{
              .status = 200, .content_type = "text/plain", .body = req.body, .headers = {}};
        },
        "echo");
    r.add("GET", "/inspect", [](const Request& req) {
      return Response{.status = 200,
                      .content_type = "text/plain",
                      .body = req.method + "|" + req.path + "|" + req.query + "|" +
                              std::string(req.header_value("x-test")) + "|" + req.remote_addr,
                      .headers = {}};
    });
    r.add("GET", "/cached", [](const Request&) {
      Response res = json_response("{}");
      res.headers.push_back({"Cache-Control", "max-age=5"});
      return res;
    });
    r.add("GET", "/throw",
          [](const Request&) -> Response { throw std::runtime_error("handler bug"); });
    r.add("GET", "/throw-int", [](const Request&) -> Response { throw 42; });
    r.add("GET", "/slow", [gate = gate_](const Request&) {
      gate->pass();
      return json_response(R"({"slow":true})");
    });
    r.add(
        "POST", "/guarded",
        [this](const Request& req) {
          ++guarded_runs_;
          return Response{
              .status = 200, .content_type = "text/plain", .body = req.body, .headers = {}};
        },
        RouteOptions{.name = "guarded",
                     .takes_body = true,
                     .guard = [this](const Request& head) -> std::optional<Response> {
                       ++guard_runs_;
                       if (head.header_value("X-Key") == "open-sesame") return std::nullopt;
                       return error_response(401, "unauthorized", "no key");
                     },
                     .fast_path = {}});
    r.add("GET", "/count", [this](const Request&) {
      ++count_runs_;
      return json_response("{}");
    });
    r.add("GET", "/client", [](const Request& req) {
      return Response{
          .status = 200, .content_type = "text/plain", .body = req.client_addr, .headers = {}};
    });
    // Answered on the I/O thread when the request says X-Fast: yes (or thrown from there with
    // X-Fast: throw); otherwise handed to the handler on a worker.
    r.add(
        "GET", "/fast",
        [this](const Request&) {
          std::lock_guard lock(threads_mutex_);
          handler_threads_.insert(std::this_thread::get_id());
          return json_response(R"({"by":"handler"})");
        },
        RouteOptions{.name = "fast",
                     .takes_body = std::nullopt,
                     .guard = {},
                     .fast_path = [this](const Request& req) -> std::optional<Response> {
                       const auto says = req.header_value("X-Fast");
                       if (says == "throw") throw std::runtime_error("fast path bug");
                       if (says != "yes") return std::nullopt;
                       std::lock_guard lock(threads_mutex_);
                       fast_threads_.insert(std::this_thread::get_id());
                       return json_response(R"({"by":"fast path"})");
                     }});
    r.add("GET", "/thread", [this](const Request&) {
      std::lock_guard lock(threads_mutex_);
      handler_threads_.insert(std::this_thread::get_id());
      return json_response("{}");
    });
    return r;
  }

  void start(ServerOptions o = test_options()) {
    auto started = HttpServer::start(std::move(o), routes(), metrics_);
    ASSERT_TRUE(started.has_value()) << started.error().message;
    server_ = std::move(*started);
    ASSERT_NE(server_->port(), 0);
  }

  void TearDown() override {
    gate_->open();  // a failed test must not leave stop() waiting for a parked handler
    server_.reset();
  }

  std::uint16_t port() const { return server_->port(); }

  // A fresh connection answers GET /ok: the server is alive and well.
  void expect_serving() {
    RawClient c(port());
    const auto r = c.request("GET", "/ok");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->result_int(), 200U);
  }

  metrics::Metrics metrics_;
  std::atomic<int> guard_runs_{0};
  std::atomic<int> guarded_runs_{0};
  std::atomic<int> count_runs_{0};
  std::shared_ptr<Gate> gate_ = std::make_shared<Gate>();
  std::mutex threads_mutex_;
  std::set<std::thread::id> handler_threads_;
  std::set<std::thread::id> fast_threads_;
  std::unique_ptr<HttpServer> server_;
};

// ---- HTTP semantics ----------------------------------------------------------------------------

TEST_F(HttpServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  start();
  RawClient c(port());
  for (int i = 0; i < 5; ++i) {
    const auto r = c.request("GET", "/ok");
    ASSERT_TRUE(r.has_value()) << "request " << i;
    EXPECT_EQ(r->result_int(), 200U);
    EXPECT_EQ(r->body(), R"({"ok":true})");
    EXPECT_TRUE(r->keep_alive());
    EXPECT_EQ((*r)[bhttp::field::server], "sungrow-server");
    EXPECT_EQ((*r)[bhttp::field::content_type], "application/json");
    EXPECT_EQ((*r)[bhttp::field::content_length], "11");
    EXPECT_EQ((*r)[bhttp::field::cache_control], "no-store");
  }
  const auto echoed = c.request("POST", "/echo", "hello");
  ASSERT_TRUE(echoed.has_value());
  EXPECT_EQ(echoed->body(), "hello");
  EXPECT_EQ(server_->connection_count(), 1U);
}

TEST_F(HttpServerTest, PipelinedRequestsAreAnsweredInOrder) {
  start();
  RawClient c(port());
  ASSERT_TRUE(
      c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\none"
             "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\ntwo"
             "GET /ok HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto a = c.read_reply();
  const auto b = c.read_reply();
  const auto d = c.read_reply();
  ASSERT_TRUE(a && b && d);
  EXPECT_EQ(a->body(), "one");
  EXPECT_EQ(b->body(), "two");
  EXPECT_EQ(d->body(), R"({"ok":true})");
}

TEST_F(HttpServerTest, RequestReachesTheHandlerAsPlainValues) {
  start();
  RawClient c(port());
  const auto r = c.request("GET", "/inspect?device_id=a%20b&x=1", {}, "X-Test: seen\r\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body().rfind("GET|/inspect|device_id=a%20b&x=1|seen|127.0.0.1:", 0), 0U)
      << r->body();
  EXPECT_EQ(r->count(bhttp::field::cache_control), 0U);  // not JSON
}

TEST_F(HttpServerTest, HandlerCacheControlIsKept) {
  start();
  RawClient c(port());
  const auto r = c.request("GET", "/cached");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ((*r)[bhttp::field::cache_control], "max-age=5");
}

TEST_F(HttpServerTest, UnknownPathIs404Json) {
  start();
  RawClient c(port());
  const auto r = c.request("GET", "/nope?x=1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 404U);
  EXPECT_EQ(r->body(), R"({"error":"not_found","detail":"no such path"})");
  EXPECT_TRUE(r->keep_alive());
  EXPECT_EQ(c.request("GET", "/ok")->result_int(), 200U);  // same connection still usable
}

TEST_F(HttpServerTest, WrongMethodIs405WithAllow) {
  start();
  RawClient c(port());
  const auto r = c.request("POST", "/ok", "x");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 405U);
  EXPECT_EQ((*r)[bhttp::field::allow], "GET, HEAD");
  EXPECT_NE(r->body().find(R"("error":"method_not_allowed")"), std::string::npos);
}

TEST_F(HttpServerTest, HeadGetsTheLengthWithoutABody) {
  start();
  RawClient c(port());
  const auto r = c.request("HEAD", "/ok");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200U);
  EXPECT_EQ((*r)[bhttp::field::content_length], "11");
  EXPECT_TRUE(r->body().empty());
  // Had body bytes followed the header, this reply would be garbage.
  const auto next = c.request("GET", "/ok");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->body(), R"({"ok":true})");
}

TEST_F(HttpServerTest, ConnectionCloseIsHonoured) {
  start();
  RawClient c(port());
  const auto r = c.request("GET", "/ok", {}, "Connection: close\r\n");
  ASSERT_TRUE(r.has_value());
  EXPECT_FALSE(r->keep_alive());
  EXPECT_EQ((*r)[bhttp::field::connection], "close");
  EXPECT_TRUE(c.wait_closed(5s));
}

TEST_F(HttpServerTest, Http10ClosesByDefaultAndKeepsAliveOnRequest) {
  start();
  {
    RawClient c(port());
    ASSERT_TRUE(c.send("GET /ok HTTP/1.0\r\n\r\n"));
    const auto r = c.read_reply();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->version(), 10U);
    EXPECT_EQ(r->result_int(), 200U);
    EXPECT_TRUE(c.wait_closed(5s));
  }
  RawClient c(port());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(c.send("GET /ok HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    const auto r = c.read_reply();
    ASSERT_TRUE(r.has_value()) << "request " << i;
    EXPECT_EQ((*r)[bhttp::field::connection], "keep-alive");
  }
}

// ---- framing (RFC 9112) ---------------------------------------------------------------------

TEST_F(HttpServerTest, AbsoluteFormTargetIsRoutedByItsPath) {
  start();
  RawClient c(port());
  ASSERT_TRUE(c.send("GET http://sungrow.example:8000/inspect?x=1 HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto r = c.read_reply();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200U);
  EXPECT_EQ(r->body().substr(0, 18), "GET|/inspect|x=1||");
}

TEST_F(HttpServerTest, Http10WithoutHostIsServed) {
  start();
  RawClient c(port());
  ASSERT_TRUE(c.send("GET /ok HTTP/1.0\r\n\r\n"));
  const auto r = c.read_reply();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200U);
}

// Only plain chunked is implemented: anything else is refused and the connection closed, so a
// request smuggled behind it is never processed.
TEST_F(HttpServerTest, UnsupportedTransferCodingIs501AndNothingPipelinedBehindItRuns) {
  start();
  RawClient c(port());
  ASSERT_TRUE(
      c.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
             "5\r\nhello\r\n0\r\n\r\n"
             "GET /count HTTP/1.1\r\nHost: t\r\n\r\n"));
  const auto r = c.read_reply();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 501U);
  EXPECT_FALSE(r->keep_alive());
  EXPECT_TRUE(c.wait_closed(5s));
  EXPECT_EQ(count_runs_.load(), 0);
  expect_serving();
}

// ---- the head guard (authentication before the body) ------------------------------------------

TEST_F(HttpServerTest, GuardRefusesAfterTheHeadWithoutWaitingForTheBodyOrSendingContinue) {
  start();
  {
    RawClient c(port());
    // The body is never sent: a server that waited for it (or answered 100 first) would not
    // produce the 401 as the first and only reply.
    ASSERT_TRUE(
        c.send("POST /guarded HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n"
               "Expect: 100-continue\r\n\r\n"));
    const auto r = c.read_reply(2s);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->result_int(), 401U);
    EXPECT_FALSE(r->keep_alive());
    EXPECT_TRUE(c.wait_closed(5s));
  }
  EXPECT_EQ(guard_runs_.load(), 1);
  EXPECT_EQ(guarded_runs_.load(), 0);

  RawClient c(port());
  ASSERT_TRUE(
      c.send("POST /guarded HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
             "X-Key: open-sesame\r\nExpect: 100-continue\r\n\r\n"));
  const auto go_on = c.read_reply();
  ASSERT_TRUE(go_on.has_value());
  EXPECT_EQ(go_on->result_int(), 100U);
  ASSERT_TRUE(c.send("hello"));
  const auto r = c.read_reply();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200U);
  EXPECT_EQ(r->body(), "hello");
  EXPECT_EQ(guarded_runs_.load(), 1);
}

TEST_F(HttpServerTest, ARefusalWithoutABodyKeepsTheConnection) {
  start();
  RawClient c(port());
  const auto refused = c.request("POST", "/guarded");
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->result_int(), 401U);
  EXPECT_TRUE(refused->keep_alive());
  const auto next = c.request("GET", "/ok");
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->result_int(), 200U);
}

TEST_F(HttpServerTest, BodyToARouteThatTakesNoneIs413BeforeItIsRead) {
  start();
  RawClient c(port());
  ASSERT_TRUE(c.send("GET /ok HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n"));
  const auto r = c.read_reply(2s);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 413U);
  EXPECT_EQ(r->body().rfind(R"({"error":"body_not_allowed")", 0), 0U) << r->body();
  EXPECT_TRUE(c.wait_closed(5s));
}

// ---- the budget for bodies in flight ------------------------------------------------------------

TEST_F(HttpServerTest, BodiesBeyondTheBudgetGet503WithRetryAfterBeforeTheyAreRead) {
  auto o = test_options();
  o.max_body_bytes = 1000;
  o.max_body_bytes_in_flight = 2000;
  start(o);
  const std::string head = "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n";
  // Two bodies under way fill the budget (their first byte arrived, the rest has not).
  RawClient a(port());
  RawClient b(port());
  ASSERT_TRUE(a.send(head + "x"));
  ASSERT_TRUE(b.send(head + "x"));
  ASSERT_TRUE(eventually([&] { return server_->connection_count() == 2; }));
  std::this_thread::sleep_for(100ms);  // both heads judged (no reply can come to tell us)

  RawClient c(port());
  ASSERT_TRUE(c.send(head));
  const auto busy = c.read_reply(2s);
  ASSERT_TRUE(busy.has_value());
  EXPECT_EQ(busy->result_int(), 503U);
  EXPECT_EQ(busy->body().rfind(R"({"error":"busy")", 0), 0U) << busy->body();
  EXPECT_EQ((*busy)[bhttp::field::retry_after], "2");
  EXPECT_TRUE(c.wait_closed(5s));

  // A body that completes gives its share back.
  ASSERT_TRUE(a.send(std::string(999, 'y')));
  const auto done = a.read_reply();
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(done->result_int(), 200U);
  EXPECT_EQ(done->body().size(), 1000U);
  RawClient d(port());
  const auto later = d.request("POST", "/echo", std::string(1000, 'z'));
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(later->result_int(), 200U);
}

// ---- the client behind a proxy -----------------------------------------------------------------

TEST_F(HttpServerTest, ForwardedForIsBelievedOnlyFromATrustedProxy) {
  auto o = test_options();
  o.trusted_proxies = "127.0.0.0/8";
  start(o);
  RawClient c(port());
  const auto forwarded = c.request("GET", "/client", {}, "X-Forwarded-For: 203.0.113.5\r\n");
  ASSERT_TRUE(forwarded.has_value());
  EXPECT_EQ(forwarded->body(), "203.0.113.5");
  const auto direct = c.request("GET", "/client");
  ASSERT_TRUE(direct.has_value());
  EXPECT_EQ(direct->body(), "127.0.0.1");
  server_.reset();

  o.trusted_proxies = "";
  start(o);
  RawClient untrusted(port());
  const auto ignored = untrusted.request("GET", "/client", {}, "X-Forwarded-For: 203.0.113.5\r\n");
  ASSERT_TRUE(ignored.has_value());
  EXPECT_EQ(ignored->body(), "127.0.0.1");
}

// ---- body limit --------------------------------------------------------------------------------

TEST_F(HttpServerTest, OversizedContentLengthIs413WithoutReadingTheBody) {
  start();
  RawClient c(port());
  // No body is ever sent: a server that waited for it would time out instead of answering.
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10485760\r\n\r\n"));
  const auto r = c.read_reply(5s);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 413U);
  EXPECT_EQ(r->body(), R"({"error":"body_too_large","detail":"the body exceeds 1024 bytes"})");
  EXPECT_FALSE(r->keep_alive());
  EXPECT_TRUE(c.wait_closed(5s));
  expect_serving();
}

TEST_F(HttpServerTest, OversizedBodyWithExpectContinueIsRefusedBeforeContinue) {
  start();
  RawClient c(port());
  ASSERT_TRUE(c.send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 2048\r\nExpect: 100-continue\r\n\r\n"));
  const auto r = c.read_reply();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 413U);
}

TEST_F(HttpServerTest, ExpectContinueWithinTheLimitGetsContinue) {
  start();
  RawClient c(port());
  ASSERT_TRUE(c.send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
  const auto go_on = c.read_reply();
  ASSERT_TRUE(go_on.has_value());
  EXPECT_EQ(go_on->result_int(), 100U);
  ASSERT_TRUE(c.send("hello"));
  const auto r = c.read_reply();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200U);
  EXPECT_EQ(r->body(), "hello");
}

TEST_F(HttpServerTest, BodyExactlyAtTheLimitIsAccepted) {
  start();
  RawClient c(port());
  const std::string body(1024, 'b');
  const auto r = c.request("POST", "/echo", body);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200U);
  EXPECT_EQ(r->body(), body);
}

TEST_F(HttpServerTest, ChunkedBodyIsDeliveredWhole) {
  start();
  RawClient c(port());
  ASSERT_TRUE(
      c.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  const auto r = c.read_reply();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body(), "hello world");
}

TEST_F(HttpServerTest, OversizedChunkedBodyIs413) {
  start();
  RawClient c(port());
  std::string raw = "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 8; ++i) raw += "200\r\n" + std::string(512, 'x') + "\r\n";  // 4 KiB
  raw += "0\r\n\r\n";
  ASSERT_TRUE(c.send(raw));
  const auto r = c.read_reply();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 413U);
  EXPECT_NE(r->body().find("body_too_large"), std::string::npos);
  EXPECT_TRUE(c.wait_closed(5s));
  expect_serving();
}

// ---- deadlines ---------------------------------------------------------------------------------

TEST_F(HttpServerTest, ClientTricklingHeadersIsCutOffAtTheHeaderDeadline) {
  auto o = test_options();
  o.header_timeout = 300ms;
  start(o);
  RawClient c(port());
  const auto t0 = Clock::now();
  ASSERT_TRUE(c.send("GET /ok HTTP/1.1\r\nHost: t\r\nX-Pad: "));
  bool closed = false;
  // One byte every 50 ms, for far longer than the deadline: the server must not wait it out.
  while (!closed && Clock::now() - t0 < 10s) {
    if (!c.send("a")) break;
    closed = c.wait_closed(50ms);
  }
  const auto elapsed = Clock::now() - t0;
  EXPECT_LT(elapsed, 300ms + 3s) << "cut off after " << ms_since(t0);
  EXPECT_GE(elapsed, 300ms) << "cut off before its deadline";
  expect_serving();
}

TEST_F(HttpServerTest, SilentNewConnectionIsClosedAtTheHeaderDeadline) {
  auto o = test_options();
  o.header_timeout = 300ms;
  start(o);
  RawClient c(port());
  const auto t0 = Clock::now();
  EXPECT_TRUE(c.wait_closed(300ms + 3s)) << "still open after " << ms_since(t0);
}

TEST_F(HttpServerTest, SlowButTimelyHeadersAreServed) {
  auto o = test_options();
  o.header_timeout = 3s;
  start(o);
  RawClient c(port());
  for (const char* part : {"GET /ok HTTP/1.1\r\n", "Host: t\r\n", "X-A: 1\r\n", "\r\n"}) {
    ASSERT_TRUE(c.send(part));
    std::this_thread::sleep_for(50ms);
  }
  const auto r = c.read_reply();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200U);
}

TEST_F(HttpServerTest, ClientTricklingTheBodyIsCutOffAtTheBodyDeadline) {
  auto o = test_options();
  o.body_timeout = 300ms;
  start(o);
  RawClient c(port());
  ASSERT_TRUE(c.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n"));
  const auto t0 = Clock::now();
  bool closed = false;
  while (!closed && Clock::now() - t0 < 10s) {
    if (!c.send("b")) break;
    closed = c.wait_closed(50ms);
  }
  EXPECT_LT(Clock::now() - t0, 300ms + 3s) << "cut off after " << ms_since(t0);
  expect_serving();
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
  auto o = test_options();
  o.idle_timeout = 300ms;
  start(o);
  RawClient c(port());
  ASSERT_EQ(c.request("GET", "/ok")->result_int(), 200U);
  const auto t0 = Clock::now();
  EXPECT_TRUE(c.wait_closed(300ms + 3s)) << "still open after " << ms_since(t0);
  EXPECT_TRUE(eventually([&] { return server_->connection_count() == 0; }));
}

// ---- connection cap
// ------------------------------------------------------------------------------

TEST_F(HttpServerTest, ConnectionBeyondTheCapGets503WhileOthersKeepWorking) {
  auto o = test_options();
  o.max_connections = 2;
  start(o);
  auto first = std::make_unique<RawClient>(port());
  RawClient second(port());
  ASSERT_EQ(first->request("GET", "/ok")->result_int(), 200U);
  ASSERT_EQ(second.request("GET", "/ok")->result_int(), 200U);
  ASSERT_EQ(server_->connection_count(), 2U);

  RawClient extra(port());
  const auto refused = extra.read_reply();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->result_int(), 503U);
  EXPECT_EQ(refused->body().rfind(R"({"error":"overloaded",)", 0), 0U) << refused->body();
  EXPECT_EQ((*refused)[bhttp::field::retry_after], "1");
  EXPECT_FALSE(refused->keep_alive());
  EXPECT_TRUE(extra.wait_closed(5s));

  EXPECT_EQ(first->request("GET", "/ok")->result_int(), 200U);
  EXPECT_EQ(second.request("GET", "/ok")->result_int(), 200U);

  first.reset();  // frees a slot once the server sees the close
  ASSERT_TRUE(eventually([&] { return server_->connection_count() == 1; }));
  RawClient later(port());
  const auto r = later.request("GET", "/ok");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->result_int(), 200U);
  EXPECT_NE(
      metrics_.render().find(R"(sungrow_http_requests_total{route="overloaded",status="503"} 1)"),
      std::string::npos);
}

// ---- graceful stop
// ---------------------------------------------------------------------------------

TEST_F(HttpServerTest, StopFinishesTheRequestInFlightClosesIdleOnesAndRefusesNewOnes) {
  start();
  const auto listening_port = port();
  RawClient idle(listening_port);
  ASSERT_EQ(idle.request("GET", "/ok")->result_int(), 200U);
  RawClient busy(listening_port);
  ASSERT_TRUE(busy.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(gate_->wait_entered(1, 5s));

  auto stopped = std::async(std::launch::async, [&] { server_->stop(); });
  EXPECT_TRUE(eventually([&] { return RawClient::refused(listening_port); }))
      << "still accepting during stop";
  EXPECT_TRUE(idle.wait_closed(5s)) << "idle keep-alive connection not closed";
  EXPECT_EQ(stopped.wait_for(0ms), std::future_status::timeout) << "stop() did not wait";

  gate_->open();
  const auto r = busy.read_reply();
  ASSERT_TRUE(r.has_value()) << "the request in flight lost its response";
  EXPECT_EQ(r->result_int(), 200U);
  EXPECT_EQ(r->body(), R"({"slow":true})");
  EXPECT_FALSE(r->keep_alive());
  EXPECT_TRUE(busy.wait_closed(5s));
  ASSERT_EQ(stopped.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(RawClient::refused(listening_port));
  server_->stop();  // idempotent
}

TEST_F(HttpServerTest, StopClosesConnectionsStillBusyAfterTheDrainTimeout) {
  auto o = test_options();
  o.drain_timeout = 300ms;
  start(o);
  RawClient busy(port());
  ASSERT_TRUE(busy.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(gate_->wait_entered(1, 5s));
  auto stopped = std::async(std::launch::async, [&] { server_->stop(); });
  const auto t0 = Clock::now();
  EXPECT_TRUE(busy.wait_closed(300ms + 5s)) << "not closed after " << ms_since(t0);
  gate_->open();  // stop() still waits for the handler's thread
  EXPECT_EQ(stopped.wait_for(10s), std::future_status::ready);
}

TEST_F(HttpServerTest, BindFailureIsAnErrorNamingThePort) {
  start();
  auto o = test_options();
  o.port = port();
  const auto second = HttpServer::start(o, Router{}, metrics_);
  ASSERT_FALSE(second.has_value());
  EXPECT_NE(
      second.error().message.find("cannot listen on 127.0.0.1 port " + std::to_string(port())),
      std::string::npos)
      << second.error().message;
  expect_serving();
}

TEST_F(HttpServerTest, InvalidOptionsAreRefused) {
  auto o = test_options();
  o.worker_threads = 0;
  const auto s = HttpServer::start(o, Router{}, metrics_);
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message.find("worker threads"), std::string::npos);
}

// ---- handlers
// ------------------------------------------------------------------------------------------

TEST_F(HttpServerTest, ThrowingHandlerGives500AndTheServerContinues) {
  start();
  RawClient c(port());
  for (const char* target : {"/throw", "/throw-int"}) {
    const auto r = c.request("GET", target);
    ASSERT_TRUE(r.has_value()) << target;
    EXPECT_EQ(r->result_int(), 500U);
    EXPECT_EQ(r->body().rfind(R"({"error":"internal",)", 0), 0U) << r->body();
    EXPECT_EQ(r->body().find("handler bug"), std::string::npos);  // internals stay in the log
  }
  EXPECT_EQ(c.request("GET", "/ok")->result_int(), 200U);
  expect_serving();
}

TEST_F(HttpServerTest, HandlersRunOffTheIoThreads) {
  start();
  const auto io = server_->io_thread_ids();
  ASSERT_EQ(io.size(), 2U);
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<RawClient>(port()));
    for (int k = 0; k < 3; ++k)
      ASSERT_EQ(clients.back()->request("GET", "/thread")->result_int(), 200U);
  }
  std::lock_guard lock(threads_mutex_);
  ASSERT_FALSE(handler_threads_.empty());
  for (const auto& id : handler_threads_) {
    EXPECT_EQ(std::find(io.begin(), io.end(), id), io.end()) << "a handler ran on an I/O thread";
    EXPECT_NE(id, std::this_thread::get_id());
  }
}

// A fast path answers on the I/O thread, so it answers even while every worker is busy; when it
// declines, the handler runs on a worker; when it throws, the reply is a 500.
TEST_F(HttpServerTest, AFastPathAnswersOnTheIoThreadWhileEveryWorkerIsBusy) {
  auto o = test_options();
  o.worker_threads = 1;
  start(o);
  const auto io = server_->io_thread_ids();
  RawClient busy(port());
  ASSERT_TRUE(busy.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(gate_->wait_entered(1, 5s));  // the only worker is parked

  RawClient c(port());
  const auto fast = c.request("GET", "/fast", {}, "X-Fast: yes\r\n");
  ASSERT_TRUE(fast.has_value()) << "the fast path waited for a worker";
  EXPECT_EQ(fast->result_int(), 200U);
  EXPECT_EQ(fast->body(), R"({"by":"fast path"})");
  const auto thrown = c.request("GET", "/fast", {}, "X-Fast: throw\r\n");
  ASSERT_TRUE(thrown.has_value());
  EXPECT_EQ(thrown->result_int(), 500U);

  gate_->open();
  EXPECT_EQ(busy.read_reply()->result_int(), 200U);
  const auto declined = c.request("GET", "/fast");
  ASSERT_TRUE(declined.has_value());
  EXPECT_EQ(declined->body(), R"({"by":"handler"})");

  std::lock_guard lock(threads_mutex_);
  ASSERT_EQ(fast_threads_.size(), 1U);
  EXPECT_NE(std::find(io.begin(), io.end(), *fast_threads_.begin()), io.end());
  ASSERT_EQ(handler_threads_.size(), 1U);
  EXPECT_EQ(std::find(io.begin(), io.end(), *handler_threads_.begin()), io.end());
}

TEST_F(HttpServerTest, SlowHandlerDoesNotBlockOtherConnections) {
  auto o = test_options();
  o.io_threads = 1;
  start(o);
  RawClient busy(port());
  ASSERT_TRUE(busy.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(gate_->wait_entered(1, 5s));
  expect_serving();  // the single I/O thread is free while the handler waits
  gate_->open();
  EXPECT_EQ(busy.read_reply()->result_int(), 200U);
}

// ---- malformed input
// ---------------------------------------------------------------------------------

struct Malformed {
  const char* name;
  std::string raw;
  unsigned status;
};

class MalformedRequestTest : public HttpServerTest,
                             public ::testing::WithParamInterface<Malformed> {};

TEST_P(MalformedRequestTest, GetsAnErrorAndTheServerSurvives) {
  start();
  {
    RawClient c(port());
    ASSERT_TRUE(c.send(GetParam().raw));
    const auto r = c.read_reply();
    ASSERT_TRUE(r.has_value()) << "no reply";
    EXPECT_EQ(r->result_int(), GetParam().status);
    EXPECT_EQ(r->body().rfind(R"({"error":")", 0), 0U) << r->body();
    EXPECT_FALSE(r->keep_alive());
    EXPECT_TRUE(c.wait_closed(5s));
  }
  expect_serving();
}

INSTANTIATE_TEST_SUITE_P(
    Inputs, MalformedRequestTest,
    ::testing::Values(
        Malformed{"Garbage", "GARBAGE\r\n\r\n", 400},
        Malformed{"ExtraToken", "GET /ok HTTP/1.1 extra\r\nHost: t\r\n\r\n", 400},
        Malformed{"Http09", "GET /ok\r\n\r\n", 400},
        Malformed{"Http20", "GET /ok HTTP/2.0\r\nHost: t\r\n\r\n", 400},
        Malformed{"Http12", "GET /ok HTTP/1.2\r\nHost: t\r\n\r\n", 400},
        Malformed{"FieldWithoutColon", "GET /ok HTTP/1.1\r\nHost t\r\n\r\n", 400},
        Malformed{"NulInValue", std::string("GET /ok HTTP/1.1\r\nX: a\0b\r\n\r\n", 28), 400},
        Malformed{"SpaceInTarget", "GET /o k HTTP/1.1\r\nHost: t\r\n\r\n", 400},
        Malformed{"BadContentLength", "POST /echo HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400},
        Malformed{"NegativeContentLength", "POST /echo HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                  400},
        Malformed{"TwoContentLengths",
                  "POST /echo HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
                  400},
        Malformed{"LengthAndChunked",
                  "POST /echo HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                  400},
        Malformed{"GzipTransferEncoding", "POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
                  400},
        Malformed{"NoHostInHttp11", "GET /ok HTTP/1.1\r\n\r\n", 400},
        Malformed{"TwoHosts", "GET /ok HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        Malformed{"GzipThenChunked",
                  "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                  501},
        Malformed{"ChunkedInHttp10",
                  "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        Malformed{"AuthorityFormTarget", "CONNECT example.org:443 HTTP/1.1\r\nHost: t\r\n\r\n",
                  400},
        Malformed{"BadChunkSize",
                  "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n", 400},
        Malformed{"TlsClientHello", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),
                  400},
        Malformed{"HeadersTooLarge",
                  "GET /ok HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(10000, 'a') + "\r\n\r\n",
                  431},
        Malformed{"TooManySmallHeaders",
                  [] {
                    std::string raw = "GET /ok HTTP/1.1\r\n";
                    for (int i = 0; i < 2000; ++i) raw += "X: y\r\n";
                    return raw + "\r\n";
                  }(),
                  431}),
    [](const ::testing::TestParamInfo<Malformed>& p) { return std::string(p.param.name); });

// ---- metrics and the access log
// --------------------------------------------------------------------

TEST_F(HttpServerTest, EveryRequestIsObservedUnderItsRouteName) {
  start();
  RawClient c(port());
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(c.request("GET", "/ok?i=" + std::to_string(i))->result_int(), 200U);
  ASSERT_EQ(c.request("POST", "/echo", "x")->result_int(), 200U);
  ASSERT_EQ(c.request("GET", "/scanner/probe-1")->result_int(), 404U);
  ASSERT_EQ(c.request("GET", "/scanner/probe-2")->result_int(), 404U);
  ASSERT_EQ(c.request("DELETE", "/ok")->result_int(), 405U);
  ASSERT_EQ(c.request("GET", "/throw")->result_int(), 500U);
  {
    RawClient bad(port());
    ASSERT_TRUE(bad.send("NOT HTTP\r\n\r\n"));
    ASSERT_EQ(bad.read_reply()->result_int(), 400U);
  }
  const std::vector<std::string> expected{
      R"(sungrow_http_requests_total{route="/ok",status="200"} 3)",
      R"(sungrow_http_requests_total{route="echo",status="200"} 1)",
      R"(sungrow_http_requests_total{route="unmatched",status="404"} 2)",
      R"(sungrow_http_requests_total{route="/ok",status="405"} 1)",
      R"(sungrow_http_requests_total{route="/throw",status="500"} 1)",
      R"(sungrow_http_requests_total{route="invalid",status="400"} 1)",
      R"(sungrow_http_request_duration_seconds_count{route="/ok"} 4)"};
  // Observed right after the reply is written, so possibly just after the client read it.
  EXPECT_TRUE(eventually([&] {
    const std::string text = metrics_.render();
    return std::all_of(expected.begin(), expected.end(), [&](const std::string& line) {
      return text.find(line) != std::string::npos;
    });
  })) << metrics_.render();
  EXPECT_EQ(metrics_.render().find("probe"), std::string::npos);  // raw paths never become labels
}

TEST_F(HttpServerTest, AccessLogHasOneLinePerRequestAndNoCredentials) {
  std::ostringstream captured;
  const auto previous = spdlog::default_logger();
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(captured);
  sink->set_pattern("%v");
  // Swapped only while no server runs: the default logger is read without a lock.
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  start();
  {
    RawClient c(port());
    const auto r = c.request("GET", "/ok?token=query-secret-123", {},
                             "Authorization: Bearer header-secret-456\r\nX-Api-Key: key-789\r\n");
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(c.request("GET", "/nope")->result_int(), 404U);
  }
  server_.reset();
  spdlog::set_default_logger(previous);

  const std::string log = captured.str();
  EXPECT_NE(log.find(R"("GET /ok" 200 11B )"), std::string::npos) << log;
  EXPECT_NE(log.find("route=/ok\n"), std::string::npos) << log;
  EXPECT_NE(log.find(R"("GET /nope" 404 )"), std::string::npos) << log;
  EXPECT_NE(log.find("127.0.0.1:"), std::string::npos) << log;
  for (const char* secret : {"query-secret-123", "header-secret-456", "key-789", "Bearer"}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << secret << " leaked into:\n" << log;
  }
}

}  // namespace
}  // namespace sungrow::http
