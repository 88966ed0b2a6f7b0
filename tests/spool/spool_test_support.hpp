// Shared by the spool tests: a fresh temporary directory per test and sample builders.
#pragma once

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

#include "sungrow/core/sample_json.hpp"
#include "sungrow/edge/spool/spool.hpp"

namespace sungrow::edge::test {

// A directory of its own for each test, removed afterwards (kept when the test failed, to look at).
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "spool-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    if (testing::Test::HasFailure()) return;
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(std::string_view name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

inline Timestamp at_ms(std::int64_t ms) {
  return Timestamp{std::chrono::milliseconds{ms}};
}

// 2026-11-26T12:00:00Z, a fixed origin so tests never depend on the wall clock.
inline constexpr std::int64_t kT0 = 1'795'694'400'000;

inline Sample make_sample(std::string device, std::int64_t ts_ms, double pv_w = 1234.5) {
  Sample s;
  s.device_id = std::move(device);
  s.ts = at_ms(ts_ms);
  s.pv_power_w = pv_w;
  s.battery_soc_pct = 55.5;
  s.grid_power_source = GridPowerSource::meter;
  return s;
}

// The sample inside a stored JSON body (the codec the uploader sends).
inline Sample decode_body(const std::string& json) {
  auto decoded = sample_from_json(boost::json::parse(json));
  if (!decoded.sample) throw std::runtime_error("stored body does not decode: " + json);
  return *decoded.sample;
}

inline Spool open_or_die(const std::filesystem::path& path, SpoolOptions options = {}) {
  auto spool = Spool::open(path, options);
  if (!spool) throw std::runtime_error(spool.error().message);
  return std::move(*spool);
}

}  // namespace sungrow::edge::test
