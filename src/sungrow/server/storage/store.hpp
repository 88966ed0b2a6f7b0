// SampleStore: the one storage interface the SQLite and PostgreSQL stores both implement.
#pragma once

#include <atomic>
#include <boost/system/result.hpp>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sungrow/core/result.hpp"
#include "sungrow/core/sample.hpp"
#include "sungrow/core/time.hpp"
#include "sungrow/server/rollup/base_bucket.hpp"
#include "sungrow/server/rollup/frames.hpp"
#include "sungrow/server/rollup/span.hpp"

namespace sungrow::storage {

// What the HTTP layer needs to pick a status: `unavailable` is transient (busy, I/O error, disk
// full, connection lost → 503, the client retries); `rejected` is the input's fault (a constraint
// → 4xx); `internal` is everything else (corrupt row, bug → 500).
enum class StoreErrorKind { unavailable, rejected, internal };

struct StoreError {
  // A constructor, not an aggregate, so StoreResult<T> is never ambiguous between value and error.
  StoreError() = default;
  StoreError(StoreErrorKind error_kind, std::string text)
      : kind(error_kind), message(std::move(text)) {}
  StoreErrorKind kind = StoreErrorKind::internal;
  std::string message;
};

// Found by ADL when StoreResult<T>::value() is called on an error.
[[noreturn]] inline void throw_exception_from_error(const StoreError& e,
                                                    const boost::source_location&) {
  throw ErrorException(Error{e.message});
}

// For callers that only log or print (the CLI's `migrate`): the project-wide error type.
inline Error to_error(const StoreError& e) {
  return Error{e.message};
}

template <class T>
using StoreResult = boost::system::result<T, StoreError>;

struct WriteOutcome {
  std::int64_t received = 0;
  std::int64_t inserted =
      0;  // received minus duplicates of (device_id, ts), in the batch or stored

  bool operator==(const WriteOutcome&) const = default;
};

// Every implementation passes the same test suite. Samples must be valid (ingest validates them:
// device_id pattern, finite numbers); the store still binds every value as a parameter, so a
// hostile device_id is stored and matched verbatim, never interpreted as SQL.
class SampleStore {
 public:
  SampleStore() = default;
  SampleStore(const SampleStore&) = delete;
  SampleStore& operator=(const SampleStore&) = delete;
  virtual ~SampleStore() = default;

  // Applies every pending versioned migration in order, each recorded in schema_migrations; a
  // no-op when up to date, safe when several processes start at once. Call before anything else.
  virtual StoreResult<void> migrate() = 0;

  // Atomic per batch: either every new sample and its bucket updates commit, or nothing does.
  // A sample whose (device_id, ts) is already stored, or repeated earlier in the batch, is
  // ignored (the first one wins, even if its values differ). The 5-minute base buckets are
  // updated in the same transaction from the rows actually inserted, so a replay changes nothing
  // and late or out-of-order samples land in their bucket exactly as if they had come in order.
  virtual StoreResult<WriteOutcome> insert_batch(std::span<const Sample> samples) = 0;

  // The sample with the greatest ts <= not_after for the device; nullopt before any data. A row
  // that does not decode to a valid sample (left by an older, laxer server, or damaged) is skipped
  // and counted (skipped_rows), so one bad row never makes a device unreadable; only when all of
  // the newest kLatestCandidates rows are bad is the answer nullopt.
  virtual StoreResult<std::optional<Sample>> latest(std::string_view device_id,
                                                    Timestamp not_after) = 0;
  // latest() without an upper bound.
  StoreResult<std::optional<Sample>> latest(std::string_view device_id) {
    return latest(device_id, kLatestRfc3339Ts);
  }

  // The base buckets of the device with start in [from, to), ordered by start, PRECEDED by the
  // last bucket starting before `from` when one exists (it seeds each counter's carry, see
  // rollup::aggregate_series, which skips it for output). So the first element may lie before
  // `from`; callers pass the whole vector to aggregate_series unchanged. An empty range (to <=
  // from) yields at most that preceding bucket. Buckets without samples are never stored.
  virtual StoreResult<std::vector<rollup::BaseBucket>> base_buckets(std::string_view device_id,
                                                                    Timestamp from,
                                                                    Timestamp to) = 0;

  // What a series over `ranges` (consecutive frame buckets, rollup::buckets) reads: the pieces of
  // rollup::plan_spans — precomputed UTC day and hour spans lying wholly inside one range, base
  // buckets (as 5-minute spans) at the edges — ordered by start and PRECEDED, like base_buckets,
  // by the last base bucket starting before the first range. Pass the whole vector to
  // rollup::aggregate_spans; the result equals aggregate_series over base_buckets. Hour and day
  // spans are maintained by insert_batch in the same transaction as the base buckets they
  // summarise, so they are never stale. A stored piece that does not decode is left out and counted
  // (skipped_rows), never an error: the series answers, without that part.
  virtual StoreResult<std::vector<rollup::Span>> series_spans(
      std::string_view device_id, std::span<const rollup::BucketRange> ranges) = 0;

  // Health: succeeds when the store answers a query that reaches its storage.
  virtual StoreResult<void> ping() = 0;

  // Stored rows a read skipped because they did not decode, since start: samples (see latest),
  // and base buckets or spans a series read left out (the series then lacks their part).
  virtual std::int64_t skipped_rows() const { return skipped_rows_.load(); }

  // How many of a device's newest rows latest() looks at before giving up.
  static constexpr int kLatestCandidates = 16;

 protected:
  // Counts a skipped row and logs it (at most once a minute per store: a bad row that realtime
  // reads on every request must not flood the log).
  void skip_row(std::string_view device_id, std::string_view why);

 private:
  std::atomic<std::int64_t> skipped_rows_{0};
  std::atomic<std::int64_t> last_skip_log_s_{0};
};

// The sample of a stored row if it can be served: its ts has a four-digit UTC year, so RFC 3339
// can write it (a value outside a physical range is served as stored: ingest refuses new ones).
Result<Sample> servable(Sample sample);

}  // namespace sungrow::storage
