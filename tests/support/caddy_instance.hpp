// Caddy as the TLS-terminating reverse proxy of end-to-end tests: `tls internal`, throwaway dirs.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "child_process.hpp"

namespace sungrow::test {

// Serves https://localhost:<port> with a certificate from Caddy's own local CA and proxies every
// request to `upstream` ("127.0.0.1:8123"), as deploy/vps/Caddyfile does in production. The
// process runs with XDG_DATA_HOME in a temp directory, so its CA is new per instance and never
// installed into the system trust store: clients trust it through root_ca() only.
class CaddyInstance {
 public:
  // Starts /usr/bin/caddy and waits until a TLS handshake verified against root_ca() succeeds.
  // Throws std::runtime_error with Caddy's log when it does not come up. With `site_file` (the
  // shipped deploy/vps/Caddyfile), the site is that file itself, imported with SUNGROW_DOMAIN and
  // SUNGROW_UPSTREAM set, instead of the plain proxy.
  explicit CaddyInstance(std::string upstream, std::filesystem::path site_file = {});
  CaddyInstance(const CaddyInstance&) = delete;
  CaddyInstance& operator=(const CaddyInstance&) = delete;
  ~CaddyInstance();  // kills Caddy and removes the directory

  std::uint16_t port() const { return port_; }
  std::string url(std::string_view path) const;  // https://localhost:<port><path>
  std::filesystem::path root_ca() const;         // the PEM of Caddy's local root CA
  std::filesystem::path log_path() const { return dir_ / "caddy.log"; }

  void stop();   // SIGTERM, waits for the exit: the edge sees connection refused
  void start();  // again on the same port with the same CA
  bool running() const { return process_ != nullptr; }

 private:
  std::vector<std::string> environment() const;

  std::string upstream_;
  std::vector<std::string> site_env_;
  std::filesystem::path dir_;
  std::uint16_t port_ = 0;
  std::uint16_t http_port_ = 0;
  std::unique_ptr<ChildProcess> process_;
};

}  // namespace sungrow::test
