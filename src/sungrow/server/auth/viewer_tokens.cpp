// Reloading VIEWER_TOKENS_FILE when its modification time changes.
#include "sungrow/server/auth/viewer_tokens.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "sungrow/core/logger.hpp"

namespace sungrow::auth {

ViewerTokens::ViewerTokens(std::filesystem::path path, std::chrono::milliseconds check_every)
    : path_(std::move(path)), check_every_(check_every) {}

Result<void> ViewerTokens::reload() {
  if (path_.empty()) return {};
  std::error_code ec;
  const auto mtime = std::filesystem::last_write_time(path_, ec);
  auto loaded = load_viewer_tokens_file(path_);
  std::lock_guard lock(mutex_);
  checked_at_ = std::chrono::steady_clock::now();
  loaded_mtime_ = ec ? std::filesystem::file_time_type{} : mtime;
  if (!loaded) {
    std::string all;
    for (const auto& e : loaded.error()) all += (all.empty() ? "" : "; ") + e.message;
    return fail(all);
  }
  table_ = std::make_shared<const TokenTable>(std::move(loaded).value());
  return {};
}

std::shared_ptr<const TokenTable> ViewerTokens::current() {
  if (path_.empty()) return table_;
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (now - checked_at_ < check_every_) return table_;
    checked_at_ = now;
    std::error_code ec;
    const auto mtime = std::filesystem::last_write_time(path_, ec);
    if (!ec && mtime == loaded_mtime_) return table_;
  }
  if (auto reloaded = reload(); !reloaded) {
    component_logger("auth").error(
        "VIEWER_TOKENS_FILE {}: {}; the viewers read before stay in force", path_.string(),
        reloaded.error().message);
  } else {
    component_logger("auth").info("VIEWER_TOKENS_FILE {} read again: {} viewer token(s)",
                                  path_.string(), table_->size());
  }
  std::lock_guard lock(mutex_);
  return table_;
}

}  // namespace sungrow::auth
