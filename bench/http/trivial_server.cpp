// A server with one trivial route (GET /ok) for load generators such as wrk (see wrk.sh).
#include <spdlog/spdlog.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "sungrow/server/http/server.hpp"
#include "sungrow/server/metrics/metrics.hpp"

int main(int argc, char** argv) {
  using namespace sungrow;
  // Block the stop signals before any thread starts, so only sigwait below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  spdlog::set_level(spdlog::level::warn);
  http::ServerOptions o;
  o.listen_address = "127.0.0.1";
  o.port = static_cast<std::uint16_t>(argc > 1 ? std::atoi(argv[1]) : 0);
  if (argc > 2) o.io_threads = static_cast<std::size_t>(std::atoi(argv[2]));
  http::Router router;
  router.add("GET", "/ok",
             [](const http::Request&) { return http::json_response(R"({"ok":true})"); });
  metrics::Metrics metrics;
  auto server = http::HttpServer::start(o, std::move(router), metrics);
  if (!server) {
    std::fprintf(stderr, "%s\n", server.error().message.c_str());
    return 1;
  }
  std::printf("%u\n", static_cast<unsigned>((*server)->port()));
  std::fflush(stdout);
  int received = 0;
  sigwait(&signals, &received);
  (*server)->stop();
  return 0;
}
