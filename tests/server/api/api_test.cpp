// The v1 handlers over a real SQLite store and the in-process cache: status codes, bodies, auth on
// every endpoint, write-through, fallbacks and the series arithmetic through the API.
#include "sungrow/server/api/api.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <string>
#include <vector>

#include "gzip.hpp"
#include "sample_factory.hpp"
#include "sungrow/core/sample_json.hpp"
#include "sungrow/server/cache/memory_cache.hpp"
#include "sungrow/server/storage/sqlite_store.hpp"

namespace sungrow::api {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kTokenA = "token-for-device-a-0123456789";
const std::string kTokenB = "token-for-device-b-0123456789";
constexpr std::string_view kDeviceA = "sh4-a";
constexpr std::string_view kDeviceB = "sh4-b";

// 2026-03-28T23:00:00Z = local midnight in Berlin before the spring-forward day (23 h).
const Timestamp kBerlinSpringDay{1'774'738'800'000ms};

std::vector<Sample> day_of(std::string_view device, Timestamp start, int count) {
  std::vector<Sample> out;
  for (int i = 0; i < count; ++i) {
    Sample s = test::realistic_sample(std::string(device), i, start);
    s.seq = i + 1;
    out.push_back(std::move(s));
  }
  return out;
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sungrow-api-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ASSERT_TRUE(tokens_.add(kTokenA, {std::string(kDeviceA)}));
    ASSERT_TRUE(tokens_.add(kTokenB, {std::string(kDeviceB)}));
    open(storage::SqliteOptions{});
  }
  void TearDown() override {
    api_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  void open(const storage::SqliteOptions& options) {
    api_.reset();
    store_.reset();
    auto store = storage::SqliteStore::open(dir_ / "store.db", options);
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
    ASSERT_TRUE(store_->migrate().has_value());
    ApiOptions options_api;
    options_api.now = [this] { return now_; };
    api_ = std::make_unique<Api>(tokens_, *store_, cache_, metrics_, options_api);
  }

  static http::Request get(std::string path, std::string query, const std::string& token) {
    http::Request r;
    r.method = "GET";
    r.path = std::move(path);
    r.query = std::move(query);
    if (!token.empty()) r.headers.push_back({"Authorization", "Bearer " + token});
    return r;
  }

  static http::Request post(std::string body, const std::string& token,
                            std::string content_type = "application/json") {
    http::Request r;
    r.method = "POST";
    r.path = "/v1/ingest";
    r.body = std::move(body);
    if (!content_type.empty()) r.headers.push_back({"Content-Type", std::move(content_type)});
    if (!token.empty()) r.headers.push_back({"Authorization", "Bearer " + token});
    return r;
  }

  http::Response ingest(std::span<const Sample> samples, const std::string& token = kTokenA) {
    return api_->ingest(post(batch_to_json_text(samples), token));
  }

  static json::value body(const http::Response& r) { return json::parse(r.body); }
  static std::string error_code(const http::Response& r) {
    return std::string(json::parse(r.body).at("error").as_string());
  }

  fs::path dir_;
  auth::TokenTable tokens_;
  Timestamp now_ = kBerlinSpringDay + 24h;
  cache::MemoryCache cache_{std::chrono::minutes(10), 100, [this] { return steady_now_; }};
  cache::MemoryCache::Clock::time_point steady_now_{};
  metrics::Metrics metrics_;
  std::unique_ptr<storage::SqliteStore> store_;
  std::unique_ptr<Api> api_;
};

TEST_F(ApiTest, IngestInsertsAndAReplayInsertsNothing) {
  const auto samples = day_of(kDeviceA, kBerlinSpringDay, 30);
  const auto first = ingest(samples);
  ASSERT_EQ(first.status, 200) << first.body;
  EXPECT_EQ(first.body, R"({"received":30,"inserted":30})");
  const auto replay = ingest(samples);
  ASSERT_EQ(replay.status, 200);
  EXPECT_EQ(replay.body, R"({"received":30,"inserted":0})");
  const auto text = metrics_.render();
  EXPECT_NE(text.find("sungrow_samples_inserted_total 30"), std::string::npos) << text;
  EXPECT_NE(text.find("sungrow_samples_duplicate_total 30"), std::string::npos) << text;
}

TEST_F(ApiTest, IngestRefusesMissingWrongAndForeignTokens) {
  const auto samples = day_of(kDeviceA, kBerlinSpringDay, 2);
  const auto none = ingest(samples, "");
  EXPECT_EQ(none.status, 401);
  EXPECT_FALSE(none.headers.empty());
  EXPECT_EQ(none.headers.front().name, "WWW-Authenticate");
  EXPECT_EQ(ingest(samples, "not-a-known-token-at-all").status, 401);
  const auto foreign = ingest(samples, kTokenB);  // B's token, A's samples
  EXPECT_EQ(foreign.status, 403);
  EXPECT_EQ(error_code(foreign), "device_mismatch");
  EXPECT_EQ(body(ingest(samples)).at("inserted").as_int64(), 2);  // nothing was stored before
}

TEST_F(ApiTest, IngestChecksMediaTypeAndEncoding) {
  const auto text = batch_to_json_text(day_of(kDeviceA, kBerlinSpringDay, 1));
  EXPECT_EQ(api_->ingest(post(text, kTokenA, "text/plain")).status, 415);
  EXPECT_EQ(api_->ingest(post(text, kTokenA, "")).status, 415);
  EXPECT_EQ(api_->ingest(post(text, kTokenA, "Application/JSON; charset=utf-8")).status, 200);
  auto brotli = post(text, kTokenA);
  brotli.headers.push_back({"Content-Encoding", "br"});
  EXPECT_EQ(api_->ingest(brotli).status, 415);
}

TEST_F(ApiTest, IngestAcceptsGzipAndRefusesBombsAndCorruptStreams) {
  const auto text = batch_to_json_text(day_of(kDeviceA, kBerlinSpringDay, 50));
  auto zipped = post(test::gzip_compress(text), kTokenA);
  zipped.headers.push_back({"Content-Encoding", "gzip"});
  const auto ok = api_->ingest(zipped);
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(body(ok).at("inserted").as_int64(), 50);

  // 64 MiB of spaces compresses to ~64 KiB: over the 32 MiB decompressed limit.
  auto bomb = post(test::gzip_compress(std::string(64u << 20, ' ')), kTokenA);
  bomb.headers.push_back({"Content-Encoding", "gzip"});
  const auto refused = api_->ingest(bomb);
  EXPECT_EQ(refused.status, 413);
  EXPECT_EQ(error_code(refused), "body_too_large");

  auto corrupt = post(test::gzip_compress(text).substr(0, 40), kTokenA);
  corrupt.headers.push_back({"Content-Encoding", "gzip"});
  EXPECT_EQ(api_->ingest(corrupt).status, 400);
}

TEST_F(ApiTest, IngestReportsEveryInvalidFieldWithItsIndex) {
  const auto malformed = api_->ingest(post("{\"samples\":[", kTokenA));
  EXPECT_EQ(malformed.status, 400);
  auto samples = day_of(kDeviceA, kBerlinSpringDay, 3);
  auto text = batch_to_json_text(samples);
  const auto pos = text.find("\"pv_power_w\":", text.find("\"seq\":2"));
  ASSERT_NE(pos, std::string::npos);
  text.insert(pos + 13, "\"lots\",\"x\":");
  const auto invalid = api_->ingest(post(text, kTokenA));
  ASSERT_EQ(invalid.status, 422) << invalid.body;
  const auto problems = body(invalid).at("problems").as_array();
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].at("index").as_int64(), 1);
  EXPECT_EQ(problems[0].at("field").as_string(), "pv_power_w");
  // Atomic: the two valid samples of the refused batch were not stored.
  EXPECT_EQ(api_->realtime(get("/v1/realtime", "", kTokenA)).status, 404);
}

TEST_F(ApiTest, AStoreThatCannotWriteAnswers503WithRetryAfter) {
  storage::SqliteOptions tiny;
  tiny.max_page_count = 40;  // room for the schema, not for a day of samples
  open(tiny);
  const auto samples = day_of(kDeviceA, kBerlinSpringDay, 5'000);
  const auto r = ingest(samples);
  ASSERT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(error_code(r), "store_unavailable");
  ASSERT_FALSE(r.headers.empty());
  EXPECT_EQ(r.headers.front().name, "Retry-After");
  EXPECT_EQ(r.headers.front().value, "5");
  EXPECT_NE(metrics_.render().find("sungrow_store_errors_total 1"), std::string::npos);
  // Nothing half-written reached the cache.
  EXPECT_FALSE(cache_.get(kDeviceA).value().has_value());
}

TEST_F(ApiTest, RealtimeIsServedFromTheCacheWithItsAge) {
  EXPECT_EQ(api_->realtime(get("/v1/realtime", "", kTokenA)).status, 404);
  const auto samples = day_of(kDeviceA, kBerlinSpringDay, 10);
  ASSERT_EQ(ingest(samples).status, 200);
  now_ = samples.back().ts + 3'200ms;
  const auto r = api_->realtime(get("/v1/realtime", "device_id=sh4-a", kTokenA));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto v = body(r);
  EXPECT_EQ(v.at("source").as_string(), "cache");
  EXPECT_DOUBLE_EQ(v.at("age_s").to_number<double>(), 3.2);
  EXPECT_EQ(v.at("seq").as_int64(), 10);
  EXPECT_EQ(v.at("ts").as_string(), format_rfc3339(samples.back().ts));
  // Every field survives: the reply parses back to the newest sample.
  auto decoded = sample_from_json(v);
  ASSERT_TRUE(decoded.sample.has_value());
  EXPECT_EQ(*decoded.sample, samples.back());
}

// The I/O-thread answer is the worker's answer whenever it gives one; it declines what would block
// (a miss, a session cookie) and refuses what the handler refuses.
TEST_F(ApiTest, RealtimeWithoutBlockingAnswersCacheHitsAndDeclinesTheRest) {
  const auto request = get("/v1/realtime", "", kTokenA);
  EXPECT_FALSE(api_->realtime_without_blocking(request).has_value());  // nothing cached yet
  const auto samples = day_of(kDeviceA, kBerlinSpringDay, 10);
  ASSERT_EQ(ingest(samples).status, 200);
  now_ = samples.back().ts + 1'500ms;
  const auto fast = api_->realtime_without_blocking(request);
  ASSERT_TRUE(fast.has_value());
  const auto slow = api_->realtime(request);
  EXPECT_EQ(fast->status, 200);
  EXPECT_EQ(fast->body, slow.body);
  EXPECT_EQ(fast->content_type, slow.content_type);

  const auto foreign =
      api_->realtime_without_blocking(get("/v1/realtime", "device_id=sh4-b", kTokenA));
  ASSERT_TRUE(foreign.has_value());
  EXPECT_EQ(foreign->status, 403);
  const auto wrong =
      api_->realtime_without_blocking(get("/v1/realtime", "", "not-a-token-at-all-0123"));
  ASSERT_TRUE(wrong.has_value());
  EXPECT_EQ(wrong->status, 401);
  auto with_cookie = get("/v1/realtime", "", "");
  with_cookie.headers.push_back({"Cookie", std::string(kPlainSessionCookie) + "=abc"});
  EXPECT_FALSE(api_->realtime_without_blocking(with_cookie).has_value());
}

TEST_F(ApiTest, RealtimeFallsBackToTheStoreAndRefillsTheCache) {
  const auto samples = day_of(kDeviceA, kBerlinSpringDay, 10);
  ASSERT_EQ(ingest(samples).status, 200);
  steady_now_ += std::chrono::minutes(11);  // the cached entry expired
  const auto from_store = api_->realtime(get("/v1/realtime", "", kTokenA));
  ASSERT_EQ(from_store.status, 200);
  EXPECT_EQ(body(from_store).at("source").as_string(), "store");
  EXPECT_EQ(body(from_store).at("seq").as_int64(), 10);
  const auto refilled = api_->realtime(get("/v1/realtime", "", kTokenA));
  EXPECT_EQ(body(refilled).at("source").as_string(), "cache");
  const auto text = metrics_.render();
  EXPECT_NE(text.find("sungrow_cache_hits_total 1"), std::string::npos) << text;
  EXPECT_NE(text.find("sungrow_cache_misses_total 1"), std::string::npos) << text;
}

TEST_F(ApiTest, ALateBatchNeverReplacesTheNewestRealtimeSample) {
  const auto samples = day_of(kDeviceA, kBerlinSpringDay, 20);
  ASSERT_EQ(ingest(std::span(samples).subspan(10)).status, 200);
  ASSERT_EQ(ingest(std::span(samples).first(10)).status, 200);  // back-filled afterwards
  EXPECT_EQ(body(api_->realtime(get("/v1/realtime", "", kTokenA))).at("seq").as_int64(), 20);
}

TEST_F(ApiTest, ReadEndpointsEnforceTokensAndValidateTheQuery) {
  ASSERT_EQ(ingest(day_of(kDeviceA, kBerlinSpringDay, 3)).status, 200);
  for (const std::string path : {"/v1/realtime", "/v1/series"}) {
    auto call = [&](std::string query, const std::string& token) {
      const auto req = get(path, std::move(query), token);
      return path == "/v1/realtime" ? api_->realtime(req) : api_->series(req);
    };
    EXPECT_EQ(call("device_id=sh4-a", "").status, 401) << path;
    EXPECT_EQ(call("device_id=sh4-a", "wrong-token-wrong-token").status, 401) << path;
    EXPECT_EQ(call("device_id=sh4-a", kTokenB).status, 403) << path;
    EXPECT_EQ(call("device_id=sh4-b", kTokenB).status, path == "/v1/realtime" ? 404 : 200);
    // An unknown parameter is refused only after the token checks out.
    EXPECT_EQ(call("devcie_id=sh4-a", "").status, 401) << path;
    const auto typo = call("devcie_id=sh4-a", kTokenA);
    EXPECT_EQ(typo.status, 400) << path;
    EXPECT_NE(typo.body.find("devcie_id"), std::string::npos);
    EXPECT_EQ(call("device_id=sh4-a&device_id=sh4-b", kTokenA).status, 400) << path;
    EXPECT_EQ(call("device_id=%zz", kTokenA).status, 400) << path;
    const auto sql = call("device_id=x%27%3B%20DROP%20TABLE%20samples%3B--", kTokenA);
    EXPECT_EQ(sql.status, 400) << path;
    EXPECT_EQ(sql.body.find("DROP"), std::string::npos) << "the value must not be echoed";
  }
  EXPECT_EQ(body(ingest(day_of(kDeviceA, kBerlinSpringDay, 3))).at("inserted").as_int64(), 0);
}

TEST_F(ApiTest, SeriesRollsUpADstDayInItsZone) {
  // 23 h of 5-s samples from Berlin's local midnight on the spring-forward day.
  const auto samples = day_of(kDeviceA, kBerlinSpringDay, 23 * 720);
  for (std::size_t i = 0; i < samples.size(); i += 1'000) {
    const auto n = std::min<std::size_t>(1'000, samples.size() - i);
    ASSERT_EQ(ingest(std::span(samples).subspan(i, n)).status, 200);
  }
  const auto r = api_->series(get("/v1/series",
                                  "frame=hour&tz=Europe%2FBerlin&from=2026-03-29T00:00:00%2B01:00"
                                  "&to=2026-03-30T00:00:00%2B02:00",
                                  kTokenA));
  ASSERT_EQ(r.status, 200) << r.body.substr(0, 300);
  const auto v = body(r);
  EXPECT_EQ(v.at("frame").as_string(), "hour");
  EXPECT_EQ(v.at("tz").as_string(), "Europe/Berlin");
  const auto& buckets = v.at("buckets").as_array();
  ASSERT_EQ(buckets.size(), 23u);  // 02:00–03:00 does not exist that day
  EXPECT_EQ(buckets[0].at("start").as_string(), "2026-03-29T00:00:00+01:00");
  EXPECT_EQ(buckets[2].at("start").as_string(), "2026-03-29T03:00:00+02:00");
  double pv = 0;
  for (const auto& b : buckets) {
    EXPECT_EQ(b.at("samples").as_int64(), 720);
    EXPECT_DOUBLE_EQ(b.at("coverage").to_number<double>(), 1.0);
    pv += b.at("pv_energy_kwh").to_number<double>();
  }
  // Energy over the day equals the lifetime counter's progress: last - first reading.
  const double expected =
      *samples.back().pv_energy_total_kwh - *samples.front().pv_energy_total_kwh;
  EXPECT_NEAR(pv, expected, 1e-9);

  const auto day = api_->series(get("/v1/series",
                                    "frame=day&tz=Europe/Berlin&from=2026-03-29T00:00:00%2B01:00"
                                    "&to=2026-03-30T00:00:00%2B02:00",
                                    kTokenA));
  ASSERT_EQ(day.status, 200);
  const auto day_body = body(day);
  const auto& one = day_body.at("buckets").as_array();
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].at("samples").as_int64(), 23 * 720);
  EXPECT_EQ(one[0].at("end").as_string(), "2026-03-30T00:00:00+02:00");
  EXPECT_NEAR(one[0].at("pv_energy_kwh").to_number<double>(), expected, 1e-9);
}

TEST_F(ApiTest, SeriesRefusesBadParametersWithClearErrors) {
  auto status = [&](std::string query) {
    return api_->series(get("/v1/series", std::move(query), kTokenA));
  };
  EXPECT_EQ(status("frame=week").status, 400);
  EXPECT_EQ(status("tz=Mars/Olympus").status, 400);
  EXPECT_EQ(status("from=yesterday").status, 400);
  EXPECT_EQ(status("from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z").status, 400);
  const auto wide = status("frame=5m&from=2026-01-01T00:00:00Z&to=2026-03-01T00:00:00Z");
  EXPECT_EQ(wide.status, 400);
  EXPECT_EQ(error_code(wide), "range_too_large");
  // Defaults: hour frame, UTC, yesterday and today.
  const auto defaults = status("");
  ASSERT_EQ(defaults.status, 200) << defaults.body;
  EXPECT_EQ(body(defaults).at("buckets").as_array().size(), 48u);
}

TEST_F(ApiTest, HealthAndMetrics) {
  const auto health = api_->health(http::Request{});
  ASSERT_EQ(health.status, 200);
  const auto v = body(health);
  EXPECT_EQ(v.at("status").as_string(), "ok");
  EXPECT_EQ(v.at("store").at("kind").as_string(), "sqlite");
  EXPECT_EQ(v.at("cache").at("kind").as_string(), "memory");
  const auto m = api_->metrics(http::Request{});
  EXPECT_EQ(m.content_type.rfind("text/plain", 0), 0u);
  EXPECT_NE(m.body.find("# TYPE sungrow_samples_inserted_total counter"), std::string::npos);
}

// The household's balance comes with every bucket, from the bucket's own energies; format=csv
// gives the very same numbers, field for field.
TEST_F(ApiTest, SeriesCarryTheEnergyBalanceAndCsvHasTheSameNumbers) {
  const auto samples = day_of(kDeviceA, kBerlinSpringDay, 6 * 720);
  for (std::size_t i = 0; i < samples.size(); i += 1'000) {
    const auto n = std::min<std::size_t>(1'000, samples.size() - i);
    ASSERT_EQ(ingest(std::span(samples).subspan(i, n)).status, 200);
  }
  const std::string query =
      "frame=hour&tz=Europe%2FBerlin&from=2026-03-29T00:00:00%2B01:00&to=2026-03-29T06:00:00%2B02:"
      "00";
  const auto json_reply = api_->series(get("/v1/series", query, kTokenA));
  ASSERT_EQ(json_reply.status, 200);
  const auto v = body(json_reply);
  const auto& buckets = v.at("buckets").as_array();
  ASSERT_EQ(buckets.size(), 5u);
  for (const auto& b : buckets) {
    const auto num = [&](const char* k) { return b.at(k).to_number<double>(); };
    const double consumption = num("grid_import_kwh") + num("pv_energy_kwh") +
                               num("battery_discharge_kwh") - num("grid_export_kwh") -
                               num("battery_charge_kwh");
    EXPECT_NEAR(num("consumption_kwh"), consumption, 0.0006);
    EXPECT_NEAR(num("self_consumed_pv_kwh"),
                std::max(0.0, num("pv_energy_kwh") - num("grid_export_kwh")), 0.0006);
    if (consumption > 0) {
      EXPECT_NEAR(num("self_sufficiency_pct"),
                  100.0 * (1.0 - std::min(1.0, num("grid_import_kwh") / consumption)), 0.006);
    }
  }

  const auto csv = api_->series(get("/v1/series", query + "&format=csv", kTokenA));
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.content_type, "text/csv; charset=utf-8");
  ASSERT_FALSE(csv.headers.empty());
  EXPECT_EQ(csv.headers.front().name, "Content-Disposition");
  EXPECT_EQ(csv.headers.front().value.rfind("attachment; filename=\"", 0), 0u);
  std::vector<std::vector<std::string>> rows;
  for (std::size_t start = 0; start < csv.body.size();) {
    const auto end = csv.body.find("\r\n", start);
    ASSERT_NE(end, std::string::npos);
    std::vector<std::string> cells;
    const std::string line = csv.body.substr(start, end - start);
    for (std::size_t from = 0;;) {
      const auto comma = line.find(',', from);
      cells.push_back(line.substr(from, comma - from));
      if (comma == std::string::npos) break;
      from = comma + 1;
    }
    rows.push_back(std::move(cells));
    start = end + 2;
  }
  ASSERT_EQ(rows.size(), buckets.size() + 1);
  const auto& header = rows.front();
  for (std::size_t r = 1; r < rows.size(); ++r) {
    const auto& b = buckets[r - 1].as_object();
    for (std::size_t c = 0; c < header.size(); ++c) {
      const std::string& name = header[c];
      const boost::json::value* expected = b.if_contains(name);
      if (expected == nullptr) {  // a nested field: pv_power_w_avg → pv_power_w.avg
        const auto cut = name.rfind('_');
        const auto* outer = b.if_contains(name.substr(0, cut));
        ASSERT_NE(outer, nullptr) << name;
        expected = outer->as_object().if_contains(name.substr(cut + 1));
        ASSERT_NE(expected, nullptr) << name;
      }
      const std::string as_json = expected->is_string() ? std::string(expected->as_string())
                                  : expected->is_null() ? std::string()
                                                        : boost::json::serialize(*expected);
      // Boost.JSON prints doubles in its own way; compare numbers by value, text by text.
      if (expected->is_double()) {
        EXPECT_EQ(std::stod(rows[r][c]), expected->as_double()) << name;
      } else {
        EXPECT_EQ(rows[r][c], as_json) << name;
      }
    }
  }
  EXPECT_EQ(api_->series(get("/v1/series", query + "&format=xml", kTokenA)).status, 400);
}

}  // namespace
}  // namespace sungrow::api
