// PgStore's SQL text and the helpers around it.
#include "sungrow/server/storage/pg_sql.hpp"

#include <fmt/format.h>

#include <charconv>
#include <utility>

#include "sungrow/server/storage/pg_sample_codec.hpp"
#include "sungrow/server/storage/span_codec.hpp"

namespace sungrow::storage {

const PgStatement& lock_devices() {
  // The subquery's ORDER BY fixes the order locks are taken in: no two batches deadlock.
  static const PgStatement s{"sungrow_lock_devices",
                             "SELECT pg_advisory_xact_lock($2::int4, k) FROM "
                             "(SELECT k FROM unnest($1::int4[]) AS k ORDER BY k) AS sorted"};
  return s;
}

const std::string& returning_key() {
  static const std::string s = " RETURNING device_id, (extract(epoch FROM ts) * 1000)::int8";
  return s;
}

const PgStatement& insert_unnest() {
  static const std::string sql = fmt::format(
      "INSERT INTO samples ({}) SELECT * FROM unnest({}) "
      "ON CONFLICT (device_id, ts) DO NOTHING{}",
      pg_sample_columns(), pg_sample_unnest_args(), returning_key());
  static const PgStatement s{"sungrow_insert_unnest", sql.c_str()};
  return s;
}

const std::string& copy_into_samples() {
  static const std::string sql = fmt::format("COPY samples ({}) FROM STDIN", pg_sample_columns());
  return sql;
}

const PgStatement& select_stored_keys() {
  static const PgStatement s{
      "sungrow_stored_keys",
      "SELECT s.device_id, (extract(epoch FROM s.ts) * 1000)::int8 FROM "
      "unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS r(d, lo, hi) "
      "JOIN samples AS s ON s.device_id = r.d AND s.ts >= r.lo AND s.ts <= r.hi"};
  return s;
}

const PgStatement& select_latest() {
  static const std::string sql = fmt::format(
      "SELECT {} FROM samples WHERE device_id = $1 AND ts <= $2 ORDER BY ts DESC "
      "LIMIT {}",
      pg_sample_select_list(), SampleStore::kLatestCandidates);
  static const PgStatement s{"sungrow_latest", sql.c_str()};
  return s;
}

const PgStatement& select_bucket_range() {
  // One statement, so the preceding bucket and the range come from one snapshot. No ORDER BY
  // over the union: sorting ~1 KB rows spills to disk for a month of buckets; each part comes out
  // of the primary key in order and the caller checks the order (and sorts if it ever differs).
  static const PgStatement s{
      "sungrow_bucket_range",
      "(SELECT data FROM base_buckets WHERE device_id = $1 AND bucket_start < $2"
      " ORDER BY bucket_start DESC LIMIT 1)"
      " UNION ALL"
      " (SELECT data FROM base_buckets WHERE device_id = $1"
      " AND bucket_start >= $2 AND bucket_start < $3 ORDER BY bucket_start)"};
  return s;
}

// Ingest's one read: every stored base bucket of the touched hours ($1, $2) and every stored hour
// span of the touched days ($3, $4).
const PgStatement& select_touched() {
  static const PgStatement s{
      "sungrow_select_touched",
      "SELECT 0, b.device_id, (extract(epoch FROM b.bucket_start) * 1000)::int8, b.data::text, "
      "NULL::bytea FROM unnest($1::text[], $2::timestamptz[]) AS k(d, s) JOIN base_buckets AS b "
      "ON b.device_id = k.d AND b.bucket_start >= k.s AND b.bucket_start < k.s + interval '1 hour'"
      " UNION ALL "
      "SELECT 1, h.device_id, (extract(epoch FROM h.span_start) * 1000)::int8, NULL::text, h.data "
      "FROM unnest($3::text[], $4::timestamptz[]) AS k(d, s) JOIN hour_spans AS h "
      "ON h.device_id = k.d AND h.span_start >= k.s AND h.span_start < k.s + interval '1 day'"};
  return s;
}

// Ingest's one write: the merged base buckets, the recomputed hour and day spans.
const PgStatement& upsert_touched() {
  static const PgStatement s{
      "sungrow_upsert_touched",
      "WITH b AS (INSERT INTO base_buckets (device_id, bucket_start, data) "
      "SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::json[]) "
      "ON CONFLICT (device_id, bucket_start) DO UPDATE SET data = excluded.data), "
      "h AS (INSERT INTO hour_spans (device_id, span_start, data) "
      "SELECT * FROM unnest($4::text[], $5::timestamptz[], $6::bytea[]) "
      "ON CONFLICT (device_id, span_start) DO UPDATE SET data = excluded.data) "
      "INSERT INTO day_spans (device_id, span_start, data) "
      "SELECT * FROM unnest($7::text[], $8::timestamptz[], $9::bytea[]) "
      "ON CONFLICT (device_id, span_start) DO UPDATE SET data = excluded.data"};
  return s;
}

const PgStatement& select_series_pieces() {
  // One statement, one snapshot: the preceding base bucket, then each level's intervals. Level 0
  // rows carry the bucket JSON, the others the span bytes; the caller sorts by start.
  static const PgStatement s{
      "sungrow_series_pieces",
      "(SELECT 0, (extract(epoch FROM bucket_start) * 1000)::int8, data::text, NULL::bytea "
      " FROM base_buckets WHERE device_id = $1 AND bucket_start < $2"
      " ORDER BY bucket_start DESC LIMIT 1)"
      " UNION ALL"
      " (SELECT 0, (extract(epoch FROM b.bucket_start) * 1000)::int8, b.data::text, NULL::bytea"
      " FROM unnest($3::timestamptz[], $4::timestamptz[]) AS k(f, t) JOIN base_buckets AS b"
      " ON b.device_id = $1 AND b.bucket_start >= k.f AND b.bucket_start < k.t)"
      " UNION ALL"
      " (SELECT 1, (extract(epoch FROM h.span_start) * 1000)::int8, NULL::text, h.data"
      " FROM unnest($5::timestamptz[], $6::timestamptz[]) AS k(f, t) JOIN hour_spans AS h"
      " ON h.device_id = $1 AND h.span_start >= k.f AND h.span_start < k.t)"
      " UNION ALL"
      " (SELECT 2, (extract(epoch FROM d.span_start) * 1000)::int8, NULL::text, d.data"
      " FROM unnest($7::timestamptz[], $8::timestamptz[]) AS k(f, t) JOIN day_spans AS d"
      " ON d.device_id = $1 AND d.span_start >= k.f AND d.span_start < k.t)"};
  return s;
}

std::int32_t device_lock_key(std::string_view device_id) {
  std::uint32_t h = 2166136261U;
  for (const char c : device_id) {
    h ^= static_cast<unsigned char>(c);
    h *= 16777619U;
  }
  return static_cast<std::int32_t>(h);
}

std::string_view cell(const PGresult* r, int row, int column) {
  return {PQgetvalue(r, row, column), static_cast<std::size_t>(PQgetlength(r, row, column))};
}

std::optional<std::int64_t> int_cell(const PGresult* r, int row, int column) {
  const auto text = cell(r, row, column);
  std::int64_t v = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

StoreResult<Transaction> Transaction::begin(PgConnection& conn) {
  if (auto begun = conn.exec("begin", "BEGIN"); !begun) return begun.error();
  return Transaction(conn);
}

Transaction::~Transaction() {
  if (conn_ != nullptr && PQstatus(conn_->raw()) == CONNECTION_OK) {
    (void)conn_->exec("rollback", "ROLLBACK");
  }
}

StoreResult<void> Transaction::commit() {
  PgConnection* conn = std::exchange(conn_, nullptr);
  conn->note_commit_sent();
  if (auto done = conn->exec("commit", "COMMIT"); !done) return done.error();
  return {};
}

void add_key_arrays(PgParams& params, const std::set<BucketKey>& keys) {
  std::string devices = "{";
  std::string starts = "{";
  for (const auto& [device, ms] : keys) {
    if (devices.size() > 1) {
      devices += ',';
      starts += ',';
    }
    append_array_element(devices, device);
    starts += format_rfc3339(Timestamp{std::chrono::milliseconds{ms}});
  }
  params.add(devices + '}');
  params.add(starts + '}');
}

void UpsertArrays::add(std::string_view device, Timestamp start, std::string_view value) {
  if (devices_.size() > 1) {
    devices_ += ',';
    starts_ += ',';
    values_ += ',';
  }
  append_array_element(devices_, device);
  starts_ += format_rfc3339(start);
  append_array_element(values_, value);
}

void UpsertArrays::add_to(PgParams& params) const {
  params.add(devices_ + '}');
  params.add(starts_ + '}');
  params.add(values_ + '}');
}

StoreResult<rollup::Span> span_cell(const PGresult* r, int row, int column) {
  auto bytes = from_bytea_hex(cell(r, row, column));
  if (!bytes) {
    return StoreError{StoreErrorKind::internal, "postgres: stored span: " + bytes.error().message};
  }
  auto span = span_from_bytes(bytes.value());
  if (!span) {
    return StoreError{StoreErrorKind::internal, "postgres: stored span: " + span.error().message};
  }
  return std::move(span).value();
}

}  // namespace sungrow::storage
