// `sungrow-sim history` against a real sungrow-server: the series show the days, re-runs are
// no-ops.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "http_client.hpp"
#include "server_process.hpp"

namespace sungrow::test {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kBinDir = SUNGROW_BIN_DIR;
const std::string kToken = "history-cli-token-0123456789";
const std::string kDevice = "sh4-history-cli";
// Local midnight in Berlin (summer time), so the two days are exactly two day buckets.
const std::string kEnd = "2026-06-20T00:00:00+02:00";
// Generation, upload and the server's rollups on a loaded 2-core machine (or under ASan).
constexpr auto kRunTimeout = 180s;

class HistoryCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sungrow-history-cli-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    server_ = std::make_unique<ServerProcess>(
        kBinDir + "/sungrow-server",
        std::vector<std::string>{"--data-dir", (dir_ / "data").string(), "--device-tokens",
                                 kToken + ":" + kDevice},
        dir_ / "server.log");
  }
  void TearDown() override {
    server_.reset();
    if (!HasFailure()) fs::remove_all(dir_);  // keep the logs of a failed test
  }

  struct Run {
    std::optional<int> status;
    std::string output;
  };

  // `sungrow-sim history` for two days to the server; `extra` flags replace the defaults.
  Run history(const std::string& name, std::vector<std::pair<std::string, std::string>> extra = {},
              const std::string& token = kToken) {
    std::vector<std::pair<std::string, std::string>> flags{
        {"--days", "2"},          {"--step", "60"},
        {"--device-id", kDevice}, {"--ingest-url", server_->base_url() + "/v1/ingest"},
        {"--token", token},       {"--end", kEnd},
        {"--tz", "Europe/Berlin"}};
    for (auto& [flag, value] : extra) {
      const auto it =
          std::find_if(flags.begin(), flags.end(), [&](const auto& f) { return f.first == flag; });
      if (it != flags.end())
        it->second = value;
      else
        flags.emplace_back(flag, value);
    }
    std::vector<std::string> argv{kBinDir + "/sungrow-sim", "history"};
    for (const auto& [flag, value] : flags) argv.insert(argv.end(), {flag, value});
    const auto log = dir_ / (name + ".log");
    ChildProcess child(argv, log);
    Run run;
    run.status = child.wait(kRunTimeout);
    run.output = read_text_file(log);
    return run;
  }

  fs::path dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(HistoryCliTest, TwoDaysShowAsTwoDayBucketsWithPlausibleEnergyAndAReRunInsertsNothing) {
  const auto first = history("first");
  ASSERT_EQ(first.status, 0) << first.output;
  EXPECT_NE(first.output.find("history: sent 2880 samples, inserted 2880 (0 already there)"),
            std::string::npos)
      << first.output;

  const auto reply =
      http_get(server_->base_url() +
                   "/v1/series?frame=day&tz=Europe/Berlin"
                   "&from=2026-06-18T00:00:00%2B02:00&to=2026-06-20T00:00:00%2B02:00",
               kToken);
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto body = json::parse(reply.body);
  const auto& buckets = body.at("buckets").as_array();
  ASSERT_EQ(buckets.size(), 2U) << reply.body;
  EXPECT_EQ(buckets[0].at("start").as_string(), "2026-06-18T00:00:00+02:00");
  EXPECT_EQ(buckets[1].at("start").as_string(), "2026-06-19T00:00:00+02:00");
  for (const auto& value : buckets) {
    const auto& b = value.as_object();
    const auto kwh = [&](const char* name) { return b.at(name).to_number<double>(); };
    EXPECT_EQ(b.at("samples").as_int64(), 1440) << json::serialize(b);
    // A 4.5 kWp roof in June and a household's day: the model's ranges, loosely.
    EXPECT_GT(kwh("pv_energy_kwh"), 3.0) << json::serialize(b);
    EXPECT_LT(kwh("pv_energy_kwh"), 40.0) << json::serialize(b);
    EXPECT_GT(kwh("load_energy_kwh"), 3.0) << json::serialize(b);
    EXPECT_LT(kwh("load_energy_kwh"), 30.0) << json::serialize(b);
    // What the lifetime counters say the house used (in − out) must be what the series reports
    // from the derived daily load counter, within the counters' 0.1 kWh ticks (five of them on
    // each side). Without the edge's LoadEnergyHold every dip's recovery was counted again:
    // ~17 % too much load.
    const double used = kwh("pv_energy_kwh") + kwh("grid_import_kwh") +
                        kwh("battery_discharge_kwh") - kwh("grid_export_kwh") -
                        kwh("battery_charge_kwh");
    EXPECT_GT(used, 3.0) << json::serialize(b);
    EXPECT_LT(used, 30.0) << json::serialize(b);
    EXPECT_NEAR(kwh("load_energy_kwh"), used, 0.5) << json::serialize(b);
    EXPECT_EQ(b.at("counter_anomalies").as_int64(), 0) << json::serialize(b);
  }

  const auto again = history("again");
  ASSERT_EQ(again.status, 0) << again.output;
  EXPECT_NE(again.output.find("history: sent 2880 samples, inserted 0 (2880 already there)"),
            std::string::npos)
      << again.output;
}

TEST_F(HistoryCliTest, AWrongTokenExitsOneWithTheServersAnswer) {
  const auto run = history("wrong-token", {}, "not-the-token-0123456789");
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_NE(run.output.find("HTTP 401"), std::string::npos) << run.output;
  EXPECT_EQ(run.output.find("not-the-token-0123456789"), std::string::npos) << run.output;
}

TEST_F(HistoryCliTest, AnUnreachableServerExitsOneAfterTheAttempts) {
  ASSERT_EQ(server_->terminate(), 0);
  const auto run = history("unreachable", {{"--attempts", "2"}});
  EXPECT_EQ(run.status, 1) << run.output;
  EXPECT_NE(run.output.find("after 2 attempt(s)"), std::string::npos) << run.output;
}

TEST_F(HistoryCliTest, BadFlagsExitTwoAndNameTheFlag) {
  const std::vector<std::pair<std::pair<std::string, std::string>, std::string>> cases{
      {{"--step", "7"}, "step"},
      {{"--end", "yesterday"}, "--end"},
      {{"--tz", "Mars/Base"}, "Mars/Base"},
      {{"--batch-size", "0"}, "batch size"},
      {{"--ca-file", "/nonexistent/ca.pem"}, "--ca-file"},
  };
  for (const auto& [flag, needle] : cases) {
    const auto run = history("bad-flags", {flag});
    EXPECT_EQ(run.status, 2) << flag.first << ": " << run.output;
    EXPECT_NE(run.output.find(needle), std::string::npos) << run.output;
  }
}

}  // namespace
}  // namespace sungrow::test
