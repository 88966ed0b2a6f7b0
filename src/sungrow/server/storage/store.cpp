// What every SampleStore shares: counting skipped rows, and the check that a stored row can be
// served.
#include "sungrow/server/storage/store.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <chrono>

#include "sungrow/core/logger.hpp"

namespace sungrow::storage {

namespace {
spdlog::logger& log() {
  return component_logger("store");
}
}  // namespace

void SampleStore::skip_row(std::string_view device_id, std::string_view why) {
  skipped_rows_.fetch_add(1);
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
  auto last = last_skip_log_s_.load();
  if ((last == 0 || now - last >= 60) && last_skip_log_s_.compare_exchange_strong(last, now)) {
    log().warn(
        "store: skipped a stored sample of device {} that cannot be served ({}); {} "
        "skipped since start",
        device_id, why, skipped_rows_.load());
  }
}

Result<Sample> servable(Sample sample) {
  if (!is_rfc3339_year(sample.ts)) return fail("its ts lies outside the years 0000..9999");
  return sample;
}

}  // namespace sungrow::storage
