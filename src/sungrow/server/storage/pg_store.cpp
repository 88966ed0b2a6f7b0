// PgStore: opening the pool, and the reads (latest sample, base buckets, series pieces, health).
#include "sungrow/server/storage/pg_store.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "sungrow/server/storage/base_bucket_json.hpp"
#include "sungrow/server/storage/pg_sample_codec.hpp"
#include "sungrow/server/storage/pg_store_impl.hpp"

namespace sungrow::storage {

PgStore::PgStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgStore::~PgStore() = default;

StoreResult<std::unique_ptr<PgStore>> PgStore::open(const std::string& conninfo,
                                                    const PgOptions& options) {
  auto impl = std::make_unique<Impl>(conninfo, options);
  {
    auto lease = impl->pool.acquire();  // fails fast (connect_timeout) when the server is down
    if (!lease) return lease.error();
  }
  return std::unique_ptr<PgStore>(new PgStore(std::move(impl)));
}

std::size_t PgStore::open_connections() const {
  return impl_->pool.open_connections();
}

StoreResult<std::optional<Sample>> PgStore::latest(std::string_view device_id,
                                                   Timestamp not_after) {
  return impl_->run([&](PgConnection& conn) -> StoreResult<std::optional<Sample>> {
    PgParams params;
    params.add(std::string(device_id));
    params.add(format_rfc3339(std::min(not_after, kLatestRfc3339Ts)));
    auto r = conn.exec_prepared("read latest sample", select_latest(), params);
    if (!r) return r.error();
    const PGresult* result = r.value().get();
    for (int row = 0; row < PQntuples(result); ++row) {
      auto decoded = pg_sample_from_row(result, row);
      if (!decoded) {
        skip_row(device_id, decoded.error().message);
        continue;
      }
      auto sample = servable(std::move(decoded).value());
      if (sample) return std::optional<Sample>{std::move(sample).value()};
      skip_row(device_id, sample.error().message);
    }
    return std::optional<Sample>{};
  });
}

StoreResult<std::vector<rollup::BaseBucket>> PgStore::base_buckets(std::string_view device_id,
                                                                   Timestamp from, Timestamp to) {
  return impl_->run([&](PgConnection& conn) -> StoreResult<std::vector<rollup::BaseBucket>> {
    PgParams params;
    params.add(std::string(device_id));
    params.add(format_rfc3339(from));
    params.add(format_rfc3339(to));
    auto r = conn.exec_prepared("read base buckets", select_bucket_range(), params);
    if (!r) return r.error();
    std::vector<rollup::BaseBucket> out;
    const PGresult* result = r.value().get();
    const int rows = PQntuples(result);
    out.reserve(static_cast<std::size_t>(rows));
    for (int row = 0; row < rows; ++row) {
      auto bucket = base_bucket_from_json(cell(result, row, 0));
      if (!bucket) {
        skip_row(device_id, "base bucket: " + bucket.error().message);
        continue;
      }
      out.push_back(bucket.value());
    }
    auto by_start = [](const rollup::BaseBucket& a, const rollup::BaseBucket& b) {
      return a.start < b.start;
    };
    if (!std::is_sorted(out.begin(), out.end(), by_start)) {
      std::sort(out.begin(), out.end(), by_start);
    }
    return out;
  });
}

StoreResult<std::vector<rollup::Span>> PgStore::series_spans(
    std::string_view device_id, std::span<const rollup::BucketRange> ranges) {
  std::vector<rollup::Span> out;
  if (ranges.empty()) return out;
  std::array<std::string, 3> froms{"{", "{", "{"};
  std::array<std::string, 3> tos{"{", "{", "{"};
  for (const auto& interval : rollup::plan_spans(ranges)) {
    const auto level = static_cast<std::size_t>(interval.level);
    if (froms[level].size() > 1) {
      froms[level] += ',';
      tos[level] += ',';
    }
    froms[level] += format_rfc3339(interval.from);
    tos[level] += format_rfc3339(interval.to);
  }
  PgParams params;
  params.add(std::string(device_id));
  params.add(format_rfc3339(ranges.front().start));
  for (std::size_t level = 0; level < 3; ++level) {
    params.add(froms[level] + '}');
    params.add(tos[level] + '}');
  }
  return impl_->run([&](PgConnection& conn) -> StoreResult<std::vector<rollup::Span>> {
    auto r = conn.exec_prepared("read series pieces", select_series_pieces(), params);
    if (!r) return r.error();
    const PGresult* result = r.value().get();
    const int rows = PQntuples(result);
    std::vector<rollup::Span> pieces;
    pieces.reserve(static_cast<std::size_t>(rows));
    // A piece that does not decode is left out, counted and logged: the series answers without
    // it rather than not at all.
    for (int row = 0; row < rows; ++row) {
      if (cell(result, row, 0) == "0") {
        auto bucket = base_bucket_from_json(cell(result, row, 2));
        if (!bucket) {
          skip_row(device_id, "base bucket: " + bucket.error().message);
          continue;
        }
        pieces.push_back(rollup::to_span(bucket.value()));
      } else {
        auto span = span_cell(result, row, 3);
        if (!span) {
          skip_row(device_id, span.error().message);
          continue;
        }
        pieces.push_back(std::move(span).value());
      }
    }
    auto by_start = [](const rollup::Span& a, const rollup::Span& b) { return a.start < b.start; };
    if (!std::is_sorted(pieces.begin(), pieces.end(), by_start)) {
      std::sort(pieces.begin(), pieces.end(), by_start);
    }
    return pieces;
  });
}

StoreResult<void> PgStore::save_session(std::string_view id_digest, std::string_view viewer_digest,
                                        Timestamp now, Timestamp expires) {
  return impl_->run([&](PgConnection& conn) -> StoreResult<void> {
    PgParams params;
    params.add(std::string(id_digest));
    params.add(std::string(viewer_digest));
    params.add(format_rfc3339(now));
    params.add(format_rfc3339(expires));
    // One statement: the expired sessions go in the same round trip.
    if (auto r = conn.exec_params("save session",
                                  "WITH gone AS (DELETE FROM sessions WHERE expires < $3) "
                                  "INSERT INTO sessions (id_digest, viewer_digest, created, "
                                  "expires) VALUES ($1, $2, $3, $4)",
                                  params);
        !r) {
      return r.error();
    }
    return {};
  });
}

StoreResult<std::optional<SessionRecord>> PgStore::find_session(std::string_view id_digest,
                                                                Timestamp now) {
  return impl_->run([&](PgConnection& conn) -> StoreResult<std::optional<SessionRecord>> {
    PgParams params;
    params.add(std::string(id_digest));
    params.add(format_rfc3339(now));
    auto r = conn.exec_params("find session",
                              "SELECT viewer_digest, (extract(epoch FROM expires) * 1000)::int8 "
                              "FROM sessions WHERE id_digest = $1 AND expires >= $2",
                              params);
    if (!r) return r.error();
    const PGresult* result = r.value().get();
    if (PQntuples(result) == 0) return std::optional<SessionRecord>{};
    const auto expires = int_cell(result, 0, 1);
    if (!expires) return StoreError{StoreErrorKind::internal, "postgres: bad session expiry"};
    return std::optional<SessionRecord>{
        SessionRecord{.viewer_digest = std::string(cell(result, 0, 0)),
                      .expires = Timestamp{std::chrono::milliseconds{*expires}}}};
  });
}

StoreResult<void> PgStore::delete_session(std::string_view id_digest) {
  return impl_->run([&](PgConnection& conn) -> StoreResult<void> {
    PgParams params;
    params.add(std::string(id_digest));
    if (auto r =
            conn.exec_params("delete session", "DELETE FROM sessions WHERE id_digest = $1", params);
        !r) {
      return r.error();
    }
    return {};
  });
}

StoreResult<void> PgStore::ping() {
  return impl_->run([&](PgConnection& conn) -> StoreResult<void> {
    // A catalog read: answered from the server's storage, not just the connection.
    if (auto r = conn.exec("ping", "SELECT count(*) FROM pg_catalog.pg_namespace"); !r) {
      return r.error();
    }
    return {};
  });
}

}  // namespace sungrow::storage
