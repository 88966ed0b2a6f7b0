// The contract suite against PgStore on a real PostgreSQL 15: a fresh database per name per test.
#include <fmt/format.h>
#include <libpq-fe.h>

#include <map>
#include <memory>

#include "postgres_instance.hpp"
#include "store_contract.hpp"
#include "sungrow/server/storage/pg_connection.hpp"
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
  std::int64_t latest_schema_version() const override { return 3; }

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
    const std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(conninfo(name).c_str()),
                                                            &PQfinish);
    ASSERT_EQ(PQstatus(conn.get()), CONNECTION_OK) << PQerrorMessage(conn.get());
    const std::string sql = fmt::format(
        "UPDATE samples SET ts = '10000-01-01T00:00:00Z' WHERE device_id = '{}' AND ts = '{}'",
        device_id, format_rfc3339(ts));
    const PgResult result(PQexec(conn.get(), sql.c_str()));
    ASSERT_EQ(PQresultStatus(result.get()), PGRES_COMMAND_OK) << PQresultErrorMessage(result.get());
    ASSERT_STREQ(PQcmdTuples(const_cast<PGresult*>(result.get())), "1");
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
    std::vector<std::string> rows;
    const std::unique_ptr<PGconn, decltype(&PQfinish)> conn(PQconnectdb(conninfo(name).c_str()),
                                                            &PQfinish);
    if (PQstatus(conn.get()) != CONNECTION_OK) {
      ADD_FAILURE() << PQerrorMessage(conn.get());
      return rows;
    }
    const PgResult result(PQexec(conn.get(), sql));
    if (PQresultStatus(result.get()) != PGRES_TUPLES_OK) {
      ADD_FAILURE() << PQresultErrorMessage(result.get());
      return rows;
    }
    for (int r = 0; r < PQntuples(result.get()); ++r) {
      rows.emplace_back(PQgetvalue(result.get(), r, 0));
    }
    return rows;
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
                      BackendParam{
                          "PostgresCopyStaging",
                          [] { return std::make_unique<PgBackend>(PgBatchPath::copy_staging); }}),
    backend_name);

}  // namespace
}  // namespace sungrow::storage::test
