// Router: exact (method, path) matching, 404/405 replies in the JSON error shape, route names.
#include "sungrow/server/http/router.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace sungrow::http {
namespace {

Handler answering(std::string body) {
  return [body](const Request&) { return json_response(body); };
}

TEST(ErrorResponse, BodyShape) {
  const Response r = error_response(401, "unauthorized", "missing \"token\"");
  EXPECT_EQ(r.status, 401);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(r.body, R"({"error":"unauthorized","detail":"missing \"token\""})");
}

Router sample_router() {
  Router r;
  r.add("GET", "/v1/realtime", answering("realtime"));
  r.add("POST", "/v1/ingest", answering("ingest"), "ingest");
  r.add("PUT", "/v1/ingest", answering("put"), "ingest");
  return r;
}

TEST(Router, ExactMatchRunsTheHandlerAndNamesTheRoute) {
  const Router r = sample_router();
  const RouteMatch m = r.match("POST", "/v1/ingest");
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(m.route, "ingest");
  EXPECT_EQ((*m.handler)(Request{}).body, "ingest");
  EXPECT_EQ(r.match("GET", "/v1/realtime").route, "/v1/realtime");  // default name: the path
}

TEST(Router, UnknownPathIs404UnderOneRouteLabel) {
  const Router r = sample_router();
  for (const char* path : {"/", "/v1/realtime/", "/V1/REALTIME", "/v1/realtime/../x", ""}) {
    const RouteMatch m = r.match("GET", path);
    EXPECT_EQ(m.handler, nullptr) << path;
    EXPECT_EQ(m.route, kUnmatchedRoute) << path;
    EXPECT_EQ(m.error.status, 404) << path;
    EXPECT_EQ(m.error.content_type, "application/json");
    EXPECT_EQ(m.error.body, R"({"error":"not_found","detail":"no such path"})");
  }
}

TEST(Router, KnownPathWithOtherMethodIs405WithAllow) {
  const Router r = sample_router();
  const RouteMatch m = r.match("DELETE", "/v1/ingest");
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_EQ(m.route, "ingest");
  EXPECT_EQ(m.error.status, 405);
  ASSERT_EQ(m.error.headers.size(), 1U);
  EXPECT_EQ(m.error.headers[0].name, "Allow");
  EXPECT_EQ(m.error.headers[0].value, "POST, PUT");
  EXPECT_NE(m.error.body.find(R"("error":"method_not_allowed")"), std::string::npos);
}

TEST(Router, MethodsAreCaseSensitive) {
  const Router r = sample_router();
  EXPECT_EQ(r.match("get", "/v1/realtime").error.status, 405);
}

TEST(Router, DuplicateOrIncompleteRoutesAreRefused) {
  Router r = sample_router();
  EXPECT_THROW(r.add("GET", "/v1/realtime", answering("again")), std::invalid_argument);
  EXPECT_THROW(r.add("", "/x", answering("x")), std::invalid_argument);
  EXPECT_THROW(r.add("GET", "", answering("x")), std::invalid_argument);
  EXPECT_THROW(r.add("GET", "/x", Handler{}), std::invalid_argument);
}

TEST(Router, DispatchRunsTheHandlerOrReturnsTheError) {
  const Router r = sample_router();
  Request req;
  req.method = "GET";
  req.path = "/v1/realtime";
  EXPECT_EQ(r.dispatch(req).body, "realtime");
  req.path = "/nope";
  EXPECT_EQ(r.dispatch(req).status, 404);
}

TEST(Router, DispatchTriesTheFastPathBeforeTheHandler) {
  Router r;
  r.add("GET", "/v", answering("handler"),
        RouteOptions{
            .name = {},
            .takes_body = std::nullopt,
            .guard = {},
            .fast_path = [](const Request& req) -> std::optional<Response> {
              if (req.header_value("X-Fast").empty()) return std::nullopt;
              return Response{
                  .status = 200, .content_type = "text/plain", .body = "fast", .headers = {}};
            }});
  EXPECT_NE(r.match("GET", "/v").fast_path, nullptr);
  Request req;
  req.method = "GET";
  req.path = "/v";
  EXPECT_EQ(r.dispatch(req).body, "handler");
  req.headers.push_back(Header{.name = "X-Fast", .value = "1"});
  EXPECT_EQ(r.dispatch(req).body, "fast");
}

TEST(Router, RoutesSayWhetherTheyTakeABodyAndCarryTheirGuard) {
  Router r;
  r.add("POST", "/a", answering("a"));
  r.add("GET", "/b", answering("b"));
  r.add("POST", "/c", answering("c"),
        RouteOptions{.name = "c", .takes_body = false, .guard = {}, .fast_path = {}});
  r.add("GET", "/d", answering("d"),
        RouteOptions{.name = {},
                     .takes_body = std::nullopt,
                     .guard = [](const Request& head) -> std::optional<Response> {
                       if (head.header_value("X-Key") == "yes") return std::nullopt;
                       return error_response(401, "unauthorized", "no key");
                     },
                     .fast_path = {}});
  EXPECT_TRUE(r.match("POST", "/a").takes_body);
  EXPECT_FALSE(r.match("GET", "/b").takes_body);
  EXPECT_FALSE(r.match("POST", "/c").takes_body);
  EXPECT_EQ(r.match("POST", "/c").route, "c");
  EXPECT_EQ(r.match("POST", "/a").guard, nullptr);
  ASSERT_NE(r.match("GET", "/d").guard, nullptr);
  EXPECT_EQ(r.match("GET", "/d").route, "/d");
  EXPECT_EQ(r.match("GET", "/nowhere").guard, nullptr);

  // dispatch runs the guard first, as the transport does.
  Request request;
  request.method = "GET";
  request.path = "/d";
  EXPECT_EQ(r.dispatch(request).status, 401);
  request.headers.push_back({"X-Key", "yes"});
  EXPECT_EQ(r.dispatch(request).body, "d");
}

}  // namespace
}  // namespace sungrow::http
