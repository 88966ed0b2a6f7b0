// Storage benchmarks against a fresh PostgreSQL 15 (tests/support PostgresInstance) in one run:
// ingest samples/s through PgStore (both batch paths) against a raw COPY of the same rows, and
// series latency (series_spans + aggregate_spans, Europe/Berlin) over a year of 5-s data.
#include <benchmark/benchmark.h>
#include <libpq-fe.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "postgres_instance.hpp"
#include "sample_factory.hpp"
#include "sungrow/server/rollup/frames.hpp"
#include "sungrow/server/rollup/series.hpp"
#include "sungrow/server/storage/base_bucket_json.hpp"
#include "sungrow/server/storage/pg_connection.hpp"
#include "sungrow/server/storage/pg_sample_codec.hpp"
#include "sungrow/server/storage/pg_store.hpp"
#include "sungrow/server/storage/sqlite_store.hpp"

namespace sungrow::storage {
namespace {

using namespace std::chrono_literals;

test::PostgresInstance& server() {
  // Server settings of a small VPS; fsync stays off as in the test fixture (see the report).
  static test::PostgresInstance instance(test::PostgresOptions{
      .settings = {"shared_buffers = 512MB", "max_wal_size = 4GB", "checkpoint_timeout = 30min"},
      .base_dir = {}});
  return instance;
}

// One database for the whole run: every ingest benchmark writes into the same samples table.
const std::string& ingest_db() {
  static const std::string conninfo = [] {
    auto db = server().fresh_database("ingest");
    auto store = PgStore::open(db);
    if (!store || !store.value()->migrate()) throw std::runtime_error("cannot prepare ingest db");
    return db;
  }();
  return conninfo;
}

std::unique_ptr<PgStore> open_or_throw(const std::string& conninfo, const PgOptions& options) {
  auto store = PgStore::open(conninfo, options);
  if (!store) throw std::runtime_error(store.error().message);
  return std::move(store).value();
}

// Each benchmark run writes its own device, forward in time from the fixed epoch.
std::string next_device(const char* prefix) {
  static int n = 0;
  return std::string(prefix) + "-" + std::to_string(n++);
}

void fill(std::vector<Sample>& batch, const std::string& device, std::int64_t& next) {
  for (auto& s : batch) s = test::realistic_sample(device, next++, test::sample_epoch());
}

void BM_PgStoreInsertBatch(benchmark::State& state) {
  const auto batch_size = static_cast<std::size_t>(state.range(0));
  PgOptions options;
  options.batch_path = static_cast<PgBatchPath>(state.range(1));
  auto store = open_or_throw(ingest_db(), options);
  const auto device = next_device("ingest");
  std::vector<Sample> batch(batch_size);
  std::int64_t next = 0;
  for (auto _ : state) {
    state.PauseTiming();
    fill(batch, device, next);
    state.ResumeTiming();
    auto outcome = store->insert_batch(batch);
    if (!outcome || outcome.value().inserted != static_cast<std::int64_t>(batch_size)) {
      state.SkipWithError(outcome ? "not every sample inserted" : outcome.error().message.c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
  state.SetLabel(options.batch_path == PgBatchPath::unnest ? "unnest"
                 : options.batch_path == PgBatchPath::copy ? "copy"
                                                           : "automatic (default)");
}

// The ceiling: the same rows COPYed straight into the same table, one transaction per batch, no
// dedup and no buckets.
void BM_RawCopyIntoSamples(benchmark::State& state) {
  const auto batch_size = static_cast<std::size_t>(state.range(0));
  auto conn = PgConnection::connect(PgConnectParams{.conninfo = ingest_db()});
  if (!conn) throw std::runtime_error(conn.error().message);
  const std::string copy_sql = "COPY samples (" + pg_sample_columns() + ") FROM STDIN";
  const auto device = next_device("copy");
  std::vector<Sample> batch(batch_size);
  std::vector<const Sample*> rows(batch_size);
  std::int64_t next = 0;
  for (auto _ : state) {
    state.PauseTiming();
    fill(batch, device, next);
    for (std::size_t i = 0; i < batch.size(); ++i) rows[i] = &batch[i];
    state.ResumeTiming();
    // Encoding is part of the cost on both sides: PgStore encodes too.
    auto copied = conn.value()->copy_in("copy", copy_sql.c_str(), pg_sample_copy_text(rows));
    if (!copied) {
      state.SkipWithError(copied.error().message.c_str());
      break;
    }
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

BENCHMARK(BM_PgStoreInsertBatch)
    ->ArgNames({"batch", "path"})
    ->ArgsProduct({{30, 1000},
                   {static_cast<int>(PgBatchPath::unnest), static_cast<int>(PgBatchPath::copy),
                    static_cast<int>(PgBatchPath::automatic)}})
    ->UseRealTime()
    ->MinTime(3.0);
BENCHMARK(BM_RawCopyIntoSamples)->ArgName("batch")->Arg(30)->Arg(1000)->UseRealTime()->MinTime(3.0);

// ---- series over a year of 5-second data ----

constexpr std::int64_t kYearSamples = 365LL * 24 * 720;  // 6,307,200
const std::string kYearDevice = "sh4.0rs-year";

// Loads the year through the real insert path (big batches), so samples and base buckets are
// consistent by construction. Printed: how long the load took.
PgStore& year_store() {
  static const std::unique_ptr<PgStore> store = [] {
    auto db = server().fresh_database("year");
    auto s = open_or_throw(db, PgOptions{});
    if (!s->migrate()) throw std::runtime_error("migrate failed");
    const auto started = std::chrono::steady_clock::now();
    std::vector<Sample> batch(10'000);
    for (std::int64_t at = 0; at < kYearSamples; at += 10'000) {
      const auto n = std::min<std::int64_t>(10'000, kYearSamples - at);
      batch.resize(static_cast<std::size_t>(n));
      for (std::int64_t i = 0; i < n; ++i) {
        batch[static_cast<std::size_t>(i)] =
            test::realistic_sample(kYearDevice, at + i, test::sample_epoch());
      }
      auto outcome = s->insert_batch(batch);
      if (!outcome || outcome.value().inserted != n) throw std::runtime_error("year load failed");
    }
    const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
    std::fprintf(stderr,
                 "loaded %lld samples of one device through PgStore::insert_batch "
                 "(batches of 10,000) in %.1f s = %.0f samples/s\n",
                 static_cast<long long>(kYearSamples), took.count(),
                 static_cast<double>(kYearSamples) / took.count());
    return s;
  }();
  return *store;
}

const date::time_zone* berlin() {
  static const date::time_zone* zone = rollup::find_zone("Europe/Berlin").value();
  return zone;
}

// The series the endpoint computes: local buckets, the stored pieces (day/hour spans inside the
// buckets, base buckets at unaligned edges, the carry-seeding bucket first), aggregation.
std::size_t series(SampleStore& store, rollup::Frame frame, Timestamp from, Timestamp to) {
  const auto ranges = rollup::buckets(frame, berlin(), from, to);
  auto pieces = store.series_spans(kYearDevice, ranges);
  if (!pieces) throw std::runtime_error(pieces.error().message);
  const auto out = rollup::aggregate_spans(pieces.value(), ranges);
  benchmark::DoNotOptimize(out.data());
  return out.size();
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const auto at = static_cast<std::size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(at, v.size() - 1)];
}

// A month of days (the 2nd month of the data) and the year of months, each timed as one query
// per repetition so p50/p99 come from the repetitions.
void BM_PgSeries(benchmark::State& state) {
  PgStore& store = year_store();
  const Timestamp start = test::sample_epoch();
  const bool year = state.range(0) == 1;
  const Timestamp from = year ? start : start + 31 * 24h;
  const Timestamp to = year ? start + 365 * 24h : start + 61 * 24h;
  std::size_t buckets = 0;
  for (auto _ : state) {
    buckets = series(store, year ? rollup::Frame::month : rollup::Frame::day, from, to);
  }
  state.SetLabel(std::string(year ? "year of months" : "month of days") + ", " +
                 std::to_string(buckets) + " buckets");
}

BENCHMARK(BM_PgSeries)
    ->ArgName("year")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(1)
    ->Repetitions(20)
    ->ComputeStatistics("p50", [](const std::vector<double>& v) { return percentile(v, 0.5); })
    ->ComputeStatistics("p99", [](const std::vector<double>& v) { return percentile(v, 0.99); })
    ->ReportAggregatesOnly(true)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// ---- the same series queries on the SQLite store ----

// The year's base buckets computed in C++ (rollup::from_sample + merge, as both stores do at
// ingest) and written straight into a schema-version-1 database (base buckets only); migrate()
// then computes the hour and day spans from them, as it does for an existing installation. The
// series read path is measured without spending minutes on a 6 GB samples table the query never
// reads; the samples table stays empty. Printed: how long the spans migration took.
SqliteStore& sqlite_year_store() {
  static const std::filesystem::path path =
      std::filesystem::path(server().directory()) / "year.sqlite";
  static const std::unique_ptr<SqliteStore> store = [] {
    std::map<std::int64_t, rollup::BaseBucket> year;
    for (std::int64_t i = 0; i < kYearSamples; ++i) {
      const auto bucket =
          rollup::from_sample(test::realistic_sample(kYearDevice, i, test::sample_epoch()));
      auto [it, fresh] = year.try_emplace(bucket.start.time_since_epoch().count(), bucket);
      if (!fresh) rollup::merge(it->second, bucket);
    }
    sqlite3* raw = nullptr;
    if (sqlite3_open(path.c_str(), &raw) != SQLITE_OK) throw std::runtime_error("sqlite open");
    const std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
    for (const char* sql : {
             "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)",
             "INSERT INTO schema_migrations VALUES (1, '2026-01-01T00:00:00.000Z')",
             "CREATE TABLE samples (device_id TEXT NOT NULL, ts_ms INTEGER NOT NULL, seq INTEGER "
             "NOT NULL, body TEXT NOT NULL, PRIMARY KEY (device_id, ts_ms))",
             "CREATE TABLE base_buckets (device_id TEXT NOT NULL, start_ms INTEGER NOT NULL, "
             "data TEXT NOT NULL, PRIMARY KEY (device_id, start_ms))",
             "BEGIN",
         }) {
      if (sqlite3_exec(db.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) {
        throw std::runtime_error(sqlite3_errmsg(db.get()));
      }
    }
    sqlite3_stmt* raw_stmt = nullptr;
    sqlite3_prepare_v2(db.get(),
                       "INSERT INTO base_buckets (device_id, start_ms, data) VALUES (?1, ?2, ?3)",
                       -1, &raw_stmt, nullptr);
    const std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(raw_stmt,
                                                                          &sqlite3_finalize);
    for (const auto& [start_ms, bucket] : year) {
      const auto json = base_bucket_to_json(bucket);
      sqlite3_bind_text(stmt.get(), 1, kYearDevice.c_str(), -1, SQLITE_STATIC);
      sqlite3_bind_int64(stmt.get(), 2, start_ms);
      sqlite3_bind_text(stmt.get(), 3, json.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(stmt.get()) != SQLITE_DONE) throw std::runtime_error("sqlite insert");
      sqlite3_reset(stmt.get());
    }
    if (sqlite3_exec(db.get(), "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      throw std::runtime_error("sqlite commit");
    }
    auto opened = SqliteStore::open(path);
    if (!opened) throw std::runtime_error("sqlite open failed");
    const auto started = std::chrono::steady_clock::now();
    if (auto migrated = opened.value()->migrate(); !migrated) {
      throw std::runtime_error(migrated.error().message);
    }
    const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);
    std::fprintf(stderr, "sqlite: the spans migration over %zu base buckets took %.1f s\n",
                 year.size(), took.count());
    return std::move(opened).value();
  }();
  return *store;
}

void BM_SqliteSeries(benchmark::State& state) {
  SqliteStore& store = sqlite_year_store();
  const Timestamp start = test::sample_epoch();
  const bool year = state.range(0) == 1;
  const Timestamp from = year ? start : start + 31 * 24h;
  const Timestamp to = year ? start + 365 * 24h : start + 61 * 24h;
  std::size_t buckets = 0;
  for (auto _ : state) {
    buckets = series(store, year ? rollup::Frame::month : rollup::Frame::day, from, to);
  }
  state.SetLabel(std::string(year ? "year of months" : "month of days") + ", " +
                 std::to_string(buckets) + " buckets");
}

BENCHMARK(BM_SqliteSeries)
    ->ArgName("year")
    ->Arg(0)
    ->Arg(1)
    ->Iterations(1)
    ->Repetitions(20)
    ->ComputeStatistics("p50", [](const std::vector<double>& v) { return percentile(v, 0.5); })
    ->ComputeStatistics("p99", [](const std::vector<double>& v) { return percentile(v, 0.99); })
    ->ReportAggregatesOnly(true)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace sungrow::storage

BENCHMARK_MAIN();
