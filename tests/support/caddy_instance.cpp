// CaddyInstance: config, spawn, readiness (a verified HTTPS request), stop and restart.
#include "caddy_instance.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "free_port.hpp"
#include "http_client.hpp"

namespace sungrow::test {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kCaddy = "/usr/bin/caddy";

}  // namespace

CaddyInstance::CaddyInstance(std::string upstream, fs::path site_file)
    : upstream_(std::move(upstream)) {
  if (!fs::exists(kCaddy))
    throw std::runtime_error(
        "caddy not found at /usr/bin/caddy: install the Debian package caddy "
        "(scripts/install-deps)");
  dir_ = make_temp_dir("sgcaddy");
  port_ = free_loopback_port();
  http_port_ = free_loopback_port();
  // No admin endpoint (nothing else may reconfigure it), no system trust store changes, no
  // redirect listener; the site block matches deploy/vps/Caddyfile's proxy, or is that file.
  std::string site;
  if (site_file.empty()) {
    site = fmt::format("https://localhost:{} {{\n\ttls internal\n\treverse_proxy {}\n}}\n", port_,
                       upstream_);
  } else {
    site = "import " + site_file.string() + "\n";
    site_env_ = {fmt::format("SUNGROW_DOMAIN=https://localhost:{}", port_),
                 "SUNGROW_UPSTREAM=" + upstream_};
  }
  std::ofstream(dir_ / "Caddyfile") << fmt::format(
                                           "{{\n"
                                           "\tadmin off\n"
                                           "\tskip_install_trust\n"
                                           "\thttp_port {}\n"
                                           "\thttps_port {}\n"
                                           "\tauto_https disable_redirects\n"
                                           "}}\n",
                                           http_port_, port_)
                                    << site;
  start();
}

CaddyInstance::~CaddyInstance() {
  process_.reset();  // SIGKILL + reap
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

std::string CaddyInstance::url(std::string_view path) const {
  return fmt::format("https://localhost:{}{}", port_, path);
}

fs::path CaddyInstance::root_ca() const {
  return dir_ / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt";
}

std::vector<std::string> CaddyInstance::environment() const {
  std::vector<std::string> env{"XDG_DATA_HOME=" + (dir_ / "data").string(),
                               "XDG_CONFIG_HOME=" + (dir_ / "config").string(),
                               "HOME=" + dir_.string()};
  env.insert(env.end(), site_env_.begin(), site_env_.end());
  return env;
}

void CaddyInstance::start() {
  if (process_) return;
  // Caddy 2.6 cleans its storage at start-up while it issues the first certificate; now and
  // then it deletes the certificate's folder while the new key file is still empty ("because key
  // is empty"), and the issuance then waits 60 s before it tries again. Such a start is abandoned
  // and made again (the race is Caddy's and rare; the issuance itself is not under test).
  constexpr int kAttempts = 3;
  for (int attempt = 1;; ++attempt) {
    const auto log_before = read_text_file(log_path()).size();
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kCaddy, "run", "--config", (dir_ / "Caddyfile").string(),
                                 "--adapter", "caddyfile"},
        log_path(), environment());
    // Ready when a request verified against Caddy's own root gets any HTTP answer (502 is fine:
    // the upstream may not be up yet).
    bool issuance_postponed = false;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    while (std::chrono::steady_clock::now() < deadline && !issuance_postponed) {
      if (!process_->running()) break;
      if (fs::exists(root_ca())) {
        HttpRequest probe;
        probe.url = url("/health");
        probe.ca_file = root_ca().string();
        probe.timeout = 2s;
        if (http_call(probe).status != 0) return;
      }
      issuance_postponed =
          read_text_file(log_path())
              .substr(log_before)
              .find(R"("logger":"tls.obtain","msg":"will retry")") != std::string::npos;
      if (!issuance_postponed) std::this_thread::sleep_for(100ms);
    }
    process_.reset();
    if (issuance_postponed && attempt < kAttempts) continue;
    throw std::runtime_error("caddy did not come up on port " + std::to_string(port_) + ":\n" +
                             read_text_file(log_path()));
  }
}

void CaddyInstance::stop() {
  if (!process_) return;
  process_->terminate(10s);
  process_.reset();
}

}  // namespace sungrow::test
