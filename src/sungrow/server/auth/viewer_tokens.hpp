// ViewerTokens: VIEWER_TOKENS_FILE as the server sees it now — read again when the file changes,
// so a new or revoked viewer takes effect without a restart.
#pragma once

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>

#include "sungrow/server/auth/tokens.hpp"

namespace sungrow::auth {

// Thread-safe. A file that turns unreadable or malformed leaves the last good table in force (one
// log line per change), so a half-written edit never locks every viewer out.
class ViewerTokens {
 public:
  // An empty path: no viewers (the dashboard signs nobody in).
  explicit ViewerTokens(std::filesystem::path path,
                        std::chrono::milliseconds check_every = std::chrono::seconds(1));

  // The table in force; looks at the file's modification time at most once per check interval.
  std::shared_ptr<const TokenTable> current();

  // Reads the file now; the problems when it cannot be used (the table in force stays).
  Result<void> reload();

 private:
  std::filesystem::path path_;
  std::chrono::milliseconds check_every_;
  std::mutex mutex_;
  std::shared_ptr<const TokenTable> table_ = std::make_shared<const TokenTable>();
  std::filesystem::file_time_type loaded_mtime_{};
  std::chrono::steady_clock::time_point checked_at_{};
};

}  // namespace sungrow::auth
