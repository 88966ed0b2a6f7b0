// GET /v1/sites/realtime and /v1/sites/series against a real SQLite store: the site's numbers are
// its devices' numbers summed by role, and only a credential holding every device reads them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>

#include "sample_factory.hpp"
#include "sungrow/core/sample_json.hpp"
#include "sungrow/server/api/api.hpp"
#include "sungrow/server/cache/memory_cache.hpp"
#include "sungrow/server/sites/site_table.hpp"
#include "sungrow/server/storage/sqlite_store.hpp"

namespace sungrow::api {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kHomeToken = "token-for-the-whole-home-0123";
const std::string kRoofOneToken = "token-for-roof-1-only-0123456";
const Timestamp kStart{1'774'738'800'000ms};  // 2026-03-28T23:00:00Z

class SiteApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sungrow-site-api-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    ASSERT_TRUE(tokens_.add(kHomeToken, {"roof-1", "roof-2"}));
    ASSERT_TRUE(tokens_.add(kRoofOneToken, {"roof-1"}));
    auto sites = sites::parse_sites_file("home roof-1=master roof-2=slave\n");
    ASSERT_TRUE(sites);
    sites_ = std::move(sites).value();
    auto store = storage::SqliteStore::open(dir_ / "store.db", {});
    ASSERT_TRUE(store.has_value()) << store.error().message;
    store_ = std::move(*store);
    ASSERT_TRUE(store_->migrate().has_value());
    ApiOptions options;
    options.now = [] { return kStart + 2h; };
    options.sites = &sites_;
    api_ = std::make_unique<Api>(tokens_, *store_, cache_, metrics_, options);
  }
  void TearDown() override {
    api_.reset();
    store_.reset();
    fs::remove_all(dir_);
  }

  // An hour of samples; the slave's PV is smaller, its grid numbers are noise that must not count.
  void ingest_hour() {
    for (const std::string device : {"roof-1", "roof-2"}) {
      std::vector<Sample> samples;
      for (int i = 0; i < 720; ++i) {
        Sample s = test::realistic_sample(device, i, kStart);
        s.seq = i + 1;
        s.battery_capacity_kwh = device == "roof-1" ? 9.6 : 16.0;
        if (device == "roof-2") {
          s.pv_power_w = *s.pv_power_w * 0.5;
          s.grid_power_w = 4321;
        }
        samples.push_back(std::move(s));
      }
      const auto r = api_->ingest(post(batch_to_json_text(samples)));
      ASSERT_EQ(r.status, 200) << r.body;
    }
  }

  static http::Request get(std::string path, std::string query, const std::string& token) {
    http::Request r;
    r.method = "GET";
    r.path = std::move(path);
    r.query = std::move(query);
    r.headers.push_back({"Authorization", "Bearer " + token});
    return r;
  }
  static http::Request post(std::string body) {
    http::Request r;
    r.method = "POST";
    r.path = "/v1/ingest";
    r.body = std::move(body);
    r.headers.push_back({"Content-Type", "application/json"});
    r.headers.push_back({"Authorization", "Bearer " + kHomeToken});
    return r;
  }
  static json::value body(const http::Response& r) { return json::parse(r.body); }
  static std::optional<double> number(const json::value& v) {
    if (v.is_null()) return std::nullopt;
    return v.to_number<double>();
  }

  fs::path dir_;
  auth::TokenTable tokens_;
  sites::SiteTable sites_;
  cache::MemoryCache cache_{std::chrono::minutes(10)};
  metrics::Metrics metrics_;
  std::unique_ptr<storage::SqliteStore> store_;
  std::unique_ptr<Api> api_;
};

TEST_F(SiteApiTest, SiteSeriesIsTheSumOfPvAndTheMastersGridExactly) {
  ingest_hour();
  const std::string range = "frame=5m&from=2026-03-28T23:00:00Z&to=2026-03-29T00:00:00Z";
  const auto site = api_->site_series(get("/v1/sites/series", "site_id=home&" + range, kHomeToken));
  ASSERT_EQ(site.status, 200) << site.body;
  const auto master =
      body(api_->series(get("/v1/series", "device_id=roof-1&" + range, kHomeToken)));
  const auto slave = body(api_->series(get("/v1/series", "device_id=roof-2&" + range, kHomeToken)));
  const auto s = body(site);
  EXPECT_EQ(s.at("site_id"), "home");
  EXPECT_EQ(s.at("devices").as_array().size(), 2U);
  const auto& buckets = s.at("buckets").as_array();
  ASSERT_EQ(buckets.size(), 12U);
  int compared = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    const auto& b = buckets[i];
    const auto& m = master.at("buckets").as_array()[i];
    const auto& v = slave.at("buckets").as_array()[i];
    const auto pv_m = number(m.at("pv_energy_kwh"));
    const auto pv_v = number(v.at("pv_energy_kwh"));
    if (pv_m && pv_v) {
      EXPECT_EQ(number(b.at("pv_energy_kwh")), rollup::round_to(*pv_m + *pv_v, rollup::kKwhStep));
      ++compared;
    }
    EXPECT_EQ(b.at("grid_import_kwh"), m.at("grid_import_kwh")) << i;
    EXPECT_EQ(b.at("grid_export_kwh"), m.at("grid_export_kwh")) << i;
    EXPECT_EQ(b.at("grid_power_w").at("avg"), m.at("grid_power_w").at("avg")) << i;
    EXPECT_EQ(number(b.at("pv_power_w").at("avg")),
              rollup::round_to(
                  *number(m.at("pv_power_w").at("avg")) + *number(v.at("pv_power_w").at("avg")),
                  rollup::kWattStep));
    EXPECT_EQ(b.at("samples").as_int64(), m.at("samples").as_int64() + v.at("samples").as_int64());
  }
  EXPECT_GT(compared, 10);

  // The CSV form carries the same buckets.
  const auto csv =
      api_->site_series(get("/v1/sites/series", "site_id=home&format=csv&" + range, kHomeToken));
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.content_type, "text/csv; charset=utf-8");
}

TEST_F(SiteApiTest, SiteRealtimeSumsTheNewestSamplesAndWeighsSocByCapacity) {
  ingest_hour();
  const auto r = api_->site_realtime(get("/v1/sites/realtime", "site_id=home", kHomeToken));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto v = body(r);
  const auto one = body(api_->realtime(get("/v1/realtime", "device_id=roof-1", kHomeToken)));
  const auto two = body(api_->realtime(get("/v1/realtime", "device_id=roof-2", kHomeToken)));
  EXPECT_EQ(number(v.at("pv_power_w")),
            *number(one.at("pv_power_w")) + *number(two.at("pv_power_w")));
  EXPECT_EQ(v.at("grid_power_w"), one.at("grid_power_w"));
  EXPECT_EQ(v.at("soc_weighting"), "capacity");
  EXPECT_EQ(number(v.at("battery_capacity_kwh")), 25.6);
  const double soc =
      (9.6 * *number(one.at("battery_soc_pct")) + 16.0 * *number(two.at("battery_soc_pct"))) / 25.6;
  EXPECT_EQ(number(v.at("battery_soc_pct")), rollup::round_to(soc, rollup::kPercentStep));
  ASSERT_EQ(v.at("devices").as_array().size(), 2U);
  EXPECT_EQ(v.at("devices").as_array()[1].at("role"), "slave");
  EXPECT_EQ(v.at("devices").as_array()[1].at("realtime").at("device_id"), "roof-2");
}

TEST_F(SiteApiTest, OnlyACredentialHoldingEveryDeviceReadsTheSite) {
  ingest_hour();
  for (const char* path : {"/v1/sites/realtime", "/v1/sites/series"}) {
    const auto call = [&](const std::string& query, const std::string& token) {
      const auto req = get(path, query, token);
      return std::string_view(path) == "/v1/sites/realtime" ? api_->site_realtime(req)
                                                            : api_->site_series(req);
    };
    EXPECT_EQ(call("site_id=home", kRoofOneToken).status, 403) << path;
    EXPECT_EQ(call("site_id=nowhere", kHomeToken).status, 403) << path;  // same as not held
    EXPECT_EQ(call("site_id=home", "unknown-token-0123456789abc").status, 401) << path;
    EXPECT_EQ(call("", kHomeToken).status, 400) << path;
    EXPECT_EQ(call("site_id=home&device_id=roof-1", kHomeToken).status, 400) << path;
    EXPECT_EQ(call("site_id=home", kHomeToken).status, 200) << path;
  }
  EXPECT_EQ(api_->series(get("/v1/series", "device_id=roof-2", kRoofOneToken)).status, 403);
  EXPECT_EQ(api_->realtime(get("/v1/realtime", "device_id=roof-2", kRoofOneToken)).status, 403);

  const auto me_home = body(api_->me(get("/v1/me", "", kHomeToken)));
  ASSERT_EQ(me_home.at("sites").as_array().size(), 1U);
  EXPECT_EQ(me_home.at("sites").as_array()[0].at("site_id"), "home");
  const auto me_roof = body(api_->me(get("/v1/me", "", kRoofOneToken)));
  EXPECT_TRUE(me_roof.at("sites").as_array().empty());
}

}  // namespace
}  // namespace sungrow::api
