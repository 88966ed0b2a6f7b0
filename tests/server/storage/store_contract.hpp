// The SampleStore contract suite: one set of tests, run against every store through a backend.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "sungrow/server/storage/store.hpp"

namespace sungrow::storage::test {

// What the suite needs from a store beyond the interface: fresh databases and a raw look at the
// stored rows, read with the database's own client library (so "identical" means stored bytes).
class StoreBackend {
 public:
  StoreBackend() = default;
  StoreBackend(const StoreBackend&) = delete;
  StoreBackend& operator=(const StoreBackend&) = delete;
  virtual ~StoreBackend() = default;

  // A store on database `name`, created empty for this test at first use; not migrated.
  virtual StoreResult<std::unique_ptr<SampleStore>> open(const std::string& name) = 0;
  virtual StoreResult<std::int64_t> schema_version(SampleStore& store) = 0;
  // The version migrate() brings a fresh database to.
  virtual std::int64_t latest_schema_version() const = 0;
  // Every stored sample / base bucket / migration of database `name`, one string per row, ordered.
  virtual std::vector<std::string> samples(const std::string& name) = 0;
  virtual std::vector<std::string> buckets(const std::string& name) = 0;
  virtual std::vector<std::string> migrations(const std::string& name) = 0;
  // Every stored hour and day span ("h|…" then "d|…"), the bytes in hex, ordered.
  virtual std::vector<std::string> spans(const std::string& name) = 0;
  // Moves the stored sample (device_id, ts) to 10000-01-01T00:00:00Z with the database's own
  // client: a row an older server, which let such times through ingest, could have stored.
  virtual void move_to_year_10000(const std::string& name, const std::string& device_id,
                                  Timestamp ts) = 0;
};

struct BackendParam {
  std::string name;  // the test name suffix
  std::function<std::unique_ptr<StoreBackend>()> make;
};

class StoreContractTest : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override { backend_ = GetParam().make(); }
  void TearDown() override { backend_.reset(); }

  // Opened and migrated; nullptr (with a failure recorded) when either step fails.
  std::unique_ptr<SampleStore> open_store(const std::string& name = "store");

  std::unique_ptr<StoreBackend> backend_;
};

// gtest prints the parameter in test listings: the name, not the object's bytes.
inline void PrintTo(const BackendParam& param, std::ostream* out) {
  *out << param.name;
}

inline std::string backend_name(const ::testing::TestParamInfo<BackendParam>& info) {
  return info.param.name;
}

}  // namespace sungrow::storage::test
