// The real sungrow-server against its own contract: every endpoint (the dashboard's sign-in and
// page included) and every error status a client can provoke, over real sockets, each reply checked
// against what docs/openapi.json gives for its (path, method, status): status listed, media type,
// required headers, body schema.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "child_process.hpp"
#include "gzip.hpp"
#include "http_client.hpp"
#include "openapi_check.hpp"
#include "postgres_instance.hpp"
#include "raw_client.hpp"
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
const std::string kToken = "contract-token-0123456789abcdef";
const std::string kOtherToken = "contract-other-0123456789abcdef";
const std::string kDevice = "roof-1";
const std::string kOtherDevice = "roof-2";

std::string upper(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

// Samples of `device` every 5 s from the fixed test epoch, numbered like a spool would.
std::vector<Sample> samples(const std::string& device, std::int64_t first, std::int64_t count) {
  std::vector<Sample> out;
  for (std::int64_t i = first; i < first + count; ++i) {
    Sample s = realistic_sample(device, i, sample_epoch());
    s.seq = i + 1;
    out.push_back(std::move(s));
  }
  return out;
}

// A batch of one sample with `member` set to `value` (raw JSON), for refusals.
std::string batch_with(std::string_view member, json::value value) {
  auto sample = to_json(samples(kDevice, 0, 1).front());
  sample[member] = std::move(value);
  return json::serialize(json::object{{"samples", json::array{sample}}});
}

class OpenApiContractTest : public ::testing::Test {
 protected:
  static const OpenApiDocument& doc() {
    static const OpenApiDocument document(read_text_file(SUNGROW_OPENAPI_JSON));
    return document;
  }

  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sungrow-openapi-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    RecordProperty("replies_validated", validated_);
    std::cout << "[ contract ] " << validated_ << " replies validated against docs/openapi.json\n";
    server_.reset();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // Each start logs to a file of its own: the ready line of an earlier server is not this one's.
  void start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--data-dir", (dir_ / "data").string(), "--device-tokens",
                                  kToken + ":" + kDevice + "," + kOtherToken + ":" + kOtherDevice};
    args.insert(args.end(), extra.begin(), extra.end());
    server_.reset();
    server_ = std::make_unique<ServerProcess>(
        kBin, args, dir_ / ("server-" + std::to_string(++starts_) + ".log"));
  }
  std::string url(const std::string& path) const { return server_->base_url() + path; }

  HttpReply post(const std::string& body, const std::string& token = kToken,
                 std::vector<std::string> headers = {}) const {
    return http_post_json(url("/v1/ingest"), body, token, std::move(headers));
  }
  HttpReply get(const std::string& target, const std::string& token = kToken) const {
    return http_get(url(target), token);
  }
  // Any request, with exactly the given header lines ("Name: value").
  HttpReply call(const std::string& method, const std::string& target,
                 std::vector<std::string> headers = {}, const std::string& body = {}) const {
    HttpRequest request;
    request.method = method;
    request.url = url(target);
    request.headers = std::move(headers);
    request.body = body;
    return http_call(request);
  }

  // A new viewer token for `devices`, its digest appended to viewers_file(), as an operator makes
  // one: `sungrow-server viewer new` prints the token alone on its line.
  std::string new_viewer(const std::vector<std::string>& devices) {
    std::vector<std::string> argv{kBin, "viewer", "new", "--file", viewers_file().string()};
    argv.insert(argv.end(), devices.begin(), devices.end());
    const auto log = dir_ / ("viewer-" + std::to_string(++viewers_) + ".log");
    ChildProcess made(argv, log);
    EXPECT_EQ(made.wait(10s), 0);
    const std::string out = read_text_file(log);
    std::string token = out.substr(0, out.find('\n'));
    EXPECT_TRUE(std::regex_match(token, std::regex("[0-9a-f]{64}"))) << out;
    return token;
  }
  fs::path viewers_file() const { return dir_ / "viewers"; }

  // The reply has `status` (and error `code`, when given) and conforms to the document's response
  // for (path, method, status).
  void conforms(std::string_view path, std::string_view method, const ObservedReply& reply,
                int status, std::string_view code = {}) {
    SCOPED_TRACE(std::string(method) + " " + std::string(path) + " → " +
                 std::to_string(reply.status) + " " + reply.body.substr(0, 300));
    EXPECT_EQ(reply.status, status);
    if (!code.empty()) expect_code(reply, code);
    const auto problems = doc().check_reply(path, method, reply);
    EXPECT_TRUE(problems.empty()) << joined(problems);
    ++validated_;
  }
  void conforms(std::string_view path, std::string_view method, const HttpReply& reply, int status,
                std::string_view code = {}) {
    ASSERT_NE(reply.status, 0) << reply.error;
    conforms(path, method, observed(reply), status, code);
  }
  // Replies no operation covers, against components/responses/<name>.
  void conforms_to(std::string_view name, const ObservedReply& reply, int status,
                   std::string_view code) {
    SCOPED_TRACE(std::string(name) + " → " + std::to_string(reply.status) + " " + reply.body);
    EXPECT_EQ(reply.status, status);
    expect_code(reply, code);
    const auto problems = doc().check_component_reply(name, reply);
    EXPECT_TRUE(problems.empty()) << joined(problems);
    ++validated_;
  }
  static void expect_code(const ObservedReply& reply, std::string_view code) {
    boost::system::error_code ec;
    const auto body = json::parse(reply.body, ec);
    ASSERT_FALSE(ec) << reply.body;
    ASSERT_TRUE(body.is_object() && body.as_object().contains("error")) << reply.body;
    EXPECT_EQ(body.at("error").as_string(), code);
  }

  fs::path dir_;
  std::unique_ptr<ServerProcess> server_;
  int starts_ = 0;
  int viewers_ = 0;
  int validated_ = 0;
};

// ---- the document ----------------------------------------------------------------------------

TEST_F(OpenApiContractTest, TheServerServesItsDocumentByteForByteAndItIsSound) {
  const std::string file = read_text_file(SUNGROW_OPENAPI_JSON);
  ASSERT_FALSE(file.empty());
  EXPECT_TRUE(doc().problems().empty()) << joined(doc().problems());

  start();
  const auto served = http_get(url("/v1/openapi.json"));  // no token: the document is public
  conforms("/v1/openapi.json", "GET", served, 200);
  EXPECT_EQ(served.body, file) << "the served document is not docs/openapi.json";
  EXPECT_EQ(served.header("content-type"), "application/json");
  EXPECT_NE(served.header("cache-control").find("max-age="), std::string::npos);
  EXPECT_TRUE(OpenApiDocument(served.body).problems().empty());
}

// The router serves exactly the documented methods of every documented path: any other method is
// 405 with an Allow header naming them.
TEST_F(OpenApiContractTest, EveryDocumentedPathTakesExactlyItsDocumentedMethods) {
  start();
  for (const auto& [path, item] : doc().json().at("paths").as_object()) {
    std::set<std::string> documented;
    for (const auto& kv : item.as_object()) documented.insert(upper(kv.key()));
    for (const std::string method : {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"}) {
      if (documented.contains(method)) continue;
      RawClient client(server_->port());
      const auto reply = client.request(method, path);
      ASSERT_TRUE(reply.has_value()) << method << " " << path;
      if (method == "HEAD") {
        EXPECT_EQ(reply->result_int(), 405U) << path;  // a reply to HEAD has no body to check
      } else {
        conforms_to("MethodNotAllowed", observed(*reply), 405, "method_not_allowed");
      }
      std::set<std::string> allowed;
      std::string allow((*reply)[boost::beast::http::field::allow]);
      for (std::size_t start = 0; start <= allow.size();) {
        const auto comma = std::min(allow.find(',', start), allow.size());
        auto name = allow.substr(start, comma - start);
        name.erase(0, name.find_first_not_of(' '));
        if (!name.empty()) allowed.insert(name);
        start = comma + 1;
      }
      EXPECT_EQ(allowed, documented) << method << " " << path << ": Allow: " << allow;
    }
  }
  RawClient head(server_->port());
  const auto reply = head.request("HEAD", "/health");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->result_int(), 405U) << "HEAD is not routed as GET";

  // Paths outside the document: the dashboard's content-hashed files, which the page names, are
  // served (GET and HEAD only); any other path is not_found.
  const auto page = http_get(url("/"));
  ASSERT_EQ(page.status, 200);
  std::set<std::string> assets;
  const std::regex asset_ref(R"re("(/assets/[A-Za-z0-9._-]+)")re");
  for (std::sregex_iterator it(page.body.begin(), page.body.end(), asset_ref), end; it != end;
       ++it) {
    assets.insert((*it)[1].str());
  }
  EXPECT_FALSE(assets.empty()) << page.body;
  for (const auto& asset : assets) {
    EXPECT_FALSE(doc().json().at("paths").as_object().contains(asset)) << asset;
    EXPECT_EQ(http_get(url(asset)).status, 200) << asset;
    RawClient poster(server_->port());
    const auto refused = poster.request("POST", asset);
    ASSERT_TRUE(refused.has_value()) << asset;
    conforms_to("MethodNotAllowed", observed(*refused), 405, "method_not_allowed");
    EXPECT_EQ((*refused)[boost::beast::http::field::allow], "GET, HEAD") << asset;
  }
  for (const std::string path : {"/assets/app.js", "/assets/", "/index.html", "/v1/me/"}) {
    RawClient client(server_->port());
    const auto missing = client.request("GET", path);
    ASSERT_TRUE(missing.has_value()) << path;
    conforms_to("NotFound", observed(*missing), 404, "not_found");
  }
}

// ---- POST /v1/ingest ---------------------------------------------------------------------------

TEST_F(OpenApiContractTest, IngestAnswersAndRefusalsAreDocumented) {
  start();
  const std::string path = "/v1/ingest";
  const auto batch = batch_to_json_text(samples(kDevice, 0, 3));
  EXPECT_TRUE(doc().validate(doc().schema("IngestRequest"), json::parse(batch)).empty());
  conforms(path, "POST", post(batch), 200);
  const auto again = post(batch);
  conforms(path, "POST", again, 200);
  EXPECT_EQ(again.body, R"({"received":3,"inserted":0})");
  conforms(path, "POST", post(R"({"samples":[]})"), 200);
  conforms(path, "POST",
           post(gzip_compress(batch_to_json_text(samples(kDevice, 3, 3))), kToken,
                {"Content-Encoding: gzip"}),
           200);

  const auto no_token = post(batch, "");
  conforms(path, "POST", no_token, 401, "unauthorized");
  EXPECT_EQ(no_token.header("www-authenticate"), R"(Bearer realm="sungrow")");
  conforms(path, "POST", post(batch, "unknown-token-unknown-token"), 401, "unauthorized");

  const auto mismatch = post(batch_to_json_text(samples(kOtherDevice, 0, 2)));
  conforms(path, "POST", mismatch, 403, "device_mismatch");
  EXPECT_EQ(json::parse(mismatch.body).at("index").as_int64(), 0);

  const auto malformed = post(R"({"samples":[{"device_id":)");
  conforms(path, "POST", malformed, 400, "malformed_json");
  EXPECT_TRUE(json::parse(malformed.body).as_object().contains("column"));
  conforms(path, "POST", post("[]"), 400, "invalid_body");
  conforms(path, "POST", post(R"({"samples":{}})"), 400, "invalid_body");
  conforms(path, "POST", post("definitely not gzip", kToken, {"Content-Encoding: gzip"}), 400,
           "bad_gzip");

  conforms(path, "POST", post(batch, kToken, {"Content-Type: text/plain"}), 415,
           "unsupported_media_type");
  conforms(path, "POST", post(batch, kToken, {"Content-Encoding: br"}), 415,
           "unsupported_encoding");

  std::string crowd = R"({"samples":[{})";
  for (int i = 0; i < 10'000; ++i) crowd += ",{}";
  conforms(path, "POST", post(crowd + "]}"), 413, "too_many_samples");

  // Many small problems in one batch: each listed with its index, field and code.
  auto bad = samples(kDevice, 10, 3);
  bad[0].battery_soc_pct = 250;
  auto body = json::parse(batch_to_json_text(bad));
  body.at("samples").as_array()[1].as_object()["grid_power_source"] = "sun";
  body.at("samples").as_array()[2].as_object().erase("seq");
  const auto invalid = post(json::serialize(body));
  conforms(path, "POST", invalid, 422, "invalid_samples");
  std::set<std::string> codes;
  const auto invalid_body = json::parse(invalid.body);
  for (const auto& p : invalid_body.at("problems").as_array()) {
    codes.emplace(p.at("code").as_string());
  }
  EXPECT_EQ(codes, (std::set<std::string>{"out_of_range", "invalid", "required"}));

  // Times outside the accepted window: the batch's error is ts_out_of_range too.
  for (const auto* ts : {"1999-12-31T23:59:59Z", "2999-01-01T00:00:00Z"}) {
    const auto refused = post(batch_with("ts", ts));
    conforms(path, "POST", refused, 422, "ts_out_of_range");
    EXPECT_EQ(json::parse(refused.body).at("problems").as_array().at(0).at("code").as_string(),
              "ts_out_of_range");
  }
  conforms(path, "POST", post(batch_with("power_flow_raw", 0)), 422, "invalid_samples");
  conforms(path, "POST", post(batch_with("running_state", -1)), 422, "invalid_samples");
}

TEST_F(OpenApiContractTest, IngestSizeLimitsAreDocumented) {
  start({"--ingest-max-bytes", "65536", "--ingest-max-decompressed-bytes", "65536"});
  const std::string path = "/v1/ingest";
  // Refused on its Content-Length, before any of it is read.
  conforms(path, "POST", post(batch_to_json_text(samples(kDevice, 0, 100))), 413, "body_too_large");
  // Small on the wire, too large once inflated.
  const auto inflated = batch_to_json_text(samples(kDevice, 0, 100));
  const auto compressed = gzip_compress(inflated);
  ASSERT_LT(compressed.size(), 65'536u);
  conforms(path, "POST", post(compressed, kToken, {"Content-Encoding: gzip"}), 413,
           "body_too_large");
  conforms(path, "POST", post(batch_to_json_text(samples(kDevice, 0, 3))), 200);
}

TEST_F(OpenApiContractTest, ADocumentNeedingTooMuchMemoryIsDocumented) {
  start();
  // 32 MiB of tiny values once inflated: within the text limit, beyond the parse's memory budget.
  std::string values = R"({"samples":[0)";
  values.reserve(32u << 20);
  while (values.size() < (32u << 20) - 16) values += ",0";
  values += "]}";
  conforms("/v1/ingest", "POST", post(gzip_compress(values, 1), kToken, {"Content-Encoding: gzip"}),
           413, "body_too_complex");
}

TEST_F(OpenApiContractTest, BodiesBeyondTheBudgetAreToldToRetry) {
  start({"--ingest-max-bytes", "1024", "--body-budget", "1024"});
  const std::string head = "POST /v1/ingest HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
                           kToken +
                           "\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n";
  // A's body is under way (the server reserved it and said 100 Continue), so B's does not fit.
  RawClient a(server_->port());
  ASSERT_TRUE(a.send(head + "Expect: 100-continue\r\n\r\n"));
  const auto go_on = a.read_reply();
  ASSERT_TRUE(go_on.has_value());
  ASSERT_EQ(go_on->result_int(), 100U);
  RawClient b(server_->port());
  ASSERT_TRUE(b.send(head + "\r\n"));
  const auto busy = b.read_reply();
  ASSERT_TRUE(busy.has_value());
  conforms("/v1/ingest", "POST", observed(*busy), 503, "busy");

  std::string body = R"({"samples":[]})";
  body.resize(1000, ' ');
  ASSERT_TRUE(a.send(body));
  const auto done = a.read_reply();
  ASSERT_TRUE(done.has_value());
  conforms("/v1/ingest", "POST", observed(*done), 200);
}

TEST_F(OpenApiContractTest, AConnectionBeyondTheCapIsToldToRetry) {
  start({"--max-connections", "1"});
  RawClient first(server_->port());
  const auto ok = first.request("GET", "/health");
  ASSERT_TRUE(ok.has_value());
  conforms("/health", "GET", observed(*ok), 200);
  RawClient second(server_->port());  // answered at once, before any request
  const auto refused = second.read_reply();
  ASSERT_TRUE(refused.has_value());
  conforms_to("Unavailable", observed(*refused), 503, "overloaded");
  conforms("/health", "GET", observed(*refused), 503, "overloaded");
}

// ---- authentication -----------------------------------------------------------------------------

TEST_F(OpenApiContractTest, RepeatedFailedAuthenticationIsAnswered429) {
  start({"--auth-failure-limit", "2", "--auth-cooldown", "60"});
  // No credential at all is no guess: answered 401, never counted.
  for (int i = 0; i < 3; ++i)
    conforms("/v1/series", "GET", get("/v1/series", ""), 401, "unauthorized");
  conforms("/v1/realtime", "GET", get("/v1/realtime", "unknown-token-unknown-token"), 401,
           "unauthorized");
  conforms("/v1/series", "GET", get("/v1/series", "unknown-token-unknown-token"), 401,
           "unauthorized");
  // The address now cools down: a wrong token is 429, a missing one still 401, a valid one served.
  conforms("/v1/realtime", "GET", get("/v1/realtime", "unknown-token-unknown-token"), 429,
           "too_many_failures");
  conforms("/v1/series", "GET", get("/v1/series", "unknown-token-unknown-token"), 429,
           "too_many_failures");
  conforms("/v1/ingest", "POST", post(R"({"samples":[]})", "unknown-token-unknown-token"), 429,
           "too_many_failures");
  conforms("/v1/ingest", "POST", post(R"({"samples":[]})", ""), 401, "unauthorized");
  conforms("/v1/ingest", "POST", post(R"({"samples":[]})"), 200);
}

// ---- GET /v1/realtime and GET /v1/series --------------------------------------------------------

// The site reads: sums, CSV, /v1/me's sites, and every refusal, against the document.
TEST_F(OpenApiContractTest, SiteReadsAndTheirRefusalsAreDocumented) {
  {
    std::ofstream sites(dir_ / "sites");
    sites << "home " << kDevice << "=master " << kOtherDevice << "=slave\nshed garage\n";
  }
  const auto viewer = new_viewer({kDevice, kOtherDevice, "garage"});
  start(
      {"--viewer-tokens-file", viewers_file().string(), "--sites-file", (dir_ / "sites").string()});
  ASSERT_EQ(post(batch_to_json_text(samples(kDevice, 0, 720))).status, 200);
  ASSERT_EQ(post(batch_to_json_text(samples(kOtherDevice, 0, 720)), kOtherToken).status, 200);

  const std::string rt = "/v1/sites/realtime";
  const auto now = get(rt + "?site_id=home", viewer);
  conforms(rt, "GET", now, 200);
  EXPECT_EQ(json::parse(now.body).at("devices").as_array().size(), 2U);
  conforms(rt, "GET", get(rt + "?site_id=shed", viewer), 404, "no_data");
  conforms(rt, "GET", get(rt + "?site_id=home"), 403, "forbidden");  // a token for roof-1 only
  conforms(rt, "GET", get(rt + "?site_id=nowhere", viewer), 403, "forbidden");
  conforms(rt, "GET", get(rt, viewer), 400, "invalid_query");
  conforms(rt, "GET", get(rt + "?site_id=home", ""), 401, "unauthorized");

  const std::string se = "/v1/sites/series";
  for (const std::string query :
       {"?site_id=home", "?site_id=home&frame=5m&from=2026-11-20T00:00:00Z&to=2026-11-20T01:00:00Z",
        "?site_id=home&frame=day&tz=Europe%2FAmsterdam", "?site_id=shed&frame=month",
        "?site_id=home&frame=hour&format=csv"}) {
    conforms(se, "GET", get(se + query, viewer), 200);
  }
  conforms(se, "GET", get(se + "?site_id=home&frame=week", viewer), 400, "invalid_query");
  conforms(se, "GET", get(se + "?site_id=home&device_id=roof-1", viewer), 400, "invalid_query");
  conforms(se, "GET", get(se + "?site_id=home", kOtherToken), 403, "forbidden");

  const auto me = get("/v1/me", viewer);
  conforms("/v1/me", "GET", me, 200);
  EXPECT_EQ(json::parse(me.body).at("sites").as_array().size(), 2U);
}

TEST_F(OpenApiContractTest, ReadsAndTheirRefusalsAreDocumented) {
  start({"--cache-ttl", "1"});
  const std::string rt = "/v1/realtime";
  conforms(rt, "GET", get(rt), 404, "no_data");
  ASSERT_EQ(post(batch_to_json_text(samples(kDevice, 0, 720))).status, 200);  // one hour

  const auto cached = get(rt);
  conforms(rt, "GET", cached, 200);
  EXPECT_EQ(json::parse(cached.body).at("source").as_string(), "cache");
  std::this_thread::sleep_for(1500ms);  // past the cache's TTL: answered by the store
  const auto stored = get(rt + "?device_id=" + kDevice);
  conforms(rt, "GET", stored, 200);
  EXPECT_EQ(json::parse(stored.body).at("source").as_string(), "store");

  conforms(rt, "GET", get(rt, ""), 401, "unauthorized");
  conforms(rt, "GET", get(rt + "?device_id=" + kOtherDevice), 403, "forbidden");
  conforms(rt, "GET", get(rt + "?device=" + kDevice), 400, "invalid_query");
  conforms(rt, "GET", get(rt + "?device_id=a%20b"), 400, "invalid_query");
  conforms(rt, "GET", get(rt + "?device_id=a&device_id=b"), 400, "invalid_query");

  const std::string se = "/v1/series";
  for (const std::string query :
       {"", "?frame=5m&from=2026-11-20T00:00:00Z&to=2026-11-20T01:00:00Z",
        "?frame=hour&tz=Europe%2FAmsterdam&from=2026-11-19T00:00:00%2B01:00",
        "?frame=day&tz=Asia/Kolkata&to=2026-11-21T00:00:00%2B05:30", "?frame=month",
        "?device_id=roof-1&frame=hour&from=2026-11-20T00:00:00Z&to=2026-11-20T02:00:00Z"}) {
    const auto reply = get(se + query);
    conforms(se, "GET", reply, 200);
  }
  const auto hour =
      json::parse(get(se + "?frame=hour&from=2026-11-20T00:00:00Z&to=2026-11-20T01:00:00Z").body);
  ASSERT_EQ(hour.at("buckets").as_array().size(), 1u);
  EXPECT_EQ(hour.at("buckets").as_array().at(0).at("samples").as_int64(), 720);
  EXPECT_FALSE(hour.at("buckets").as_array().at(0).at("pv_energy_kwh").is_null());

  conforms(se, "GET", get(se, ""), 401, "unauthorized");
  conforms(se, "GET", get(se + "?device_id=" + kOtherDevice, kToken), 403, "forbidden");
  for (const std::string query :
       {"?frame=week", "?tz=Mars%2FOlympus", "?from=yesterday", "?form=hour",
        "?from=2026-11-20T00:00:00Z&to=2026-11-19T00:00:00Z", "?frame=day&frame=hour", "?tz=%zz"}) {
    conforms(se, "GET", get(se + query), 400, "invalid_query");
  }
  conforms(se, "GET", get(se + "?frame=5m&from=2026-10-01T00:00:00Z&to=2026-11-01T00:00:00Z"), 400,
           "range_too_large");
}

// ---- the dashboard: GET / and sessions ---------------------------------------------------------

TEST_F(OpenApiContractTest, TheDashboardPageIsDocumented) {
  start();
  const auto page = http_get(url("/"));
  conforms("/", "GET", page, 200);
  EXPECT_TRUE(page.header("content-type").starts_with("text/html")) << page.header("content-type");
  EXPECT_NE(page.body.find("<html"), std::string::npos);
  const std::string etag = page.header("etag");
  ASSERT_FALSE(etag.empty());
  conforms("/", "GET", call("GET", "/", {"If-None-Match: " + etag}), 304);

  RawClient head(server_->port());
  const auto headers_only = head.request("HEAD", "/");
  ASSERT_TRUE(headers_only.has_value());
  conforms("/", "HEAD", observed(*headers_only), 200);
  EXPECT_TRUE(headers_only->body().empty());
  EXPECT_EQ((*headers_only)[boost::beast::http::field::etag], etag);
  RawClient with_body(server_->port());
  ASSERT_TRUE(with_body.send("GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"));
  const auto refused = with_body.read_reply();
  ASSERT_TRUE(refused.has_value());
  conforms("/", "GET", observed(*refused), 413, "body_not_allowed");
}

TEST_F(OpenApiContractTest, SessionsAndViewerCredentialsAreDocumented) {
  const std::string viewer = new_viewer({kDevice});
  start({"--viewer-tokens-file", viewers_file().string(), "--device-zones",
         kDevice + "=Europe/Amsterdam"});
  ASSERT_EQ(post(batch_to_json_text(samples(kDevice, 0, 12))).status, 200);
  const std::string session = "/v1/session";
  const std::string json_type = "Content-Type: application/json";
  const auto sign_in = [&](const std::string& body, std::vector<std::string> headers = {}) {
    headers.push_back(json_type);
    return call("POST", session, std::move(headers), body);
  };
  const std::string body = R"({"token":")" + viewer + R"("})";

  // Signed in: plain http on loopback gets the cookie without Secure, anything a proxy forwarded
  // the __Host- one. A same-site Origin is fine.
  const auto opened = sign_in(body, {"Origin: " + server_->base_url()});
  conforms(session, "POST", opened, 200);
  EXPECT_EQ(json::parse(opened.body), json::parse(R"({"devices":["roof-1"]})"));
  const std::string set_cookie = opened.header("set-cookie");
  ASSERT_TRUE(set_cookie.starts_with("sungrow_session=")) << set_cookie;
  EXPECT_EQ(set_cookie.find("Secure"), std::string::npos) << set_cookie;
  const std::string cookie = "Cookie: " + set_cookie.substr(0, set_cookie.find(';'));
  const auto proxied = sign_in(body, {"X-Forwarded-Proto: https"});
  conforms(session, "POST", proxied, 200);
  EXPECT_TRUE(proxied.header("set-cookie").starts_with("__Host-sungrow_session="))
      << proxied.header("set-cookie");
  EXPECT_TRUE(proxied.header("set-cookie").ends_with("; Secure")) << proxied.header("set-cookie");

  // /v1/me with each credential.
  const auto by_cookie = call("GET", "/v1/me", {cookie});
  conforms("/v1/me", "GET", by_cookie, 200);
  EXPECT_EQ(json::parse(by_cookie.body),
            json::parse(R"({"kind":"viewer","devices":[{"device_id":"roof-1",)"
                        R"("tz":"Europe/Amsterdam"}],"sites":[],"stale_after_s":30,)"
                        R"("offline_after_s":300})"));
  const auto by_viewer = get("/v1/me", viewer);
  conforms("/v1/me", "GET", by_viewer, 200);
  EXPECT_EQ(by_viewer.body, by_cookie.body);
  const auto by_device = get("/v1/me", kOtherToken);
  conforms("/v1/me", "GET", by_device, 200);
  EXPECT_EQ(json::parse(by_device.body).at("kind").as_string(), "device");
  EXPECT_TRUE(json::parse(by_device.body).at("devices").at(0).at("tz").is_null());
  const auto nobody = get("/v1/me", "");
  conforms("/v1/me", "GET", nobody, 401, "unauthorized");
  EXPECT_EQ(nobody.header("www-authenticate"), "");
  conforms("/v1/me", "GET", get("/v1/me", "unknown-token-unknown-token"), 401, "unauthorized");

  // The reads take the cookie and the viewer's token; writing takes neither.
  conforms("/v1/realtime", "GET", call("GET", "/v1/realtime", {cookie}), 200);
  conforms("/v1/realtime", "GET", get("/v1/realtime", viewer), 200);
  conforms("/v1/realtime", "GET", call("GET", "/v1/realtime?device_id=" + kOtherDevice, {cookie}),
           403, "forbidden");
  const std::string range = "?frame=hour&from=2026-11-20T00:00:00Z&to=2026-11-20T02:00:00Z";
  conforms("/v1/series", "GET", call("GET", "/v1/series" + range, {cookie}), 200);
  conforms("/v1/series", "GET", get("/v1/series" + range, viewer), 200);
  const std::string batch = batch_to_json_text(samples(kDevice, 12, 2));
  conforms("/v1/ingest", "POST", post(batch, viewer), 403, "read_only");
  conforms("/v1/ingest", "POST", call("POST", "/v1/ingest", {cookie, json_type}, batch), 403,
           "read_only");

  // Refusals of the sign-in, each before the token is looked at.
  conforms(session, "POST", sign_in(body, {"Origin: https://elsewhere.example"}), 403,
           "cross_origin");
  conforms(session, "POST", call("POST", session, {"Content-Type: text/plain"}, body), 415,
           "unsupported_media_type");
  conforms(session, "POST", sign_in(R"({"token":")" + std::string(3000, 'a') + R"("})"), 413,
           "body_too_large");
  RawClient chunked(server_->port());
  ASSERT_TRUE(chunked.send("POST /v1/session HTTP/1.1\r\nHost: test\r\n" + json_type +
                           "\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const auto unsized = chunked.read_reply();
  ASSERT_TRUE(unsized.has_value());
  conforms(session, "POST", observed(*unsized), 413, "body_too_large");
  for (const std::string bad : {"{", "[]", R"({"token":5})", R"({"token":""})", ""}) {
    conforms(session, "POST", sign_in(bad), 400, "invalid_body");
  }
  for (const std::string& token : {std::string("unknown-viewer-0123456789abcdef"), kToken}) {
    const auto refused = sign_in(R"({"token":")" + token + R"("})");
    conforms(session, "POST", refused, 401, "unauthorized");
    EXPECT_EQ(refused.header("www-authenticate"), "");
    EXPECT_EQ(refused.header("set-cookie"), "");
  }

  // Signing out: refused from another site; else the session ends and the cookie is cleared.
  conforms(session, "DELETE",
           call("DELETE", session, {cookie, "Origin: https://elsewhere.example"}), 403,
           "cross_origin");
  conforms("/v1/me", "GET", call("GET", "/v1/me", {cookie}), 200);
  const auto closed = call("DELETE", session, {cookie});
  conforms(session, "DELETE", closed, 204);
  EXPECT_TRUE(closed.header("set-cookie").starts_with("sungrow_session=;"))
      << closed.header("set-cookie");
  const auto ended = call("GET", "/v1/me", {cookie});
  conforms("/v1/me", "GET", ended, 401, "unauthorized");
  EXPECT_EQ(ended.header("www-authenticate"), "");
  conforms("/v1/realtime", "GET", call("GET", "/v1/realtime", {cookie}), 401, "unauthorized");
  conforms(session, "DELETE", call("DELETE", session), 204);  // no session: still signed out
}

TEST_F(OpenApiContractTest, WrongViewerTokensAreThrottledLikeAnyAuthentication) {
  const std::string viewer = new_viewer({kDevice, kOtherDevice});
  start({"--viewer-tokens-file", viewers_file().string(), "--auth-failure-limit", "2",
         "--auth-cooldown", "60"});
  const auto sign_in = [&](const std::string& token) {
    return call("POST", "/v1/session", {"Content-Type: application/json"},
                R"({"token":")" + token + R"("})");
  };
  for (int i = 0; i < 2; ++i) {
    conforms("/v1/session", "POST", sign_in("unknown-viewer-0123456789abcdef"), 401,
             "unauthorized");
  }
  const auto throttled = sign_in("unknown-viewer-0123456789abcdef");
  conforms("/v1/session", "POST", throttled, 429, "too_many_failures");
  conforms("/v1/me", "GET", get("/v1/me", "unknown-token-unknown-token"), 429, "too_many_failures");
  // A valid credential is never slowed.
  const auto opened = sign_in(viewer);
  conforms("/v1/session", "POST", opened, 200);
  EXPECT_EQ(json::parse(opened.body), json::parse(R"({"devices":["roof-1","roof-2"]})"));
  conforms("/v1/me", "GET", get("/v1/me", viewer), 200);
}

// ---- GET /v1/series?format=csv ------------------------------------------------------------------

TEST_F(OpenApiContractTest, SeriesAsCsvIsDocumented) {
  start();
  ASSERT_EQ(post(batch_to_json_text(samples(kDevice, 0, 720))).status, 200);  // one hour
  const std::string range = "frame=hour&from=2026-11-20T00:00:00Z&to=2026-11-20T02:00:00Z";
  const auto csv = get("/v1/series?format=csv&" + range);
  conforms("/v1/series", "GET", csv, 200);
  EXPECT_EQ(csv.header("content-type"), "text/csv; charset=utf-8");
  EXPECT_EQ(csv.header("content-disposition"),
            R"(attachment; filename="roof-1-hour-2026-11-20.csv")");
  std::vector<std::string> rows;
  for (std::size_t at = 0; at < csv.body.size();) {
    const auto end = csv.body.find("\r\n", at);
    ASSERT_NE(end, std::string::npos) << "every line ends with CRLF";
    rows.push_back(csv.body.substr(at, end - at));
    at = end + 2;
  }
  ASSERT_EQ(rows.size(), 3u) << csv.body;  // the header, then one row per bucket
  // The same buckets as the JSON form: the row's samples column is the bucket's count.
  const auto as_json = json::parse(get("/v1/series?" + range).body);
  const std::string first_start(as_json.at("buckets").at(0).at("start").as_string());
  EXPECT_TRUE(rows[1].starts_with(first_start + ",")) << rows[1];
  EXPECT_NE(rows[1].find(",720,1,"), std::string::npos) << rows[1];
  EXPECT_NE(rows[2].find(",0,0,"), std::string::npos) << rows[2];

  const auto json_reply = get("/v1/series?format=json&" + range);
  conforms("/v1/series", "GET", json_reply, 200);
  EXPECT_EQ(json::parse(json_reply.body), as_json);
  conforms("/v1/series", "GET", get("/v1/series?format=xml"), 400, "invalid_query");
  conforms("/v1/series", "GET", get("/v1/series?format=csv&format=json"), 400, "invalid_query");
  conforms("/v1/series", "GET", get("/v1/series?format=csv", ""), 401, "unauthorized");
}

// ---- GET /health and GET /metrics ---------------------------------------------------------------

TEST_F(OpenApiContractTest, HealthAndMetricsAreDocumented) {
  start();
  const auto health = http_get(url("/health"));
  conforms("/health", "GET", health, 200);
  EXPECT_EQ(health.body, R"({"status":"ok","store":{"kind":"sqlite","ok":true},)"
                         R"("cache":{"kind":"memory","ok":true}})");
  const auto metrics = http_get(url("/metrics"));
  conforms("/metrics", "GET", metrics, 200);
  EXPECT_NE(metrics.body.find("# TYPE sungrow_http_requests_total counter"), std::string::npos);
}

// ---- refusals of the HTTP transport -------------------------------------------------------------

TEST_F(OpenApiContractTest, TransportRefusalsAreDocumented) {
  start();
  const auto raw = [&](const std::string& request) {
    RawClient client(server_->port());
    EXPECT_TRUE(client.send(request));
    auto reply = client.read_reply();
    EXPECT_TRUE(reply.has_value()) << request;
    return reply ? observed(*reply) : ObservedReply{};
  };
  conforms_to("NotFound", raw("GET /v2/realtime HTTP/1.1\r\nHost: t\r\n\r\n"), 404, "not_found");
  conforms_to("MethodNotAllowed", raw("DELETE /v1/ingest HTTP/1.1\r\nHost: t\r\n\r\n"), 405,
              "method_not_allowed");
  for (const std::string path : {"/health", "/v1/realtime", "/v1/series", "/metrics"}) {
    conforms(path, "GET",
             raw("GET " + path + " HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"), 413,
             "body_not_allowed");
    conforms(path, "GET", raw("GET " + path + " HTTP/1.1\r\n\r\n"), 400, "bad_request");
    conforms(path, "GET",
             raw("GET " + path + " HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n"), 501,
             "not_implemented");
    conforms(path, "GET",
             raw("GET " + path + " HTTP/1.1\r\nHost: t\r\nX-Filler: " + std::string(9000, 'x') +
                 "\r\n\r\n"),
             431, "headers_too_large");
  }
  conforms("/v1/ingest", "POST",
           raw("POST /v1/ingest HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n"
               "Transfer-Encoding: chunked\r\n\r\n"),
           400, "bad_request");
}

// ---- PostgreSQL + Redis: the store and the cache failing ----------------------------------------

TEST_F(OpenApiContractTest, StoreAndCacheFailuresAreDocumented) {
  RedisInstance redis;
  start(
      {"--database-url", shared_postgres().fresh_database("contract"), "--redis-url", redis.url()});
  ASSERT_EQ(post(batch_to_json_text(samples(kDevice, 0, 12))).status, 200);
  const auto healthy = http_get(url("/health"));
  conforms("/health", "GET", healthy, 200);
  EXPECT_EQ(json::parse(healthy.body).at("store").at("kind").as_string(), "postgres");

  redis.stop();
  const auto degraded = http_get(url("/health"));
  conforms("/health", "GET", degraded, 200);
  EXPECT_EQ(json::parse(degraded.body).at("status").as_string(), "degraded");
  EXPECT_TRUE(json::parse(degraded.body).at("cache").as_object().contains("detail"));
  conforms("/v1/realtime", "GET", get("/v1/realtime"), 200);

  shared_postgres().stop();
  const auto unavailable = http_get(url("/health"));
  conforms("/health", "GET", unavailable, 503);
  EXPECT_EQ(json::parse(unavailable.body).at("status").as_string(), "unavailable");
  conforms("/v1/ingest", "POST", post(batch_to_json_text(samples(kDevice, 12, 3))), 503,
           "store_unavailable");
  conforms("/v1/realtime", "GET", get("/v1/realtime"), 503, "store_unavailable");
  conforms("/v1/series", "GET", get("/v1/series"), 503, "store_unavailable");
  shared_postgres().start();
}

}  // namespace
}  // namespace sungrow::test
