// sungrow-server's commands over a validated config: serve until SIGTERM, and migrate.
#pragma once

#include "sungrow/server/app/config.hpp"

namespace sungrow::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;  // a runtime failure (store unreachable, bind failed)
inline constexpr int kExitUsage = 2;    // a configuration problem

// Opens the store (migrating it), the cache and the token table, serves the API until SIGINT or
// SIGTERM, then shuts down gracefully. Prints "sungrow-server listening on ADDR:PORT" once
// ready. SIGINT and SIGTERM must be blocked in every thread before this is called (main does it).
int serve(const ServerConfig& config);

// Applies pending migrations and prints the schema version.
int migrate(const ServerConfig& config);

}  // namespace sungrow::app
