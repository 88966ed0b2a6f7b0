// `sungrow-sim history` against a real sungrow-server: the series show the days, re-runs are
// no-ops, and a live simulator started the way the demo starts it continues the history's
// household at real time.
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
#include "sim_child.hpp"
#include "sungrow/core/sample_json.hpp"
#include "sungrow/edge/clock/inverter_clock.hpp"
#include "sungrow/edge/modbus/poller.hpp"
#include "sungrow/edge/normalize/normalizer.hpp"

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

// The demo's hand-over: a day of history up to the current minute, then the live simulator started
// with --since the history's first sample (real time, as scripts/demo runs it). Its first sample,
// read and normalized the way the edge does, continues every lifetime counter, today's counters
// and the battery within what the minutes between them allow, its inverter clock shows real local
// time, and the server sees no counter anomaly around the hand-over.
TEST_F(HistoryCliTest, TheLiveSimulatorContinuesTheHistorysHouseholdAtRealTime) {
  using std::chrono::floor;
  const auto end = floor<std::chrono::minutes>(now_utc());
  const auto first = end - std::chrono::days{1};
  const auto run = history("handover", {{"--days", "1"}, {"--end", format_rfc3339(end)}});
  ASSERT_EQ(run.status, 0) << run.output;
  const auto latest = [&] {
    const auto reply = http_get(server_->base_url() + "/v1/realtime?device_id=" + kDevice, kToken);
    EXPECT_EQ(reply.status, 200) << reply.body;
    auto decoded = sample_from_json(json::parse(reply.body));
    EXPECT_TRUE(decoded.sample) << reply.body;
    return decoded.sample.value_or(Sample{});
  };
  const Sample last = latest();
  ASSERT_EQ(last.ts, end - std::chrono::minutes{1});

  // As scripts/demo starts it: real time, the household from the history's first sample on.
  const auto sim = start_sim(kBinDir, dir_ / "sim.log",
                             {"--since", format_rfc3339(first), "--tz", "Europe/Berlin"}, "1");
  edge::ModbusSettings modbus;
  modbus.host = "127.0.0.1";
  modbus.port = static_cast<std::uint16_t>(std::stoi(sim.port));
  edge::Poller poller(modbus, 1);
  const auto polled_at = now_utc();
  const auto image = poller.poll();
  ASSERT_TRUE(image) << image.error().message;
  auto live = edge::normalize(*image, polled_at, kDevice).sample;
  const auto& c = kInverterClockRegisters;
  const auto clock_words = poller.read_extra(c.table, c.first_doc, c.count);
  const auto read_at = now_utc();
  ASSERT_TRUE(clock_words) << clock_words.error().message;

  // Real time: the inverter's clock shows Berlin's local time now (UTC+1 or +2), to the second.
  const auto inverter_local = edge::decode_inverter_clock(*clock_words);
  ASSERT_TRUE(inverter_local) << inverter_local.error().message;
  const auto ahead = inverter_local->time_since_epoch() - read_at.time_since_epoch();
  const auto zone = std::chrono::round<std::chrono::hours>(ahead);
  EXPECT_TRUE(zone == std::chrono::hours{1} || zone == std::chrono::hours{2})
      << edge::format_local(*inverter_local) << " at " << format_rfc3339(read_at);
  EXPECT_LT(std::chrono::abs(ahead - zone), 3s)
      << edge::format_local(*inverter_local) << " at " << format_rfc3339(read_at);

  // Continuity: nothing steps down, and nothing grows faster than the house can (6 kW on any
  // flow, 3 kW into or out of the 9.6 kWh battery) over the minutes since the last history sample,
  // plus one 0.1 kWh tick of the counters.
  const double hours = std::chrono::duration<double, std::ratio<3600>>(live.ts - last.ts).count();
  ASSERT_GT(hours, 0.0);
  ASSERT_LT(hours, 0.25) << "the history took too long for a meaningful bound";
  // Today's counters reset at Berlin's midnight: compared only when no midnight lies between.
  const auto same_local_day =
      floor<std::chrono::days>(last.ts + zone) == floor<std::chrono::days>(live.ts + zone);
  for (const auto& f : kMeasurementFields) {
    const std::string name{f.name};
    const bool lifetime = name.ends_with("_total_kwh");
    const bool today = name.ends_with("_today_kwh");
    if (!lifetime && !(today && same_local_day)) continue;
    ASSERT_TRUE(last.*f.member && live.*f.member) << name;
    EXPECT_GE(*(live.*f.member), *(last.*f.member)) << name << " stepped down at the hand-over";
    EXPECT_LE(*(live.*f.member) - *(last.*f.member), 6.0 * hours + 0.1001) << name;
  }
  ASSERT_TRUE(last.battery_soc_pct && live.battery_soc_pct);
  EXPECT_LE(std::abs(*live.battery_soc_pct - *last.battery_soc_pct),
            100.0 * 3.0 * hours / 9.6 + 0.11);

  // The server's view of the hours around the hand-over: the live sample continues the series.
  live.seq = 1;  // the live spool's own numbering starts again; the server keys on ts
  const std::vector<Sample> batch{live};
  const auto posted =
      http_post_json(server_->base_url() + "/v1/ingest", batch_to_json_text(batch), kToken);
  ASSERT_EQ(posted.status, 200) << posted.body;
  const auto from = floor<std::chrono::hours>(end) - std::chrono::hours{2};
  const auto to = floor<std::chrono::hours>(live.ts) + std::chrono::hours{1};
  const auto reply =
      http_get(server_->base_url() + "/v1/series?frame=hour&tz=UTC&from=" + format_rfc3339(from) +
                   "&to=" + format_rfc3339(to),
               kToken);
  ASSERT_EQ(reply.status, 200) << reply.body;
  const auto series = json::parse(reply.body);
  ASSERT_FALSE(series.at("buckets").as_array().empty()) << reply.body;
  for (const auto& value : series.at("buckets").as_array()) {
    const auto& b = value.as_object();
    EXPECT_EQ(b.at("counter_anomalies").as_int64(), 0) << json::serialize(b);
    for (const char* name : {"pv_energy_kwh", "grid_import_kwh", "grid_export_kwh",
                             "battery_charge_kwh", "battery_discharge_kwh", "load_energy_kwh"}) {
      const auto& kwh = b.at(name);
      if (kwh.is_null()) continue;
      EXPECT_GE(kwh.to_number<double>(), 0.0) << name << " " << json::serialize(b);
      EXPECT_LE(kwh.to_number<double>(), 6.1) << name << " " << json::serialize(b);
    }
  }
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
