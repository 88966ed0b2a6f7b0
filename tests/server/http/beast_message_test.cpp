// Request/response conversion: what handlers see, and the headers the transport always owns.
#include "sungrow/server/http/beast_message.hpp"

#include <gtest/gtest.h>

namespace sungrow::http::detail {
namespace {

namespace bhttp = boost::beast::http;

TEST(ToRequestHead, SplitsTargetCopiesHeadersLeavesTheBody) {
  BeastRequest in{bhttp::verb::post, "/v1/series?device_id=a&tz=Europe%2FAmsterdam", 11};
  in.set("X-Test", "one");
  in.insert("X-Test", "two");
  in.body() = "payload";
  const Request out = to_request_head(in, "10.0.0.1:4444", "203.0.113.9");
  EXPECT_EQ(out.method, "POST");
  EXPECT_EQ(out.path, "/v1/series");
  EXPECT_EQ(out.query, "device_id=a&tz=Europe%2FAmsterdam");
  EXPECT_EQ(out.body, "");
  EXPECT_EQ(out.remote_addr, "10.0.0.1:4444");
  EXPECT_EQ(out.client_addr, "203.0.113.9");
  ASSERT_EQ(out.headers.size(), 2U);
  EXPECT_EQ(out.header_value("x-test"), "one");
  EXPECT_EQ(out.headers[1].value, "two");
}

TEST(ToRequestHead, NoQueryUnknownMethodAndAbsoluteForm) {
  BeastRequest in;
  in.method_string("PURGE");
  in.target("/health");
  const Request out = to_request_head(in, "", "");
  EXPECT_EQ(out.method, "PURGE");
  EXPECT_EQ(out.path, "/health");
  EXPECT_EQ(out.query, "");
  in.target("HTTP://sungrow.example:8000/v1/realtime?device_id=x");
  const Request absolute = to_request_head(in, "", "");
  EXPECT_EQ(absolute.path, "/v1/realtime");
  EXPECT_EQ(absolute.query, "device_id=x");
}

TEST(ToBeast, JsonGetsServerNoStoreAndLength) {
  const BeastResponse out = to_beast(json_response(R"({"a":1})"), 11, true, false);
  EXPECT_EQ(out.result_int(), 200U);
  EXPECT_EQ(out[bhttp::field::server], "sungrow-server");
  EXPECT_EQ(out[bhttp::field::content_type], "application/json");
  EXPECT_EQ(out[bhttp::field::cache_control], "no-store");
  EXPECT_EQ(out[bhttp::field::content_length], "7");
  EXPECT_TRUE(out.keep_alive());
  EXPECT_EQ(out.body(), R"({"a":1})");
}

TEST(ToBeast, HandlerCacheControlWinsAndNonJsonGetsNone) {
  Response r = json_response("{}");
  r.headers.push_back({"Cache-Control", "max-age=5"});
  EXPECT_EQ(to_beast(std::move(r), 11, true, false)[bhttp::field::cache_control], "max-age=5");
  Response text{.status = 200, .content_type = "text/plain", .body = "x", .headers = {}};
  EXPECT_EQ(to_beast(std::move(text), 11, true, false).count(bhttp::field::cache_control), 0U);
}

TEST(ToBeast, TransportOwnedAndInjectedHeadersAreDropped) {
  Response r = json_response("{}");
  r.headers = {{"Content-Length", "999"},
               {"Transfer-Encoding", "chunked"},
               {"Connection", "upgrade"},
               {"Server", "evil"},
               {"X-Split", "a\r\nSet-Cookie: x=1"},
               {"X-Bad\n", "v"},
               {"", "v"},
               {"Retry-After", "5"}};
  const BeastResponse out = to_beast(std::move(r), 11, false, false);
  EXPECT_EQ(out[bhttp::field::content_length], "2");
  EXPECT_EQ(out.count(bhttp::field::transfer_encoding), 0U);
  EXPECT_EQ(out[bhttp::field::server], "sungrow-server");
  EXPECT_EQ(out.count("X-Split"), 0U);
  EXPECT_EQ(out.count(bhttp::field::set_cookie), 0U);
  EXPECT_EQ(out[bhttp::field::retry_after], "5");
  EXPECT_FALSE(out.keep_alive());
  EXPECT_EQ(out[bhttp::field::connection], "close");
}

TEST(ToBeast, InvalidStatusBecomes500) {
  for (int status : {0, 99, 100, 199, 600, 1000, -1}) {
    Response r = json_response("{}", status);
    EXPECT_EQ(to_beast(std::move(r), 11, true, false).result_int(), 500U) << status;
  }
}

TEST(ToBeast, NoContentHasNoBodyAndHeadHasLengthOnly) {
  Response none = json_response("ignored", 204);
  const BeastResponse a = to_beast(std::move(none), 11, true, false);
  EXPECT_TRUE(a.body().empty());
  EXPECT_EQ(a.count(bhttp::field::content_length), 0U);
  const BeastResponse b = to_beast(json_response("12345"), 11, true, true);
  EXPECT_TRUE(b.body().empty());
  EXPECT_EQ(b[bhttp::field::content_length], "5");
}

TEST(ToBeast, Http10KeepAliveIsExplicit) {
  EXPECT_EQ(to_beast(json_response("{}"), 10, true, false)[bhttp::field::connection], "keep-alive");
  EXPECT_FALSE(to_beast(json_response("{}"), 10, false, false).keep_alive());
}

}  // namespace
}  // namespace sungrow::http::detail
