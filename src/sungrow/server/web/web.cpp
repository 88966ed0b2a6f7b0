// The dashboard's routes: one exact GET and HEAD route per file, embedded or in a web root.
#include "sungrow/server/web/web.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <vector>

#include "sungrow/server/web/embedded_assets.hpp"
#include "sungrow/server/web/static_response.hpp"

namespace sungrow::web {

namespace {

namespace fs = std::filesystem;

// Route names for metrics and the access log: two labels however many hashed files a build has.
constexpr std::string_view kPageRoute = "/";
constexpr std::string_view kAssetRoute = "/assets";

void add_get_and_head(http::Router& router, const std::string& path, const http::Handler& handler) {
  const std::string name(path == "/" ? kPageRoute : kAssetRoute);
  for (const char* method : {"GET", "HEAD"}) {
    router.add(method, path, handler,
               http::RouteOptions{.name = name, .takes_body = false, .guard = {}, .fast_path = {}});
  }
}

void add_embedded_routes(http::Router& router) {
  for (const EmbeddedAsset& asset : embedded_assets()) {
    const StaticFile file{.content_type = asset.content_type,
                          .body = asset.body,
                          .gzip = asset.gzip,
                          .hash = asset.hash,
                          .caching = asset.immutable ? Caching::immutable : Caching::revalidate};
    add_get_and_head(router, std::string(asset.path), [file](const http::Request& request) {
      return static_response(file, request);
    });
  }
}

std::optional<std::string> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return std::move(bytes).str();
}

// Characters a URL path may carry without percent-encoding, so the route matches the request's
// path as the browser sends it.
bool plain_path(std::string_view path) {
  return path.find_first_not_of(
             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
             "._-/") == std::string_view::npos;
}

// Regular files under `root`, as URL paths; hidden files (the build's manifest) and the
// precompressed copies are left out: development serves what is on disk, uncompressed.
std::vector<std::pair<std::string, fs::path>> web_root_files(const fs::path& root) {
  std::vector<std::pair<std::string, fs::path>> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (!entry.is_regular_file()) continue;
    const std::string relative = entry.path().lexically_relative(root).generic_string();
    const bool hidden = relative.starts_with('.') || relative.find("/.") != std::string::npos;
    if (hidden || relative.ends_with(".gz") || !plain_path(relative)) continue;
    files.emplace_back(relative == "index.html" ? "/" : "/" + relative, entry.path());
  }
  return files;
}

void add_web_root_routes(http::Router& router, const fs::path& root) {
  for (const auto& entry : web_root_files(root)) {
    const fs::path file_path = entry.second;
    add_get_and_head(router, entry.first, [file_path](const http::Request& request) {
      const auto bytes = read_file(file_path);
      if (!bytes) return http::error_response(404, "not_found", "no such file in the web root");
      const StaticFile file{.content_type = content_type_for(file_path.filename().string()),
                            .body = *bytes,
                            .gzip = {},
                            .hash = {},
                            .caching = Caching::none};
      return static_response(file, request);
    });
  }
}

}  // namespace

Result<void> check_web_options(const WebOptions& options) {
  if (options.web_root.empty()) return {};
  std::error_code ec;
  if (!fs::is_directory(options.web_root, ec)) {
    return fail(fmt::format("web root {} is not a directory", options.web_root));
  }
  if (!fs::is_regular_file(fs::path(options.web_root) / "index.html", ec)) {
    return fail(
        fmt::format("web root {} has no index.html (build it with: node web/build.mjs "
                    "--dev --outdir {})",
                    options.web_root, options.web_root));
  }
  return {};
}

void add_web_routes(http::Router& router, const WebOptions& options) {
  if (const auto ok = check_web_options(options); !ok) {
    throw std::invalid_argument(ok.error().message);
  }
  if (options.web_root.empty()) {
    add_embedded_routes(router);
  } else {
    add_web_root_routes(router, options.web_root);
  }
}

}  // namespace sungrow::web
