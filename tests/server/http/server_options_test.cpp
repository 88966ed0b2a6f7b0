// ServerOptions checks: each problem reported on its own, naming the setting.
#include "sungrow/server/http/server_options.hpp"

#include <gtest/gtest.h>

namespace sungrow::http {
namespace {

TEST(ServerOptions, DefaultsAreValid) {
  EXPECT_TRUE(problems(ServerOptions{}).empty());
  EXPECT_EQ(ServerOptions{}.max_body_bytes, 4U * 1024 * 1024);
}

TEST(ServerOptions, EveryProblemIsReported) {
  ServerOptions o;
  o.listen_address = "not-an-address";
  o.io_threads = 0;
  o.worker_threads = 0;
  o.max_body_bytes = 0;
  o.max_connections = 0;
  o.header_timeout = std::chrono::milliseconds(0);
  o.body_timeout = std::chrono::milliseconds(-1);
  const auto found = problems(o);
  ASSERT_EQ(found.size(), 7U);
  EXPECT_NE(found[0].message.find("not-an-address"), std::string::npos);
}

}  // namespace
}  // namespace sungrow::http
