// HttpServer round trips over loopback: keep-alive GETs of a trivial handler on one connection,
// and new-connection-per-request, so transport overhead is visible apart from any handler.
#include <benchmark/benchmark.h>
#include <spdlog/spdlog.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <memory>
#include <stdexcept>

#include "sungrow/server/http/server.hpp"
#include "sungrow/server/metrics/metrics.hpp"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using namespace sungrow;

struct Fixture {
  metrics::Metrics metrics;
  std::unique_ptr<http::HttpServer> server;

  explicit Fixture(std::size_t io_threads) {
    spdlog::set_level(spdlog::level::warn);  // no access log lines in the measurement
    http::Router router;
    router.add("GET", "/ok",
               [](const http::Request&) { return http::json_response(R"({"ok":true})"); });
    http::ServerOptions o;
    o.listen_address = "127.0.0.1";
    o.port = 0;
    o.io_threads = io_threads;
    auto started = http::HttpServer::start(o, std::move(router), metrics);
    if (!started) throw std::runtime_error(started.error().message);
    server = std::move(*started);
  }
};

bhttp::request<bhttp::string_body> get_ok(bool keep_alive) {
  bhttp::request<bhttp::string_body> req{bhttp::verb::get, "/ok", 11};
  req.set(bhttp::field::host, "bench");
  req.keep_alive(keep_alive);
  return req;
}

void round_trip(tcp::socket& socket, beast::flat_buffer& buffer,
                const bhttp::request<bhttp::string_body>& req, benchmark::State& state) {
  bhttp::write(socket, req);
  bhttp::response<bhttp::string_body> res;
  bhttp::read(socket, buffer, res);
  if (res.result_int() != 200) state.SkipWithError("unexpected status");
}

void BM_KeepAliveGet(benchmark::State& state) {
  Fixture f(static_cast<std::size_t>(state.range(0)));
  asio::io_context ioc;
  tcp::socket socket(ioc);
  socket.connect({asio::ip::make_address("127.0.0.1"), f.server->port()});
  socket.set_option(tcp::no_delay(true));
  beast::flat_buffer buffer;
  const auto req = get_ok(true);
  for (auto _ : state) round_trip(socket, buffer, req, state);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_KeepAliveGet)->Arg(1)->Arg(2)->UseRealTime();

void BM_ConnectionPerGet(benchmark::State& state) {
  Fixture f(1);
  asio::io_context ioc;
  const tcp::endpoint ep{asio::ip::make_address("127.0.0.1"), f.server->port()};
  const auto req = get_ok(false);
  for (auto _ : state) {
    tcp::socket socket(ioc);
    socket.connect(ep);
    beast::flat_buffer buffer;
    round_trip(socket, buffer, req, state);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ConnectionPerGet)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
