// The dashboard's routes: the single-page app and its assets, embedded or from a directory.
#pragma once

#include <string>

#include "sungrow/core/result.hpp"
#include "sungrow/server/http/router.hpp"

namespace sungrow::web {

struct WebOptions {
  // Empty: serve the assets built into the binary (content-hashed, cached immutable, gzip).
  // A directory (the output of `node web/build.mjs --dev`): serve its files as they are on disk at
  // each request, never cached, so a rebuild shows on reload. The set of paths is the files
  // present when the routes are added: a build that adds a file needs a restart.
  std::string web_root;
};

// Why `options` cannot be served (a web root that is no directory or has no index.html), for the
// configuration check at start-up; empty when it can.
Result<void> check_web_options(const WebOptions& options);

// Registers GET and HEAD for "/" (index.html) and one exact path per asset ("/assets/app-….js").
// Throws std::invalid_argument when check_web_options fails or a path is already routed: both
// are start-up mistakes, not runtime conditions.
void add_web_routes(http::Router& router, const WebOptions& options);

}  // namespace sungrow::web
