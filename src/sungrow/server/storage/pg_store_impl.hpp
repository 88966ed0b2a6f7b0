// PgStore's insides, shared by the files that implement it (schema, ingest, reads): the pool, the
// retry of calls that lost their connection before committing, and the steps of an ingest.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <vector>

#include "sungrow/server/storage/pg_connection.hpp"
#include "sungrow/server/storage/pg_pool.hpp"
#include "sungrow/server/storage/pg_sql.hpp"
#include "sungrow/server/storage/pg_store.hpp"
#include "sungrow/server/storage/span_upkeep.hpp"

namespace sungrow::storage {

struct PgStore::Impl {
  PgOptions options;
  PgPool pool;

  Impl(const std::string& conninfo, const PgOptions& opts)
      : options(opts),
        pool(PgConnectParams{.conninfo = conninfo,
                             .connect_timeout = opts.connect_timeout,
                             .statement_timeout = opts.statement_timeout},
             opts.pool_size, opts.pool_wait) {}

  // Runs `op` on a leased connection. When the connection turns out dead before anything was
  // committed (typically: the first call after a server restart), the server has rolled the
  // work back, so the call is repeated on another connection instead of failing; each such
  // attempt drops one dead connection, so pool_size + 1 attempts always reach a fresh one.
  template <class Op>
  auto run(Op&& op) -> decltype(op(std::declval<PgConnection&>())) {
    const auto attempts = static_cast<std::ptrdiff_t>(options.pool_size) + 1;
    for (std::ptrdiff_t attempt = 1;; ++attempt) {
      auto lease = pool.acquire();
      if (!lease) return lease.error();
      PgConnection& conn = **lease;
      conn.reset_commit_flag();
      auto result = op(conn);
      const bool lost_before_commit = PQstatus(conn.raw()) != CONNECTION_OK && !conn.commit_sent();
      if (result || attempt >= attempts || !lost_before_commit) return result;
    }
  }

  StoreResult<std::int64_t> max_version(PgConnection& conn);
  // Ships the rows (sorted by key, unique) and returns those really inserted (not stored before).
  StoreResult<std::vector<const Sample*>> insert_rows(PgConnection& conn,
                                                      std::span<const Sample* const> rows);
  // Reads every stored base bucket of the touched hours and every stored hour span of the touched
  // days, in one statement.
  StoreResult<void> read_touched(PgConnection& conn, const TouchedSpans& touched,
                                 std::map<BucketKey, rollup::BaseBucket>& base,
                                 std::map<BucketKey, rollup::Span>& hour_spans);
  // Writes `changed` base buckets and the spans recomputed over `base` and `hour_spans`
  // (span_upkeep), in one statement.
  StoreResult<void> write_touched(PgConnection& conn, const TouchedSpans& touched,
                                  const std::map<BucketKey, rollup::BaseBucket>& base,
                                  std::map<BucketKey, rollup::Span> hour_spans,
                                  const std::vector<BucketKey>& changed);
  // Folds each delta into its stored bucket and recomputes the hour and day spans holding them,
  // in one read and one write. The caller holds the device locks.
  StoreResult<void> merge_buckets_and_spans(PgConnection& conn,
                                            const std::map<BucketKey, rollup::BaseBucket>& deltas);
  // One batch in one transaction: device locks, rows, buckets and spans.
  StoreResult<WriteOutcome> insert(PgConnection& conn, std::span<const Sample* const> rows,
                                   std::int64_t received);
  // The spans migration's data step: the spans over every stored base bucket.
  StoreResult<void> backfill_spans(PgConnection& conn);
};

}  // namespace sungrow::storage
