// GET /v1/stream against the real server binary: Server-Sent Events over a raw socket — the
// newest sample first, each newer committed sample pushed, older ones never, keep-alive comments,
// credentials re-checked (a signed-out session's stream ends), stream limits, a prompt stop.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "caddy_instance.hpp"
#include "http_client.hpp"
#include "raw_client.hpp"
#include "sample_factory.hpp"
#include "server_process.hpp"
#include "sungrow/core/sample_json.hpp"
#include "sungrow/server/auth/tokens.hpp"

namespace sungrow::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kBin = std::string(SUNGROW_BIN_DIR) + "/sungrow-server";
const std::string kDeviceToken = "stream-device-token-0123456789abcdef";
const std::string kViewerToken = "stream-viewer-token-0123456789abcdef";
const std::string kDevice = "roof-1";
const std::string kOtherDevice = "garage";

class StreamE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("sungrow-stream-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "devices") << kDeviceToken << ":" << kDevice << "\n"
                                    << "garage-token-0123456789abcdefghij:" << kOtherDevice << "\n";
    const std::vector<std::string> devices{kDevice};
    std::ofstream(dir_ / "viewers") << auth::viewer_tokens_line(kViewerToken, devices) << "\n";
  }

  void TearDown() override {
    server_.reset();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  void start(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--data-dir",           (dir_ / "data").string(),
                                  "--device-tokens-file", (dir_ / "devices").string(),
                                  "--viewer-tokens-file", (dir_ / "viewers").string(),
                                  "--stream-keepalive",   "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    server_ = std::make_unique<ServerProcess>(kBin, args, dir_ / "server.log");
  }

  // Ingests the i-th realistic sample of the device with `pv` W of PV power (a value no other
  // sample in the test has, so the stream's text can be searched for it).
  void ingest(std::int64_t i, double pv) {
    Sample s = realistic_sample(kDevice, i, now_utc() - 1h);
    s.seq = i + 1;
    s.pv_power_w = pv;
    const std::vector<Sample> batch{s};
    const auto reply =
        http_post_json(server_->base_url() + "/v1/ingest", batch_to_json_text(batch), kDeviceToken);
    ASSERT_EQ(reply.status, 200) << reply.body;
  }

  static std::string pv_marker(double pv) {
    return "\"pv_power_w\":" + std::to_string(static_cast<int>(pv));
  }

  // A raw connection that sent GET /v1/stream with `headers` ("Name: value\r\n" lines).
  std::unique_ptr<RawClient> open_stream(const std::string& headers,
                                         const std::string& query = "?device_id=" + kDevice) {
    auto client = std::make_unique<RawClient>(server_->port());
    EXPECT_TRUE(client->send("GET /v1/stream" + query + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
                             headers + "\r\n"));
    return client;
  }

  static std::string bearer(const std::string& token) {
    return "Authorization: Bearer " + token + "\r\n";
  }

  fs::path dir_;
  std::unique_ptr<ServerProcess> server_;
};

TEST_F(StreamE2E, StartsWithTheNewestSampleThenCarriesEachNewerOneAndNeverAnOlderOne) {
  start();
  ingest(100, 1111);
  auto stream = open_stream(bearer(kViewerToken));
  const auto head = stream->read_until(pv_marker(1111));
  ASSERT_TRUE(head) << stream->received();
  EXPECT_NE(head->find("HTTP/1.1 200"), std::string::npos) << *head;
  EXPECT_NE(head->find("Content-Type: text/event-stream"), std::string::npos) << *head;
  EXPECT_NE(head->find("Cache-Control: no-store"), std::string::npos) << *head;
  EXPECT_NE(head->find("retry: 3000\n\n"), std::string::npos) << *head;
  EXPECT_NE(head->find("event: sample\nid: 101\ndata: {"), std::string::npos) << *head;

  ingest(101, 2222);
  const auto pushed = stream->read_until(pv_marker(2222));
  ASSERT_TRUE(pushed) << stream->received();
  // The event's data is the realtime object: one line of JSON, the sample plus age_s and source.
  const auto data_at = pushed->rfind("data: ");
  const auto line = pushed->substr(data_at + 6, pushed->find('\n', data_at) - data_at - 6);
  const auto event = boost::json::parse(line).as_object();
  EXPECT_EQ(event.at("device_id").as_string(), kDevice);
  EXPECT_EQ(event.at("seq").as_int64(), 102);
  EXPECT_EQ(event.at("source").as_string(), "cache");
  EXPECT_NE(pushed->find("id: 102\n"), std::string::npos) << *pushed;
  EXPECT_TRUE(event.at("age_s").is_double());
  // The same object as /v1/realtime's body, member for member (age_s aside: time passes).
  const auto realtime =
      http_get(server_->base_url() + "/v1/realtime?device_id=" + kDevice, kViewerToken);
  ASSERT_EQ(realtime.status, 200) << realtime.body;
  auto expected = boost::json::parse(realtime.body).as_object();
  auto actual = event;
  expected.erase("age_s");
  actual.erase("age_s");
  EXPECT_EQ(actual, expected);

  // Stored, but older than what the stream already sent: not an event. The next newer one is.
  ingest(50, 3333);
  ingest(102, 4444);
  const auto later = stream->read_until(pv_marker(4444));
  ASSERT_TRUE(later) << stream->received();
  EXPECT_EQ(later->find(pv_marker(3333)), std::string::npos) << *later;
}

// Through the shipped Caddyfile over HTTPS (certificate verified): the first event arrives while
// the stream is still open. Caddy compressing text/event-stream would hold it back until the
// stream ended, so the cut-off call below would find nothing.
TEST_F(StreamE2E, EventsPassTheShippedCaddyfileAsTheyHappen) {
  start();
  ingest(7, 7777);
  CaddyInstance caddy("127.0.0.1:" + std::to_string(server_->port()),
                      fs::path(SUNGROW_SOURCE_DIR) / "deploy/vps/Caddyfile");
  const auto reply = http_call(
      HttpRequest{.method = "GET",
                  .url = caddy.url("/v1/stream?device_id=" + kDevice),
                  .headers = {"Authorization: Bearer " + kViewerToken, "Accept-Encoding: gzip"},
                  .body = {},
                  .ca_file = caddy.root_ca().string(),
                  .timeout = 4s});
  EXPECT_NE(reply.error, "") << "the stream should still be open when the call is cut off";
  EXPECT_NE(reply.body.find(pv_marker(7777)), std::string::npos)
      << "nothing of the stream came through Caddy within 4 s: " << reply.error;
  // And the API's JSON is still compressed on the way out.
  const auto json = http_call(
      HttpRequest{.method = "GET",
                  .url = caddy.url("/v1/realtime?device_id=" + kDevice),
                  .headers = {"Authorization: Bearer " + kViewerToken, "Accept-Encoding: gzip"},
                  .body = {},
                  .ca_file = caddy.root_ca().string(),
                  .timeout = 10s});
  EXPECT_EQ(json.status, 200);
  EXPECT_EQ(json.header("content-encoding"), "gzip");
}

TEST_F(StreamE2E, KeepAliveCommentsFlowWhileNothingHappens) {
  start();
  auto stream = open_stream(bearer(kViewerToken));
  ASSERT_TRUE(stream->read_until("retry: 3000")) << stream->received();
  // No sample stored yet: no event, but a comment each keep-alive interval (1 s here).
  for (int i = 0; i < 2; ++i) {
    const auto comment = stream->read_until(":\n\n", 5s);
    ASSERT_TRUE(comment) << stream->received();
    EXPECT_EQ(comment->find("event:"), std::string::npos) << *comment;
  }
}

TEST_F(StreamE2E, RefusalsAreOrdinaryErrorReplies) {
  start({"--streams-per-credential", "2"});
  for (const auto& [headers, query, status, code] :
       std::vector<std::tuple<std::string, std::string, int, std::string>>{
           {"", "?device_id=" + kDevice, 401, "unauthorized"},
           {bearer("not-a-token-0123456789abcdefghijkl"), "", 401, "unauthorized"},
           {bearer(kViewerToken), "?device_id=" + kOtherDevice, 403, "forbidden"},
           {bearer(kViewerToken), "?device_id=no%20such", 400, "invalid_query"},
           {bearer(kViewerToken), "?device=x", 400, "invalid_query"}}) {
    RawClient client(server_->port());
    const auto reply = client.request("GET", "/v1/stream" + query, {}, headers);
    ASSERT_TRUE(reply) << query;
    EXPECT_EQ(reply->result_int(), static_cast<unsigned>(status)) << query << " " << reply->body();
    EXPECT_EQ(boost::json::parse(reply->body()).at("error").as_string(), code) << reply->body();
  }

  // Two streams per credential here; the third is told to come back, a device token still may.
  auto first = open_stream(bearer(kViewerToken));
  auto second = open_stream(bearer(kViewerToken));
  ASSERT_TRUE(first->read_until("retry:")) << first->received();
  ASSERT_TRUE(second->read_until("retry:")) << second->received();
  {
    RawClient third(server_->port());
    const auto reply =
        third.request("GET", "/v1/stream?device_id=" + kDevice, {}, bearer(kViewerToken));
    ASSERT_TRUE(reply);
    EXPECT_EQ(reply->result_int(), 429U) << reply->body();
    EXPECT_EQ(boost::json::parse(reply->body()).at("error").as_string(), "too_many_streams");
    EXPECT_EQ((*reply)["Retry-After"], "1");
  }
  auto device_stream = open_stream(bearer(kDeviceToken));
  EXPECT_TRUE(device_stream->read_until("retry:")) << device_stream->received();

  // A client that leaves gives its place back (noticed at the next keep-alive write).
  first.reset();
  bool reopened = false;
  for (int attempt = 0; attempt < 50 && !reopened; ++attempt) {
    auto again = open_stream(bearer(kViewerToken));
    reopened = again->read_until("retry:", 2s).has_value();
    if (!reopened) std::this_thread::sleep_for(200ms);
  }
  EXPECT_TRUE(reopened);
}

TEST_F(StreamE2E, ASessionsStreamEndsWhenItSignsOut) {
  start();
  const auto opened = http_call(HttpRequest{.method = "POST",
                                            .url = server_->base_url() + "/v1/session",
                                            .headers = {"Content-Type: application/json"},
                                            .body = R"({"token":")" + kViewerToken + R"("})",
                                            .ca_file = {},
                                            .timeout = 10s});
  ASSERT_EQ(opened.status, 200) << opened.body;
  const auto set_cookie = opened.header("set-cookie");
  const auto cookie = set_cookie.substr(0, set_cookie.find(';'));
  ASSERT_TRUE(cookie.starts_with("sungrow_session=")) << set_cookie;

  ingest(10, 1234);
  auto stream = open_stream("Cookie: " + cookie + "\r\n");
  ASSERT_TRUE(stream->read_until(pv_marker(1234))) << stream->received();

  const auto closed = http_call(HttpRequest{.method = "DELETE",
                                            .url = server_->base_url() + "/v1/session",
                                            .headers = {"Cookie: " + cookie},
                                            .body = {},
                                            .ca_file = {},
                                            .timeout = 10s});
  ASSERT_LT(closed.status, 300) << closed.body;
  // Checked again at the next keep-alive (1 s here): the stream ends, chunked framing closed.
  EXPECT_TRUE(stream->read_until("0\r\n\r\n", 10s)) << stream->received();
  EXPECT_TRUE(stream->wait_closed(5s));
}

TEST_F(StreamE2E, StoppingTheServerEndsOpenStreamsPromptly) {
  start();
  std::vector<std::unique_ptr<RawClient>> streams;
  for (int i = 0; i < 3; ++i) {
    streams.push_back(open_stream(bearer(kViewerToken)));
    ASSERT_TRUE(streams.back()->read_until("retry:")) << streams.back()->received();
  }
  const auto status = server_->terminate(20s);
  ASSERT_TRUE(status) << server_->log();
  EXPECT_EQ(*status, 0) << server_->log();
  for (auto& s : streams) EXPECT_TRUE(s->wait_closed(2s));
  // Ended by the stop itself, not cut off at the drain timeout that bounds a stuck request.
  EXPECT_EQ(server_->log().find("drain timeout"), std::string::npos) << server_->log();
}

}  // namespace
}  // namespace sungrow::test
