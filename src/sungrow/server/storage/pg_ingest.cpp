// PgStore's ingest: one transaction per batch — device locks, the rows (unnest, or COPY of those
// not stored yet), the base buckets merged in C++ (rollup::merge, as in SQLite) and the spans.
#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <tuple>
#include <utility>
#include <vector>

#include "sungrow/server/storage/base_bucket_json.hpp"
#include "sungrow/server/storage/pg_sample_codec.hpp"
#include "sungrow/server/storage/pg_store_impl.hpp"
#include "sungrow/server/storage/span_codec.hpp"

namespace sungrow::storage {

namespace {

using SampleKey = std::pair<std::string_view, std::int64_t>;  // device_id, ts in ms

SampleKey key_of(const Sample* s) {
  return {s->device_id, unix_millis(s->ts)};
}

// The samples of `rows` (sorted by key, unique) that rows of `keys` (device_id, ts in ms) name.
// A key that names none is an error when `only_sent` (RETURNING names only what was sent), and
// skipped otherwise (a range read finds stored rows of other batches too).
StoreResult<std::vector<const Sample*>> samples_named(const PGresult* keys,
                                                      std::span<const Sample* const> rows,
                                                      bool only_sent) {
  std::vector<const Sample*> named;
  named.reserve(static_cast<std::size_t>(PQntuples(keys)));
  for (int row = 0; row < PQntuples(keys); ++row) {
    const auto ts = int_cell(keys, row, 1);
    if (!ts) return StoreError{StoreErrorKind::internal, "postgres: bad returned ts"};
    const SampleKey key{cell(keys, row, 0), *ts};
    const auto it =
        std::lower_bound(rows.begin(), rows.end(), key,
                         [](const Sample* a, const SampleKey& k) { return key_of(a) < k; });
    if (it != rows.end() && key_of(*it) == key) {
      named.push_back(*it);
    } else if (only_sent) {
      return StoreError{StoreErrorKind::internal,
                        "postgres: the server returned a row that was not sent"};
    }
  }
  return named;
}

// The first and last ts of each device's run in `rows` (sorted by key), as array parameters.
PgParams device_ranges(std::span<const Sample* const> rows) {
  std::string devices = "{";
  std::string firsts = "{";
  std::string lasts = "{";
  for (std::size_t i = 0; i < rows.size();) {
    std::size_t end = i;
    while (end + 1 < rows.size() && rows[end + 1]->device_id == rows[i]->device_id) ++end;
    if (devices.size() > 1) {
      devices += ',';
      firsts += ',';
      lasts += ',';
    }
    append_array_element(devices, rows[i]->device_id);
    firsts += format_rfc3339(rows[i]->ts);
    lasts += format_rfc3339(rows[end]->ts);
    i = end + 1;
  }
  PgParams params;
  params.add(devices + '}');
  params.add(firsts + '}');
  params.add(lasts + '}');
  return params;
}

}  // namespace

StoreResult<std::vector<const Sample*>> PgStore::Impl::insert_rows(
    PgConnection& conn, std::span<const Sample* const> rows) {
  const bool use_unnest =
      options.batch_path == PgBatchPath::unnest ||
      (options.batch_path == PgBatchPath::automatic && rows.size() < options.copy_threshold);
  if (use_unnest) {
    auto inserted = conn.exec_prepared("insert samples", insert_unnest(), pg_sample_arrays(rows));
    if (!inserted) return inserted.error();
    return samples_named(inserted.value().get(), rows, true);
  }
  // COPY cannot skip a stored row, so the keys already stored in each device's range are read
  // first and only the others are sent, straight into samples. The caller holds the device locks:
  // no other batch of these devices can store a row between the read and the COPY.
  auto stored = conn.exec_prepared("read stored keys", select_stored_keys(), device_ranges(rows));
  if (!stored) return stored.error();
  auto already = samples_named(stored.value().get(), rows, false);
  if (!already) return already.error();
  std::vector<const Sample*> fresh;
  fresh.reserve(rows.size() - already.value().size());
  std::sort(already.value().begin(), already.value().end(),
            [](const Sample* a, const Sample* b) { return key_of(a) < key_of(b); });
  std::set_difference(rows.begin(), rows.end(), already.value().begin(), already.value().end(),
                      std::back_inserter(fresh),
                      [](const Sample* a, const Sample* b) { return key_of(a) < key_of(b); });
  if (fresh.empty()) return fresh;
  if (auto copied =
          conn.copy_in("copy samples", copy_into_samples().c_str(), pg_sample_copy_text(fresh));
      !copied) {
    return copied.error();
  }
  return fresh;
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
  std::map<BucketKey, rollup::BaseBucket> deltas;
  for (const Sample* s : inserted.value()) {
    ++outcome.inserted;
    auto bucket = rollup::from_sample(*s);
    auto [slot, fresh] = deltas.try_emplace({s->device_id, unix_millis(bucket.start)}, bucket);
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
