// The contract suite against SqliteStore: one temp directory per test, a file per database name.
#include <fmt/format.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <memory>

#include "store_contract.hpp"
#include "sungrow/server/storage/sqlite_store.hpp"

namespace sungrow::storage::test {
namespace {

namespace fs = std::filesystem;

class SqliteBackend final : public StoreBackend {
 public:
  SqliteBackend() {
    static int next = 0;
    dir_ = fs::temp_directory_path() /
           ("sungrow-contract-" + std::to_string(::getpid()) + "-" + std::to_string(next++));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  ~SqliteBackend() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  StoreResult<std::unique_ptr<SampleStore>> open(const std::string& name) override {
    auto opened = SqliteStore::open(path(name));
    if (!opened) return opened.error();
    return std::unique_ptr<SampleStore>(std::move(opened).value());
  }
  StoreResult<std::int64_t> schema_version(SampleStore& store) override {
    return dynamic_cast<SqliteStore&>(store).schema_version();
  }
  std::int64_t latest_schema_version() const override { return 4; }

  std::vector<std::string> samples(const std::string& name) override {
    return dump(name, "SELECT device_id, ts_ms, seq, body FROM samples ORDER BY 1, 2");
  }
  std::vector<std::string> buckets(const std::string& name) override {
    return dump(name, "SELECT device_id, start_ms, data FROM base_buckets ORDER BY 1, 2");
  }
  std::vector<std::string> spans(const std::string& name) override {
    return dump(name,
                "SELECT * FROM (SELECT 'h', device_id, start_ms, hex(data) FROM hour_spans "
                "UNION ALL SELECT 'd', device_id, start_ms, hex(data) FROM day_spans) "
                "ORDER BY 1 DESC, 2, 3");
  }
  std::vector<std::string> migrations(const std::string& name) override {
    return dump(name, "SELECT version FROM schema_migrations ORDER BY 1");
  }
  void move_to_year_10000(const std::string& name, const std::string& device_id,
                          Timestamp ts) override {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open_v2(path(name).c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
    const std::unique_ptr<sqlite3, decltype(&sqlite3_close)> db(raw, &sqlite3_close);
    const std::string sql = fmt::format(
        "UPDATE samples SET ts_ms = 253402300800000, "
        "body = json_set(body, '$.ts', '10000-01-01T00:00:00.000Z') "
        "WHERE device_id = '{}' AND ts_ms = {}",
        device_id, unix_millis(ts));
    char* error = nullptr;
    ASSERT_EQ(sqlite3_exec(db.get(), sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << error;
    ASSERT_EQ(sqlite3_changes(db.get()), 1);
  }

 private:
  fs::path path(const std::string& name) const { return dir_ / (name + ".db"); }

  // Every row of `sql`, columns joined by '|' (no trailing one), read-only on its own connection.
  std::vector<std::string> dump(const std::string& name, const char* sql) const {
    std::vector<std::string> rows;
    sqlite3* raw = nullptr;
    if (sqlite3_open_v2(path(name).c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << "cannot open " << path(name);
      sqlite3_close(raw);
      return rows;
    }
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(raw, sql, -1, &stmt, nullptr), SQLITE_OK) << sqlite3_errmsg(raw);
    while (sqlite3_step(stmt) == SQLITE_ROW) {
      std::string row;
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        if (c > 0) row += '|';
        const auto* text = sqlite3_column_text(stmt, c);
        row += text != nullptr ? reinterpret_cast<const char*>(text) : "NULL";
      }
      rows.push_back(row);
    }
    sqlite3_finalize(stmt);
    sqlite3_close(raw);
    return rows;
  }

  fs::path dir_;
};

INSTANTIATE_TEST_SUITE_P(Stores, StoreContractTest,
                         ::testing::Values(BackendParam{
                             "Sqlite", [] { return std::make_unique<SqliteBackend>(); }}),
                         backend_name);

}  // namespace
}  // namespace sungrow::storage::test
