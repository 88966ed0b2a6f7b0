// The access log line: one line, the agreed fields, nothing a client can use to forge lines.
#include "sungrow/server/http/access_log.hpp"

#include <gtest/gtest.h>

namespace sungrow::http {
namespace {

TEST(AccessLog, OneLineWithTheAgreedFields) {
  const std::string line =
      access_log_line(AccessRecord{.remote_addr = "127.0.0.1:5312",
                                   .method = "GET",
                                   .path = "/v1/realtime",
                                   .route = "/v1/realtime",
                                   .status = 200,
                                   .body_bytes = 312,
                                   .latency = std::chrono::microseconds(1840)});
  EXPECT_EQ(line, R"(127.0.0.1:5312 "GET /v1/realtime" 200 312B 1.84ms route=/v1/realtime)");
}

TEST(AccessLog, ControlBytesQuotesAndNonAsciiAreEscaped) {
  const std::string line = access_log_line(AccessRecord{.remote_addr = "[::1]:1",
                                                        .method = "GET",
                                                        .path = "/a\r\nb \"c\"\\\xff",
                                                        .route = "unmatched",
                                                        .status = 404,
                                                        .body_bytes = 0,
                                                        .latency = {}});
  EXPECT_EQ(line, R"([::1]:1 "GET /a%0D%0Ab%20%22c%22%5C%FF" 404 0B 0.00ms route=unmatched)");
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(AccessLog, LongPathsAreCut) {
  const std::string path = "/" + std::string(5000, 'a');
  const std::string line = access_log_line(
      AccessRecord{.remote_addr = "x", .method = "GET", .path = path, .route = "r", .status = 404});
  EXPECT_LT(line.size(), 400U);
  EXPECT_NE(line.find("aaa...\""), std::string::npos);
}

TEST(AccessLog, EmptyFieldsAreADash) {
  const std::string line = access_log_line(AccessRecord{
      .remote_addr = "1.2.3.4:5", .method = "", .path = "", .route = "invalid", .status = 400});
  EXPECT_EQ(line, R"(1.2.3.4:5 "- -" 400 0B 0.00ms route=invalid)");
}

}  // namespace
}  // namespace sungrow::http
