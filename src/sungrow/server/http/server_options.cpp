// Start-up checks of ServerOptions: one message per problem, naming the setting.
#include "sungrow/server/http/server_options.hpp"

#include <boost/asio/ip/address.hpp>

#include "sungrow/server/http/client_address.hpp"

namespace sungrow::http {

std::vector<Error> problems(const ServerOptions& options) {
  std::vector<Error> out;
  boost::system::error_code ec;
  boost::asio::ip::make_address(options.listen_address, ec);
  if (ec) {
    out.push_back(
        fail("listen address '" + options.listen_address + "' is not an IPv4 or IPv6 address"));
  }
  if (options.io_threads == 0) out.push_back(fail("I/O threads must be at least 1"));
  if (options.worker_threads == 0) out.push_back(fail("worker threads must be at least 1"));
  if (options.max_body_bytes == 0) out.push_back(fail("the body limit must be at least 1 byte"));
  if (options.max_header_bytes < 1024) {
    out.push_back(fail("the header limit must be at least 1024 bytes"));
  }
  if (options.max_connections == 0) out.push_back(fail("max connections must be at least 1"));
  if (options.max_body_bytes_in_flight < options.max_body_bytes) {
    out.push_back(fail("the budget for bodies in flight must hold at least one largest body"));
  }
  if (auto proxies = TrustedProxies::parse(options.trusted_proxies); !proxies) {
    out.push_back(fail("trusted proxies: " + proxies.error().message));
  }
  const auto positive = [&](std::chrono::milliseconds value, const char* name) {
    if (value.count() <= 0) out.push_back(fail(std::string(name) + " must be positive"));
  };
  positive(options.header_timeout, "the header timeout");
  positive(options.body_timeout, "the body timeout");
  positive(options.write_timeout, "the write timeout");
  positive(options.idle_timeout, "the idle timeout");
  if (options.drain_timeout.count() < 0)
    out.push_back(fail("the drain timeout must not be negative"));
  return out;
}

}  // namespace sungrow::http
