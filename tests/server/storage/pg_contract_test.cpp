// The contract suite against PgStore on a real PostgreSQL 15: a fresh database per name per test.

#include <map>
#include <memory>

#include "pg_session.hpp"
#include "postgres_instance.hpp"
#include "store_contract.hpp"
#include "sungrow/server/storage/pg_store.hpp"

namespace sungrow::storage::test {
namespace {

class PgBackend final : public StoreBackend {
 public:
  explicit PgBackend(PgBatchPath path) { options_.batch_path = path; }

  StoreResult<std::unique_ptr<SampleStore>> open(const std::string& name) override {
    auto opened = PgStore::open(conninfo(name), options_);
    if (!opened) return opened.error();
    return std::unique_ptr<SampleStore>(std::move(opened).value());
  }
  StoreResult<std::int64_t> schema_version(SampleStore& store) override {
    return dynamic_cast<PgStore&>(store).schema_version();
  }
  std::int64_t latest_schema_version() const override { return 8; }

  // A row as PostgreSQL's own text of the whole record: every column, exactly as stored.
  std::vector<std::string> samples(const std::string& name) override {
    return dump(name, "SELECT s::text FROM samples AS s ORDER BY device_id, ts");
  }
  std::vector<std::string> buckets(const std::string& name) override {
    return dump(name,
                "SELECT device_id || '|' || bucket_start::text || '|' || data::text "
                "FROM base_buckets ORDER BY device_id, bucket_start");
  }
  std::vector<std::string> spans(const std::string& name) override {
    return dump(name,
                "SELECT l || '|' || device_id || '|' || span_start::text || '|' || "
                "encode(data, 'hex') FROM (SELECT 'h' AS l, * FROM hour_spans UNION ALL "
                "SELECT 'd', * FROM day_spans) AS s ORDER BY l DESC, device_id, span_start");
  }
  std::vector<std::string> migrations(const std::string& name) override {
    return dump(name, "SELECT version::text FROM schema_migrations ORDER BY version");
  }
  void move_to_year_10000(const std::string& name, const std::string& device_id,
                          Timestamp ts) override {
    sungrow::test::PgSession session(conninfo(name));
    const auto moved = session.rows(
        "UPDATE samples SET ts = '10000-01-01T00:00:00Z' WHERE device_id = $1 AND ts = $2 "
        "RETURNING 1",
        {device_id, format_rfc3339(ts)});
    ASSERT_EQ(moved.size(), 1U);
  }

 private:
  const std::string& conninfo(const std::string& name) {
    auto it = databases_.find(name);
    if (it == databases_.end()) {
      it = databases_.emplace(name, sungrow::test::shared_postgres().fresh_database(name)).first;
    }
    return it->second;
  }

  std::vector<std::string> dump(const std::string& name, const char* sql) {
    return sungrow::test::PgSession(conninfo(name)).rows(sql);
  }

  PgOptions options_;
  std::map<std::string, std::string> databases_;
};

// Both batch paths pass the whole contract (the default, automatic, uses one or the other by
// batch size).
INSTANTIATE_TEST_SUITE_P(
    Stores, StoreContractTest,
    ::testing::Values(BackendParam{"PostgresUnnest",
                                   [] { return std::make_unique<PgBackend>(PgBatchPath::unnest); }},
                      BackendParam{"PostgresCopy",
                                   [] { return std::make_unique<PgBackend>(PgBatchPath::copy); }}),
    backend_name);

}  // namespace
}  // namespace sungrow::storage::test
