// sungrow-server as a real process over real sockets: the embedded defaults (SQLite, in-process
// cache) and production parts (PostgreSQL 15 + Redis started here), with faults injected into both.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <future>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "http_client.hpp"
#include "postgres_instance.hpp"
#include "redis_instance.hpp"
#include "sample_factory.hpp"
#include "server_process.hpp"
#include "sungrow/core/sample_json.hpp"

namespace sungrow::test {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kBin = std::string(SUNGROW_BIN_DIR) + "/sungrow-server";
const std::string kToken = "e2e-token-0123456789abcdef";
const std::string kOtherToken = "e2e-other-0123456789abcdef";
const std::string kDevice = "sh4-e2e";

std::vector<Sample> samples(std::int64_t first, std::int64_t count) {
  std::vector<Sample> out;
  for (std::int64_t i = first; i < first + count; ++i) {
    Sample s = realistic_sample(kDevice, i, sample_epoch());
    s.seq = i + 1;
    out.push_back(std::move(s));
  }
  return out;
}

json::value parse(const HttpReply& r) {
  return json::parse(r.body);
}

class ServerE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sungrow-server-e2e-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    server_.reset();
    if (HasFailure()) return;  // keep the logs of a failed test
    fs::remove_all(dir_);
  }

  void start(std::vector<std::string> extra = {}, std::vector<std::string> env = {}) {
    std::vector<std::string> args{
        "--data-dir",      (dir_ / "data").string(),
        "--device-tokens", kToken + ":" + kDevice + "," + kOtherToken + ":other-device",
        "--log-level",     "debug"};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<ServerProcess>(kBin, args, dir_ / "server.log", std::move(env));
  }

  HttpReply ingest(std::int64_t first, std::int64_t count, const std::string& token = kToken) {
    const auto batch = samples(first, count);
    return http_post_json(url("/v1/ingest"), batch_to_json_text(batch), token);
  }
  std::string url(const std::string& path) const { return server_->base_url() + path; }

  fs::path dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(ServerE2eTest, EmbeddedDefaultsServeTheWholeApi) {
  start();
  const auto first = ingest(0, 30);
  ASSERT_EQ(first.status, 200) << first.body << first.error;
  EXPECT_EQ(first.body, R"({"received":30,"inserted":30})");
  EXPECT_EQ(ingest(0, 30).body, R"({"received":30,"inserted":0})");

  const auto realtime = http_get(url("/v1/realtime"), kToken);
  ASSERT_EQ(realtime.status, 200) << realtime.body;
  EXPECT_EQ(parse(realtime).at("seq").as_int64(), 30);
  EXPECT_EQ(parse(realtime).at("source").as_string(), "cache");

  const auto series =
      http_get(url("/v1/series?frame=5m&tz=Europe%2FBerlin&from=2026-11-20T00:00:00Z"
                   "&to=2026-11-20T00:05:00Z"),
               kToken);
  ASSERT_EQ(series.status, 200) << series.body;
  const auto series_body = parse(series);
  const auto& buckets = series_body.at("buckets").as_array();
  ASSERT_EQ(buckets.size(), 1u);
  EXPECT_EQ(buckets[0].at("samples").as_int64(), 30);
  EXPECT_EQ(buckets[0].at("start").as_string(), "2026-11-20T01:00:00+01:00");

  const auto health = http_get(url("/health"));
  ASSERT_EQ(health.status, 200);
  EXPECT_EQ(parse(health).at("status").as_string(), "ok");
  EXPECT_EQ(parse(health).at("store").at("kind").as_string(), "sqlite");

  const auto metrics = http_get(url("/metrics"));
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find(R"(sungrow_http_requests_total{route="/v1/ingest",status="200"} 2)"),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("sungrow_samples_inserted_total 30"), std::string::npos);

  EXPECT_EQ(http_get(url("/nope"), kToken).status, 404);
  HttpRequest wrong_method;
  wrong_method.method = "DELETE";
  wrong_method.url = url("/v1/ingest");
  const auto not_allowed = http_call(wrong_method);
  EXPECT_EQ(not_allowed.status, 405);
  EXPECT_NE(not_allowed.header("allow").find("POST"), std::string::npos);

  EXPECT_EQ(server_->terminate(), 0);
  const auto log = server_->log();
  EXPECT_NE(log.find("/v1/ingest"), std::string::npos) << "one access-log line per request";
  EXPECT_EQ(log.find(kToken), std::string::npos) << "a token reached the log";
  EXPECT_TRUE(fs::exists(dir_ / "data" / "sungrow.db"));
}

TEST_F(ServerE2eTest, TokensAreCheckedOnEveryEndpointThatNamesADevice) {
  start();
  ASSERT_EQ(ingest(0, 3).status, 200);
  EXPECT_EQ(ingest(3, 3, "").status, 401);
  EXPECT_EQ(ingest(3, 3, "unknown-token-unknown-token").status, 401);
  EXPECT_EQ(ingest(3, 3, kOtherToken).status, 403);
  for (const std::string path :
       {"/v1/realtime?device_id=sh4-e2e", "/v1/series?device_id=sh4-e2e&frame=hour"}) {
    EXPECT_EQ(http_get(url(path)).status, 401) << path;
    EXPECT_EQ(http_get(url(path), "unknown-token-unknown-token").status, 401) << path;
    EXPECT_EQ(http_get(url(path), kOtherToken).status, 403) << path;
    EXPECT_EQ(http_get(url(path), kToken).status, 200) << path;
  }
  EXPECT_EQ(parse(http_get(url("/v1/realtime"), kToken)).at("seq").as_int64(), 3);
}

TEST_F(ServerE2eTest, AnOversizedBodyIsRefusedBeforeItIsRead) {
  start({"--ingest-max-bytes", "4096"});
  const auto big = ingest(0, 100);  // ~100 kB of JSON
  EXPECT_EQ(big.status, 413) << big.body << big.error;
  EXPECT_EQ(ingest(0, 3).status, 200) << "the server keeps serving";
}

TEST_F(ServerE2eTest, BadConfigurationExitsWithOneMessagePerProblem) {
  ChildProcess bad({kBin, "--port", "70000", "--cache-ttl", "0", "--database-url", "mysql://x",
                    "--device-tokens", "short:dev"},
                   dir_ / "bad.log");
  EXPECT_EQ(bad.wait(10s), 2);
  const std::string text = read_text_file(dir_ / "bad.log");
  EXPECT_NE(text.find("PORT"), std::string::npos) << text;
  EXPECT_NE(text.find("CACHE_TTL_S"), std::string::npos) << text;
  EXPECT_NE(text.find("DATABASE_URL"), std::string::npos) << text;

  ChildProcess short_token(
      {kBin, "--data-dir", (dir_ / "d").string(), "--device-tokens", "short:dev", "--port", "0"},
      dir_ / "short.log");
  EXPECT_EQ(short_token.wait(10s), 2);
  const std::string text2 = read_text_file(dir_ / "short.log");
  EXPECT_NE(text2.find("token"), std::string::npos) << text2;
  EXPECT_EQ(text2.find("short:dev"), std::string::npos) << "the entry must not be echoed";
}

TEST_F(ServerE2eTest, EveryBinaryTellsItsVersion) {
  for (const std::string name : {"sungrow-server", "sungrow-edge", "sungrow-sim"}) {
    ChildProcess version({std::string(SUNGROW_BIN_DIR) + "/" + name, "--version"},
                         dir_ / (name + ".log"));
    ASSERT_EQ(version.wait(10s), 0) << name;
    const auto text = read_text_file(dir_ / (name + ".log"));
    EXPECT_TRUE(std::regex_search(text, std::regex("^" + name + R"( \d+\.\d+\.\d+\n$)"))) << text;
  }
}

TEST_F(ServerE2eTest, TokenNewPrintsALineTheServerAccepts) {
  ChildProcess token({kBin, "token", "new", "roof-1"}, dir_ / "token.log");
  ASSERT_EQ(token.wait(10s), 0);
  const std::string out = read_text_file(dir_ / "token.log");
  const std::string line = out.substr(0, out.find('\n'));
  ASSERT_EQ(line.size(), 64u + 1 + 6) << line;
  EXPECT_TRUE(line.ends_with(":roof-1"));
  std::ofstream(dir_ / "tokens") << "# generated\n" << line << "\n";
  server_ = std::make_unique<ServerProcess>(
      kBin,
      std::vector<std::string>{"--data-dir", (dir_ / "data").string(), "--device-tokens-file",
                               (dir_ / "tokens").string()},
      dir_ / "server.log");
  const auto r = http_get(url("/v1/realtime"), line.substr(0, 64));
  EXPECT_EQ(r.status, 404) << r.body;  // authenticated, no data yet
}

// ---- PostgreSQL + Redis -------------------------------------------------------------------------

class ServerProductionE2eTest : public ServerE2eTest {
 protected:
  void start_production() {
    database_ = shared_postgres().fresh_database("e2e");
    start({"--database-url", database_, "--redis-url", redis_.url(), "--cache-ttl", "60"});
  }
  std::string database_;
  RedisInstance redis_;
};

TEST_F(ServerProductionE2eTest, PostgresAndRedisServeTheApi) {
  start_production();
  ASSERT_EQ(ingest(0, 100).status, 200);
  EXPECT_EQ(ingest(50, 100).body, R"({"received":100,"inserted":50})");
  const auto realtime = http_get(url("/v1/realtime"), kToken);
  ASSERT_EQ(realtime.status, 200) << realtime.body;
  EXPECT_EQ(parse(realtime).at("seq").as_int64(), 150);
  EXPECT_EQ(parse(realtime).at("source").as_string(), "cache");
  const auto health = parse(http_get(url("/health")));
  EXPECT_EQ(health.at("status").as_string(), "ok");
  EXPECT_EQ(health.at("store").at("kind").as_string(), "postgres");
  EXPECT_EQ(health.at("cache").at("kind").as_string(), "redis");
}

TEST_F(ServerProductionE2eTest, RedisDownDegradesButNeverFails) {
  start_production();
  ASSERT_EQ(ingest(0, 10).status, 200);
  redis_.stop();
  const auto realtime = http_get(url("/v1/realtime"), kToken);
  ASSERT_EQ(realtime.status, 200) << realtime.body;
  EXPECT_EQ(parse(realtime).at("source").as_string(), "store");
  EXPECT_EQ(ingest(10, 10).status, 200) << "ingest does not depend on the cache";
  const auto health = http_get(url("/health"));
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(parse(health).at("status").as_string(), "degraded");

  redis_.restart();
  redis_.pause();  // a hung Redis: replies still come, bounded by the cache's timeouts
  const auto hung = http_get(url("/v1/realtime"), kToken);
  EXPECT_EQ(hung.status, 200) << hung.error;
  EXPECT_EQ(parse(hung).at("seq").as_int64(), 20);
  redis_.resume();

  // Back: the next ingest writes through again and reads are hits.
  std::this_thread::sleep_for(1200ms);  // past the cache's reconnect backoff
  ASSERT_EQ(ingest(20, 10).status, 200);
  const auto back = http_get(url("/v1/realtime"), kToken);
  EXPECT_EQ(parse(back).at("seq").as_int64(), 30);
  EXPECT_EQ(parse(back).at("source").as_string(), "cache");
}

TEST_F(ServerProductionE2eTest, PostgresRestartLosesNothingAndDuplicatesNothing) {
  start_production();
  // An edge-like client: batches of 20 with retries on anything but 200, while PostgreSQL is
  // restarted in immediate mode (a crash) twice underneath.
  constexpr std::int64_t kBatches = 60;
  constexpr std::int64_t kBatch = 20;
  auto client = std::async(std::launch::async, [&] {
    int retries = 0;
    for (std::int64_t b = 0; b < kBatches; ++b) {
      for (;;) {
        const auto r = ingest(b * kBatch, kBatch);
        if (r.status == 200) break;
        if (r.status == 503) {
          EXPECT_FALSE(r.header("retry-after").empty());
        } else {
          ADD_FAILURE() << "unexpected " << r.status << " " << r.body << r.error;
        }
        ++retries;
        std::this_thread::sleep_for(100ms);
      }
      std::this_thread::sleep_for(10ms);
    }
    return retries;
  });
  std::this_thread::sleep_for(300ms);
  shared_postgres().restart_immediate();
  std::this_thread::sleep_for(300ms);
  shared_postgres().restart_immediate();
  const int retries = client.get();
  RecordProperty("retries", retries);
  EXPECT_GT(retries, 0) << "no request met the restarts: the test proved nothing";

  // The oracle: every sample exactly once — a day-frame series counts them all.
  const auto series = http_get(
      url("/v1/series?frame=day&tz=UTC&from=2026-11-20T00:00:00Z&to=2026-11-21T00:00:00Z"), kToken);
  ASSERT_EQ(series.status, 200) << series.body;
  EXPECT_EQ(parse(series).at("buckets").as_array()[0].at("samples").as_int64(), kBatches * kBatch);
  EXPECT_EQ(ingest(0, kBatches * kBatch).body,
            R"({"received":1200,"inserted":0})");  // a full replay inserts nothing
}

TEST_F(ServerProductionE2eTest, PostgresDownAnswers503AndHealthSaysSo) {
  start_production();
  ASSERT_EQ(ingest(0, 5).status, 200);
  shared_postgres().stop();
  const auto refused = ingest(5, 5);
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_FALSE(refused.header("retry-after").empty());
  const auto health = http_get(url("/health"));
  EXPECT_EQ(health.status, 503);
  EXPECT_EQ(parse(health).at("status").as_string(), "unavailable");
  // The cache still answers realtime while the store is down.
  EXPECT_EQ(http_get(url("/v1/realtime"), kToken).status, 200);
  shared_postgres().start();
  HttpReply after;
  for (int i = 0; i < 50 && after.status != 200; ++i) {
    after = ingest(5, 5);
    if (after.status != 200) std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(after.body, R"({"received":5,"inserted":5})");
  EXPECT_EQ(http_get(url("/health")).status, 200);
}

TEST_F(ServerProductionE2eTest, TwoServersMigratingAtOnceBothSucceed) {
  database_ = shared_postgres().fresh_database("migrate");
  ChildProcess a({kBin, "migrate", "--database-url", database_}, dir_ / "a.log");
  ChildProcess b({kBin, "migrate", "--database-url", database_}, dir_ / "b.log");
  EXPECT_EQ(a.wait(30s), 0);
  EXPECT_EQ(b.wait(30s), 0);
  ChildProcess again({kBin, "migrate", "--database-url", database_}, dir_ / "c.log");
  EXPECT_EQ(again.wait(30s), 0);
}

}  // namespace
}  // namespace sungrow::test
