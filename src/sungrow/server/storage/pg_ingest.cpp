// PgStore's ingest: one transaction per batch — device locks, the rows (unnest or COPY), the base
// buckets merged in C++ (rollup::merge, as in SQLite) and the spans over them.
#include <fmt/format.h>

#include <algorithm>
#include <tuple>

#include "sungrow/server/storage/base_bucket_json.hpp"
#include "sungrow/server/storage/pg_sample_codec.hpp"
#include "sungrow/server/storage/pg_store_impl.hpp"
#include "sungrow/server/storage/span_codec.hpp"

namespace sungrow::storage {

// Ships the (deduplicated) rows and returns the keys the server really inserted.
StoreResult<PgResult> PgStore::Impl::insert_rows(PgConnection& conn,
                                                 std::span<const Sample* const> rows) {
  const bool use_unnest =
      options.batch_path == PgBatchPath::unnest ||
      (options.batch_path == PgBatchPath::automatic && rows.size() < options.copy_threshold);
  if (use_unnest) {
    return conn.exec_prepared("insert samples", insert_unnest(), pg_sample_arrays(rows));
  }
  if (conn.mark_once("staging")) {
    // Per session; ON COMMIT DELETE ROWS empties it at every commit (and rollback drops rows).
    auto made = conn.exec("create staging table",
                          "CREATE TEMP TABLE IF NOT EXISTS samples_staging "
                          "(LIKE samples) ON COMMIT DELETE ROWS");
    if (!made) return made.error();
  }
  if (auto copied =
          conn.copy_in("copy samples", copy_to_staging().c_str(), pg_sample_copy_text(rows));
      !copied) {
    return copied.error();
  }
  return conn.exec_prepared("insert staged samples", insert_from_staging(), PgParams{});
}

// Reads every stored base bucket of the touched hours and every stored hour span of the touched
// days, in one statement.
StoreResult<void> PgStore::Impl::read_touched(PgConnection& conn, const TouchedSpans& touched,
                                              std::map<BucketKey, rollup::BaseBucket>& base,
                                              std::map<BucketKey, rollup::Span>& hour_spans) {
  PgParams keys;
  add_key_arrays(keys, touched.hours);
  add_key_arrays(keys, touched.days);
  auto stored = conn.exec_prepared("read buckets and spans", select_touched(), keys);
  if (!stored) return stored.error();
  const PGresult* r = stored.value().get();
  for (int row = 0; row < PQntuples(r); ++row) {
    const auto start = int_cell(r, row, 2);
    if (!start) return StoreError{StoreErrorKind::internal, "postgres: bad stored start"};
    BucketKey key{std::string(cell(r, row, 1)), *start};
    if (cell(r, row, 0) == "0") {
      auto bucket = base_bucket_from_json(cell(r, row, 3));
      if (!bucket) {
        return StoreError{StoreErrorKind::internal,
                          "postgres: stored base bucket: " + bucket.error().message};
      }
      base.emplace(std::move(key), std::move(bucket).value());
    } else {
      auto span = span_cell(r, row, 4);
      if (!span) return span.error();
      hour_spans.emplace(std::move(key), std::move(span).value());
    }
  }
  return {};
}

// Writes `changed` base buckets and the spans recomputed over `base` and `hour_spans`
// (span_upkeep), in one statement.
StoreResult<void> PgStore::Impl::write_touched(PgConnection& conn, const TouchedSpans& touched,
                                               const std::map<BucketKey, rollup::BaseBucket>& base,
                                               std::map<BucketKey, rollup::Span> hour_spans,
                                               const std::vector<BucketKey>& changed) {
  UpsertArrays base_rows;
  for (const auto& key : changed) {
    const auto& bucket = base.at(key);
    base_rows.add(key.first, bucket.start, base_bucket_to_json(bucket));
  }
  SpanPieces pieces;
  for (const auto& [key, bucket] : base) pieces.base.emplace(key, rollup::to_span(bucket));
  pieces.hours = std::move(hour_spans);
  const auto updates = recompute(touched, std::move(pieces));
  UpsertArrays hour_rows;
  UpsertArrays day_rows;
  for (const auto* level : {&updates.hours, &updates.days}) {
    for (const auto& [key, span] : *level) {
      // A key is touched only by stored base buckets, so it never ends up empty.
      if (!span) return StoreError{StoreErrorKind::internal, "postgres: a touched span is empty"};
      (level == &updates.hours ? hour_rows : day_rows)
          .add(key.first, span->start, to_bytea_hex(span_to_bytes(*span)));
    }
  }
  PgParams values;
  base_rows.add_to(values);
  hour_rows.add_to(values);
  day_rows.add_to(values);
  if (auto written = conn.exec_prepared("write buckets and spans", upsert_touched(), values);
      !written) {
    return written.error();
  }
  return {};
}

// Folds each delta into its stored bucket and recomputes the hour and day spans holding them,
// in one read and one write. The caller holds the device locks, so no other writer touches
// these rows until commit.
StoreResult<void> PgStore::Impl::merge_buckets_and_spans(
    PgConnection& conn, const std::map<BucketKey, rollup::BaseBucket>& deltas) {
  std::set<BucketKey> keys;
  for (const auto& [key, delta] : deltas) keys.insert(key);
  const auto touched = touched_by(keys);
  std::map<BucketKey, rollup::BaseBucket> base;  // every base bucket of the touched hours
  std::map<BucketKey, rollup::Span> hour_spans;  // every hour span of the touched days
  if (auto read = read_touched(conn, touched, base, hour_spans); !read) return read.error();
  std::vector<BucketKey> changed;
  for (const auto& [key, delta] : deltas) {
    auto [it, fresh] = base.try_emplace(key, delta);
    if (!fresh) rollup::merge(it->second, delta);
    changed.push_back(key);
  }
  return write_touched(conn, touched, base, std::move(hour_spans), changed);
}

StoreResult<WriteOutcome> PgStore::Impl::insert(PgConnection& conn,
                                                std::span<const Sample* const> rows,
                                                std::int64_t received) {
  WriteOutcome outcome{.received = received, .inserted = 0};
  auto tx = Transaction::begin(conn);
  if (!tx) return tx.error();

  // Per-device transaction locks, taken first and in key order: concurrent batches of one
  // device run one after the other (so no bucket update is lost and they never deadlock on
  // each other's rows), different devices run in parallel.
  std::vector<std::int32_t> lock_keys;
  for (const Sample* s : rows) lock_keys.push_back(device_lock_key(s->device_id));
  std::sort(lock_keys.begin(), lock_keys.end());
  lock_keys.erase(std::unique(lock_keys.begin(), lock_keys.end()), lock_keys.end());
  PgParams lock;
  std::string keys = "{";
  for (const auto k : lock_keys) {
    if (keys.size() > 1) keys += ',';
    keys += std::to_string(k);
  }
  lock.add(keys + '}');
  lock.add(std::to_string(kDeviceLockClass));
  if (auto locked = conn.exec_prepared("lock devices", lock_devices(), lock); !locked) {
    return locked.error();
  }

  auto inserted = insert_rows(conn, rows);
  if (!inserted) return inserted.error();
  const PGresult* r = inserted.value().get();
  // The rows are sorted by key and unique, so each returned key finds its sample.
  std::map<BucketKey, rollup::BaseBucket> deltas;
  for (int row = 0; row < PQntuples(r); ++row) {
    const auto ts = int_cell(r, row, 1);
    if (!ts) return StoreError{StoreErrorKind::internal, "postgres: bad returned ts"};
    const std::string_view device = cell(r, row, 0);
    auto it = std::lower_bound(
        rows.begin(), rows.end(), std::pair{device, *ts}, [](const Sample* a, const auto& k) {
          return std::tuple(std::string_view(a->device_id), unix_millis(a->ts)) <
                 std::tuple(k.first, k.second);
        });
    if (it == rows.end() || (*it)->device_id != device || unix_millis((*it)->ts) != *ts) {
      return StoreError{StoreErrorKind::internal,
                        "postgres: the server returned a row that was not sent"};
    }
    ++outcome.inserted;
    auto bucket = rollup::from_sample(**it);
    auto [slot, fresh] = deltas.try_emplace({(*it)->device_id, unix_millis(bucket.start)}, bucket);
    if (!fresh) rollup::merge(slot->second, bucket);
  }
  if (!deltas.empty()) {
    if (auto merged = merge_buckets_and_spans(conn, deltas); !merged) return merged.error();
  }
  if (auto committed = tx.value().commit(); !committed) return committed.error();
  return outcome;
}

StoreResult<WriteOutcome> PgStore::insert_batch(std::span<const Sample> samples) {
  const auto received = static_cast<std::int64_t>(samples.size());
  if (samples.empty()) return WriteOutcome{.received = 0, .inserted = 0};
  for (std::size_t i = 0; i < samples.size(); ++i) {
    if (auto field = first_non_finite_field(samples[i])) {
      return StoreError{StoreErrorKind::rejected,
                        fmt::format("sample {}: {} is not a finite number", i, *field)};
    }
  }
  // First occurrence of each (device_id, ts) only, sorted by key: the server then never sees a
  // duplicate within the batch (the first one wins, as documented), and the RETURNING keys map
  // back to exactly one sample each.
  std::vector<const Sample*> rows;
  rows.reserve(samples.size());
  for (const Sample& s : samples) rows.push_back(&s);
  std::stable_sort(rows.begin(), rows.end(), [](const Sample* a, const Sample* b) {
    return std::tie(a->device_id, a->ts) < std::tie(b->device_id, b->ts);
  });
  rows.erase(std::unique(rows.begin(), rows.end(),
                         [](const Sample* a, const Sample* b) {
                           return a->ts == b->ts && a->device_id == b->device_id;
                         }),
             rows.end());
  return impl_->run([&](PgConnection& conn) { return impl_->insert(conn, rows, received); });
}

}  // namespace sungrow::storage
