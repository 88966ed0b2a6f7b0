// Interop with a real client: the curl CLI against HttpServer (keep-alive reuse, Expect:
// 100-continue, 413 on an oversized upload).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "child_process.hpp"
#include "sungrow/server/http/server.hpp"
#include "sungrow/server/metrics/metrics.hpp"

namespace sungrow::http {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr const char* kCurl = "/usr/bin/curl";

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class CurlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(fs::exists(kCurl)) << kCurl << " is missing: install the curl package";
    dir_ = fs::temp_directory_path() /
           ("sungrow-http-curl-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    Router r;
    r.add("POST", "/echo", [](const Request& req) {
      return Response{.status = 200, .content_type = "text/plain", .body = req.body, .headers = {}};
    });
    r.add("GET", "/ok", [](const Request&) { return json_response(R"({"ok":true})"); });
    ServerOptions o;
    o.listen_address = "127.0.0.1";
    o.port = 0;
    o.max_body_bytes = 4096;
    auto started = HttpServer::start(o, std::move(r), metrics_);
    ASSERT_TRUE(started.has_value()) << started.error().message;
    server_ = std::move(*started);
  }
  void TearDown() override {
    server_.reset();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  // Runs curl with `args` after the common ones; returns its stdout+stderr.
  std::string curl(std::vector<std::string> args) {
    std::vector<std::string> argv{kCurl, "-sS", "--max-time", "10"};
    argv.insert(argv.end(), args.begin(), args.end());
    const fs::path log = dir_ / "curl.log";
    test::ChildProcess p(argv, log);
    const auto status = p.wait(20s);
    EXPECT_TRUE(status.has_value()) << "curl did not finish";
    EXPECT_EQ(status.value_or(-1), 0) << read_file(log);
    return read_file(log);
  }

  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(server_->port()) + std::string(path);
  }

  metrics::Metrics metrics_;
  std::unique_ptr<HttpServer> server_;
  fs::path dir_;
};

TEST_F(CurlTest, ReusesOneConnectionForSeveralRequests) {
  const std::string out =
      curl({"-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null", "-w",
            "%{http_code} %{num_connects}\n", url("/ok"), url("/ok"), url("/ok")});
  EXPECT_EQ(out, "200 1\n200 0\n200 0\n");  // one connect, then reuse
}

TEST_F(CurlTest, UploadWithExpectContinueIsEchoed) {
  const std::string body(3000, 'q');
  std::ofstream(dir_ / "body.txt", std::ios::binary) << body;
  const std::string out = curl({"-o", (dir_ / "reply.txt").string(), "-w", "%{http_code}", "-H",
                                "Expect: 100-continue", "-H", "Content-Type: text/plain",
                                "--data-binary", "@" + (dir_ / "body.txt").string(), url("/echo")});
  EXPECT_EQ(out, "200");
  EXPECT_EQ(read_file(dir_ / "reply.txt"), body);
}

TEST_F(CurlTest, OversizedUploadGets413) {
  std::ofstream(dir_ / "big.txt", std::ios::binary) << std::string(100'000, 'z');
  const std::string out = curl({"-o", (dir_ / "reply.txt").string(), "-w", "%{http_code}",
                                "--data-binary", "@" + (dir_ / "big.txt").string(), url("/echo")});
  EXPECT_EQ(out, "413");
  EXPECT_EQ(read_file(dir_ / "reply.txt"),
            R"({"error":"body_too_large","detail":"the body exceeds 4096 bytes"})");
}

}  // namespace
}  // namespace sungrow::http
