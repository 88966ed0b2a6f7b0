// Test builds only: the store decorator behind SUNGROW_TEST_STORE_FAULT (see fault_store.hpp).
#include "sungrow/server/app/fault_store.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <charconv>
#include <csignal>

#include "sungrow/core/logger.hpp"

namespace sungrow::app {

namespace {
spdlog::logger& log() {
  return component_logger("test-fault");
}
}  // namespace

namespace {

class FaultyStore final : public storage::SampleStore {
 public:
  FaultyStore(std::unique_ptr<storage::SampleStore> inner, StoreFault fault)
      : inner_(std::move(inner)), fault_(fault) {}

  storage::StoreResult<void> migrate() override { return inner_->migrate(); }

  storage::StoreResult<storage::WriteOutcome> insert_batch(
      std::span<const Sample> samples) override {
    if (fault_.kind == StoreFault::Kind::ack_without_commit && !samples.empty() &&
        ++batches_ % fault_.every == 0) {
      std::string seqs;
      for (const auto& s : samples) seqs += fmt::format("{}{}", seqs.empty() ? "" : ",", s.seq);
      log().warn("acked without storing device={} seqs={}", samples[0].device_id, seqs);
      const auto n = static_cast<std::int64_t>(samples.size());
      return storage::WriteOutcome{.received = n, .inserted = n};
    }
    auto written = inner_->insert_batch(samples);
    if (fault_.kind == StoreFault::Kind::kill_after_commit && written &&
        written.value().inserted > 0 && ++batches_ % fault_.every == 0) {
      log().warn("SIGKILL after committing {} samples", written.value().inserted);
      spdlog::default_logger()->flush();
      std::raise(SIGKILL);
    }
    return written;
  }

  using SampleStore::latest;
  storage::StoreResult<std::optional<Sample>> latest(std::string_view device_id,
                                                     Timestamp not_after) override {
    return inner_->latest(device_id, not_after);
  }
  storage::StoreResult<std::vector<rollup::BaseBucket>> base_buckets(std::string_view device_id,
                                                                     Timestamp from,
                                                                     Timestamp to) override {
    return inner_->base_buckets(device_id, from, to);
  }
  storage::StoreResult<std::vector<rollup::Span>> series_spans(
      std::string_view device_id, std::span<const rollup::BucketRange> ranges) override {
    return inner_->series_spans(device_id, ranges);
  }
  storage::StoreResult<void> ping() override { return inner_->ping(); }
  std::int64_t skipped_rows() const override { return inner_->skipped_rows(); }

 private:
  std::unique_ptr<storage::SampleStore> inner_;
  StoreFault fault_;
  std::atomic<std::uint64_t> batches_{0};
};

}  // namespace

Result<StoreFault> parse_store_fault(std::string_view text) {
  const auto colon = text.find(':');
  const auto name = text.substr(0, colon);
  StoreFault fault;
  if (name == "kill_after_commit") {
    fault.kind = StoreFault::Kind::kill_after_commit;
  } else if (name == "ack_without_commit") {
    fault.kind = StoreFault::Kind::ack_without_commit;
  } else {
    return fail("SUNGROW_TEST_STORE_FAULT: expected kill_after_commit:N or ack_without_commit:N");
  }
  const auto number = colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), fault.every);
  if (number.empty() || ec != std::errc{} || end != number.data() + number.size() ||
      fault.every == 0)
    return fail("SUNGROW_TEST_STORE_FAULT: N must be a whole number >= 1");
  return fault;
}

std::unique_ptr<storage::SampleStore> with_store_fault(std::unique_ptr<storage::SampleStore> inner,
                                                       StoreFault fault) {
  return std::make_unique<FaultyStore>(std::move(inner), fault);
}

}  // namespace sungrow::app
