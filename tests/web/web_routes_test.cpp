// The dashboard's routes on a Router: embedded assets (headers, gzip, revalidation, HEAD) and a
// development web root, plus the header parsers they rely on.
#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <stdexcept>
#include <string>

#include "child_process.hpp"
#include "sungrow/server/web/embedded_assets.hpp"
#include "sungrow/server/web/static_response.hpp"
#include "sungrow/server/web/web.hpp"

namespace sungrow::web {
namespace {

namespace fs = std::filesystem;

http::Request get(std::string path, std::vector<http::Header> headers = {}) {
  http::Request request;
  request.method = "GET";
  request.path = std::move(path);
  request.headers = std::move(headers);
  return request;
}

std::string header(const http::Response& response, std::string_view name) {
  for (const auto& h : response.headers) {
    if (h.name == name) return h.value;
  }
  return "(absent)";
}

std::string gunzip(std::string_view packed) {
  z_stream stream{};
  if (inflateInit2(&stream, 16 + MAX_WBITS) != Z_OK) throw std::runtime_error("inflateInit2");
  std::string out;
  char buffer[16384];
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
  stream.avail_in = static_cast<uInt>(packed.size());
  int rc = Z_OK;
  while (rc == Z_OK) {
    stream.next_out = reinterpret_cast<Bytef*>(buffer);
    stream.avail_out = sizeof buffer;
    rc = inflate(&stream, Z_NO_FLUSH);
    out.append(buffer, sizeof buffer - stream.avail_out);
  }
  inflateEnd(&stream);
  if (rc != Z_STREAM_END) throw std::runtime_error("not a complete gzip stream");
  return out;
}

void expect_security_headers(const http::Response& r) {
  EXPECT_EQ(header(r, "Content-Security-Policy"),
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
            "form-action 'self'; frame-ancestors 'none'");
  EXPECT_EQ(header(r, "X-Content-Type-Options"), "nosniff");
  EXPECT_EQ(header(r, "Referrer-Policy"), "no-referrer");
}

http::Router embedded_router() {
  http::Router router;
  add_web_routes(router, WebOptions{});
  return router;
}

TEST(AcceptsGzip, ByNameStarAndWeight) {
  EXPECT_TRUE(accepts_gzip("gzip"));
  EXPECT_TRUE(accepts_gzip("gzip, deflate, br, zstd"));
  EXPECT_TRUE(accepts_gzip("br;q=1.0, GZIP;q=0.5"));
  EXPECT_TRUE(accepts_gzip("x-gzip"));
  EXPECT_TRUE(accepts_gzip("*"));
  EXPECT_TRUE(accepts_gzip("gzip;q=0.001"));
  EXPECT_FALSE(accepts_gzip(""));
  EXPECT_FALSE(accepts_gzip("identity"));
  EXPECT_FALSE(accepts_gzip("br, deflate"));
  EXPECT_FALSE(accepts_gzip("gzip;q=0"));
  EXPECT_FALSE(accepts_gzip("gzip; q=0.000, br"));
  EXPECT_FALSE(accepts_gzip("*;q=0"));
  EXPECT_FALSE(accepts_gzip("*, gzip;q=0"));  // named beats the wildcard
  EXPECT_FALSE(accepts_gzip("gzipx"));
}

TEST(NoneMatchNames, ListsWeakTagsAndStar) {
  EXPECT_TRUE(none_match_names("\"abc\"", "\"abc\""));
  EXPECT_TRUE(none_match_names("W/\"abc\"", "\"abc\""));
  EXPECT_TRUE(none_match_names("\"x\", \"abc\"", "\"abc\""));
  EXPECT_TRUE(none_match_names("*", "\"abc\""));
  EXPECT_FALSE(none_match_names("\"abcd\"", "\"abc\""));
  EXPECT_FALSE(none_match_names("abc", "\"abc\""));
  EXPECT_FALSE(none_match_names("\"abc", "\"abc\""));
  EXPECT_FALSE(none_match_names("", "\"abc\""));
}

TEST(ContentType, ByExtension) {
  EXPECT_EQ(content_type_for("index.html"), "text/html; charset=utf-8");
  EXPECT_EQ(content_type_for("app-1.js"), "text/javascript; charset=utf-8");
  EXPECT_EQ(content_type_for("style.css"), "text/css; charset=utf-8");
  EXPECT_EQ(content_type_for("icon.svg"), "image/svg+xml");
  EXPECT_EQ(content_type_for("blob"), "application/octet-stream");
}

TEST(EmbeddedRoutes, IndexIsRevalidatedAndNamesOnlyRoutedAssets) {
  const http::Router router = embedded_router();
  const http::Response index = router.dispatch(get("/"));
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(header(index, "Cache-Control"), "no-cache");
  EXPECT_EQ(header(index, "Content-Encoding"), "(absent)");
  expect_security_headers(index);
  EXPECT_NE(index.body.find("<!doctype html>"), std::string::npos);
  // No inline script or style: the CSP would block them.
  EXPECT_EQ(index.body.find("<style"), std::string::npos);
  EXPECT_EQ(index.body.find("style="), std::string::npos);
  EXPECT_EQ(std::regex_search(index.body, std::regex("<script(?![^>]*\\ssrc=)")), false);

  // Every asset the page names is served, immutable, with its own content type.
  const std::regex reference("(?:src|href)=\"(/assets/[^\"]+)\"");
  std::set<std::string> named;
  for (auto it = std::sregex_iterator(index.body.begin(), index.body.end(), reference);
       it != std::sregex_iterator(); ++it) {
    named.insert((*it)[1].str());
  }
  EXPECT_GE(named.size(), 3U);  // script, stylesheet, icon
  for (const std::string& path : named) {
    const http::Response asset = router.dispatch(get(path));
    EXPECT_EQ(asset.status, 200) << path;
    EXPECT_EQ(header(asset, "Cache-Control"), "public, max-age=31536000, immutable") << path;
    expect_security_headers(asset);
    EXPECT_FALSE(asset.body.empty()) << path;
  }
}

TEST(EmbeddedRoutes, GzipWhenAcceptedWithVaryAndTheSameBytes) {
  const http::Router router = embedded_router();
  for (const EmbeddedAsset& asset : embedded_assets()) {
    const std::string path(asset.path);
    const http::Response plain = router.dispatch(get(path));
    const http::Response packed =
        router.dispatch(get(path, {{"Accept-Encoding", "gzip, deflate, br"}}));
    EXPECT_EQ(plain.body, asset.body) << path;
    if (asset.gzip.empty()) {
      EXPECT_EQ(packed.body, asset.body) << path;
      continue;
    }
    EXPECT_EQ(header(plain, "Vary"), "Accept-Encoding") << path;
    EXPECT_EQ(header(packed, "Vary"), "Accept-Encoding") << path;
    EXPECT_EQ(header(packed, "Content-Encoding"), "gzip") << path;
    EXPECT_LT(packed.body.size(), plain.body.size()) << path;
    EXPECT_EQ(gunzip(packed.body), plain.body) << path;
    EXPECT_NE(header(plain, "ETag"), header(packed, "ETag")) << path;
  }
}

TEST(EmbeddedRoutes, IfNoneMatchGives304WithTheHeaders) {
  const http::Router router = embedded_router();
  const http::Response first = router.dispatch(get("/"));
  const std::string etag = header(first, "ETag");
  ASSERT_NE(etag, "(absent)");
  const http::Response again = router.dispatch(get("/", {{"If-None-Match", etag}}));
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(header(again, "ETag"), etag);
  EXPECT_EQ(header(again, "Cache-Control"), "no-cache");
  expect_security_headers(again);
  // The gzip representation's tag names the same version.
  const http::Response gz = router.dispatch(get("/", {{"Accept-Encoding", "gzip"}}));
  EXPECT_EQ(router.dispatch(get("/", {{"If-None-Match", header(gz, "ETag")}})).status, 304);
  EXPECT_EQ(router.dispatch(get("/", {{"If-None-Match", "\"stale\""}})).status, 200);
}

TEST(EmbeddedRoutes, HeadIsRoutedOtherMethodsAndPathsAreNot) {
  const http::Router router = embedded_router();
  http::Request head = get("/");
  head.method = "HEAD";
  EXPECT_EQ(router.dispatch(head).status, 200);  // the transport drops the body
  http::Request post = get("/");
  post.method = "POST";
  EXPECT_EQ(router.dispatch(post).status, 405);
  EXPECT_EQ(router.dispatch(get("/assets/nope.js")).status, 404);
  EXPECT_EQ(router.dispatch(get("/index.html")).status, 404);
  EXPECT_EQ(router.match("GET", "/").route, "/");
  EXPECT_EQ(router.match("GET", std::string(embedded_assets()[1].path)).route, "/assets");
}

TEST(EmbeddedRoutes, AddedTwiceIsAStartUpError) {
  http::Router router = embedded_router();
  EXPECT_THROW(add_web_routes(router, WebOptions{}), std::invalid_argument);
}

class WebRoot : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::make_temp_dir("sgweb");
    fs::create_directories(dir_ / "assets");
    write("index.html", "<!doctype html><title>dev</title>");
    write("assets/app.js", "console.log(1)");
    write("assets/app.js.gz", "not served");
    write(".assets.json", "[]");
  }
  void TearDown() override { fs::remove_all(dir_); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  fs::path dir_;
};

TEST_F(WebRoot, ServesTheFilesAsTheyAreNowUncached) {
  http::Router router;
  add_web_routes(router, WebOptions{.web_root = dir_.string()});
  const http::Response index = router.dispatch(get("/", {{"Accept-Encoding", "gzip"}}));
  EXPECT_EQ(index.status, 200);
  EXPECT_EQ(index.body, "<!doctype html><title>dev</title>");
  EXPECT_EQ(header(index, "Cache-Control"), "no-store");
  EXPECT_EQ(header(index, "Content-Encoding"), "(absent)");
  expect_security_headers(index);

  write("assets/app.js", "console.log(2)");
  const http::Response script = router.dispatch(get("/assets/app.js"));
  EXPECT_EQ(script.body, "console.log(2)");
  EXPECT_EQ(script.content_type, "text/javascript; charset=utf-8");

  EXPECT_EQ(router.dispatch(get("/assets/app.js.gz")).status, 404);
  EXPECT_EQ(router.dispatch(get("/.assets.json")).status, 404);
  fs::remove(dir_ / "assets/app.js");
  EXPECT_EQ(router.dispatch(get("/assets/app.js")).status, 404);
}

TEST_F(WebRoot, AMissingDirectoryOrIndexIsRefused) {
  EXPECT_TRUE(check_web_options(WebOptions{.web_root = dir_.string()}));
  EXPECT_TRUE(check_web_options(WebOptions{}));
  const auto missing = check_web_options(WebOptions{.web_root = (dir_ / "nope").string()});
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("not a directory"), std::string::npos);
  fs::remove(dir_ / "index.html");
  const auto no_index = check_web_options(WebOptions{.web_root = dir_.string()});
  ASSERT_FALSE(no_index);
  EXPECT_NE(no_index.error().message.find("index.html"), std::string::npos);
  http::Router router;
  EXPECT_THROW(add_web_routes(router, WebOptions{.web_root = dir_.string()}),
               std::invalid_argument);
}

}  // namespace
}  // namespace sungrow::web
