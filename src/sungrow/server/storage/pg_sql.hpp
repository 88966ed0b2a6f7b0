// PgStore's SQL: the prepared statements (named, prepared per connection at first use), the
// advisory lock keys, and helpers for result cells, array parameters and transactions.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "sungrow/server/rollup/span.hpp"
#include "sungrow/server/storage/pg_connection.hpp"
#include "sungrow/server/storage/span_upkeep.hpp"

namespace sungrow::storage {

// Advisory lock keys. Migrations use the one-bigint key space, per-device ingest locks the
// two-int4 space (a separate space in PostgreSQL), so they never collide.
constexpr std::int64_t kMigrationLock = 0x53'47'52'57'4d'49'47'52;  // "SGRWMIGR"
constexpr std::int32_t kDeviceLockClass = 0x53475257;               // "SGRW"

// ---- statements ----

const PgStatement& lock_devices();
const std::string& returning_key();
const PgStatement& insert_unnest();
// COPY … FROM STDIN straight into samples: for rows known not to be stored yet.
const std::string& copy_into_samples();
// The stored keys (device_id, ts in ms) of each device's ts range: $1 devices, $2 first and $3
// last ts of each (inclusive).
const PgStatement& select_stored_keys();
const PgStatement& select_latest();
const PgStatement& select_bucket_range();
const PgStatement& select_touched();
const PgStatement& upsert_touched();
const PgStatement& select_series_pieces();

// ---- helpers ----

using BucketKey = SpanKey;  // device_id, start in ms

// FNV-1a: a stable 32-bit lock key per device (a collision only serializes two devices).
std::int32_t device_lock_key(std::string_view device_id);

std::string_view cell(const PGresult* r, int row, int column);
std::optional<std::int64_t> int_cell(const PGresult* r, int row, int column);

// Rolls back unless committed; a failed rollback leaves the connection non-idle, so the pool
// drops it instead of reusing a connection in an unknown state.
class Transaction {
 public:
  static StoreResult<Transaction> begin(PgConnection& conn);
  Transaction(Transaction&& other) noexcept : conn_(std::exchange(other.conn_, nullptr)) {}
  Transaction& operator=(Transaction&&) = delete;
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();

  StoreResult<void> commit();

 private:
  explicit Transaction(PgConnection& conn) : conn_(&conn) {}
  PgConnection* conn_;
};

// A text[] and a timestamptz[] literal of the keys, for unnest($1::text[], $2::timestamptz[]).
void add_key_arrays(PgParams& params, const std::set<BucketKey>& keys);

// Three array literals (text[], timestamptz[], and the encoded values) for an unnest upsert.
class UpsertArrays {
 public:
  void add(std::string_view device, Timestamp start, std::string_view value);
  void add_to(PgParams& params) const;

 private:
  std::string devices_ = "{";
  std::string starts_ = "{";
  std::string values_ = "{";
};

// A stored span (bytea in hex) back to a Span.
StoreResult<rollup::Span> span_cell(const PGresult* r, int row, int column);

}  // namespace sungrow::storage
