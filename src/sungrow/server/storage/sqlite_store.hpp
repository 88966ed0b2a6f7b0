// The SQLite SampleStore: one database file in WAL mode, the default when DATABASE_URL is unset.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>

#include "sungrow/server/storage/session_store.hpp"
#include "sungrow/server/storage/store.hpp"

namespace sungrow::storage {

struct SqliteOptions {
  // How long a write waits for another process's lock before failing as `unavailable`.
  std::chrono::milliseconds busy_timeout{5000};
  // Test hook: when > 0, PRAGMA max_page_count caps the file so a commit fails with SQLITE_FULL.
  std::int64_t max_page_count = 0;
};

// Thread-safe: every call takes an internal mutex and runs on one connection, so calls from the
// HTTP thread pool serialize. (WAL would allow concurrent readers on extra connections; one
// connection is simpler and, with 5-s samples per device, far from the bottleneck.)
// Several processes may share the file: writes take the lock up front (BEGIN IMMEDIATE) and wait
// up to busy_timeout.
class SqliteStore final : public SampleStore, public SessionStore {
 public:
  // Opens (creating if missing) the file and sets WAL, synchronous=FULL and busy_timeout. Does not
  // migrate: call migrate() (the server does so at start-up).
  static StoreResult<std::unique_ptr<SqliteStore>> open(const std::filesystem::path& path,
                                                        const SqliteOptions& options = {});
  ~SqliteStore() override;

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

 private:
  struct Impl;
  explicit SqliteStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sungrow::storage
