// The PostgreSQL SampleStore: a connection pool, real columns, base buckets merged in C++.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "sungrow/server/storage/session_store.hpp"
#include "sungrow/server/storage/store.hpp"

namespace sungrow::storage {

// How insert_batch ships rows to the server. Both paths pass the same contract suite; the
// benchmark (bench/storage) measures them in the same run. Measured: unnest wins for the small
// batches of normal pace (one round trip, no COPY protocol), COPY wins for the large catch-up
// batches (no array parsing, no conflict check per row), so `automatic` picks by batch size.
enum class PgBatchPath {
  automatic,  // unnest below copy_threshold rows, copy from there on
  unnest,     // one INSERT … SELECT FROM unnest($1::text[], …) ON CONFLICT DO NOTHING
  copy        // read the stored keys of each device's ts range, COPY the other rows into samples
};

struct PgOptions {
  std::size_t pool_size = 4;
  // How long a call waits for a free connection before failing as `unavailable`.
  std::chrono::milliseconds pool_wait{10'000};
  std::chrono::seconds connect_timeout{3};
  std::chrono::milliseconds statement_timeout{30'000};
  PgBatchPath batch_path = PgBatchPath::automatic;
  std::size_t copy_threshold = 200;
};

// Thread-safe: each call leases its own pooled connection, so HTTP workers run in parallel.
// A connection broken by a server restart makes that call fail as `unavailable` (unless nothing
// was committed yet: then it is retried once on a fresh connection) and is replaced; calls
// succeed again as soon as the server is back.
class PgStore final : public SampleStore, public SessionStore {
 public:
  // Connects once to check the server is reachable (the connection stays in the pool). Does not
  // migrate: call migrate() (the server does so at start-up).
  static StoreResult<std::unique_ptr<PgStore>> open(const std::string& conninfo,
                                                    const PgOptions& options = {});
  ~PgStore() override;

  StoreResult<void> migrate() override;
  StoreResult<WriteOutcome> insert_batch(std::span<const Sample> samples) override;
  using SampleStore::latest;
  StoreResult<std::optional<Sample>> latest(std::string_view device_id,
                                            Timestamp not_after) override;
  StoreResult<std::vector<rollup::BaseBucket>> base_buckets(std::string_view device_id,
                                                            Timestamp from, Timestamp to) override;
  StoreResult<std::vector<rollup::Span>> series_spans(
      std::string_view device_id, std::span<const rollup::BucketRange> ranges) override;
  StoreResult<void> ping() override;
  // SessionStore
  StoreResult<void> save_session(std::string_view id_digest, std::string_view viewer_digest,
                                 Timestamp now, Timestamp expires) override;
  StoreResult<std::optional<SessionRecord>> find_session(std::string_view id_digest,
                                                         Timestamp now) override;
  StoreResult<void> delete_session(std::string_view id_digest) override;

  // The highest applied migration version (0 before migrate()); for tests and `migrate` output.
  StoreResult<std::int64_t> schema_version();
  // Whether migrate() made samples a TimescaleDB hypertable (the extension was available).
  StoreResult<bool> uses_timescaledb();
  // Connections currently open in the pool; for tests.
  std::size_t open_connections() const;

 private:
  struct Impl;
  explicit PgStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sungrow::storage
