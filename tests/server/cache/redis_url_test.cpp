// parse_redis_url: the accepted forms, and a clear error (without the password) for the rest.
#include "sungrow/server/cache/redis_url.hpp"

#include <gtest/gtest.h>

namespace sungrow::cache {
namespace {

RedisEndpoint must_parse(std::string_view url) {
  auto ep = parse_redis_url(url);
  EXPECT_TRUE(ep.has_value()) << url << ": " << (ep ? "" : ep.error().message);
  return ep ? *ep : RedisEndpoint{};
}

TEST(RedisUrl, HostWithDefaults) {
  const auto ep = must_parse("redis://cache.internal");
  EXPECT_EQ(ep.transport, RedisEndpoint::Transport::tcp);
  EXPECT_EQ(ep.host, "cache.internal");
  EXPECT_EQ(ep.port, 6379);
  EXPECT_EQ(ep.db, 0u);
  EXPECT_EQ(ep.password, "");
  EXPECT_EQ(ep.username, "");
  EXPECT_EQ(must_parse("redis://127.0.0.1:6380/").port, 6380);
}

TEST(RedisUrl, PasswordPortAndDb) {
  const auto ep = must_parse("redis://:s%40cret@10.0.0.5:6390/3");
  EXPECT_EQ(ep.host, "10.0.0.5");
  EXPECT_EQ(ep.port, 6390);
  EXPECT_EQ(ep.db, 3u);
  EXPECT_EQ(ep.password, "s@cret");  // percent-decoded
  EXPECT_EQ(ep.username, "");
  EXPECT_EQ(ep.redacted(), "redis://:***@10.0.0.5:6390/3");
}

TEST(RedisUrl, AclUserAndPassword) {
  const auto ep = must_parse("redis://ingest:pw@localhost:6379/0");
  EXPECT_EQ(ep.username, "ingest");
  EXPECT_EQ(ep.password, "pw");
  EXPECT_EQ(ep.redacted(), "redis://ingest:***@localhost:6379/0");
}

TEST(RedisUrl, Ipv6Host) {
  const auto ep = must_parse("redis://[::1]:7000/1");
  EXPECT_EQ(ep.host, "::1");
  EXPECT_EQ(ep.port, 7000);
  EXPECT_EQ(ep.redacted(), "redis://[::1]:7000/1");
}

TEST(RedisUrl, UnixSocket) {
  const auto ep = must_parse("unix:///run/redis/redis.sock");
  EXPECT_EQ(ep.transport, RedisEndpoint::Transport::unix_socket);
  EXPECT_EQ(ep.socket_path, "/run/redis/redis.sock");
  EXPECT_EQ(ep.db, 0u);
  const auto with_db = must_parse("unix://:pw@/run/redis.sock?db=2");
  EXPECT_EQ(with_db.socket_path, "/run/redis.sock");
  EXPECT_EQ(with_db.db, 2u);
  EXPECT_EQ(with_db.password, "pw");
  EXPECT_EQ(with_db.redacted(), "unix://:***@/run/redis.sock?db=2");
}

TEST(RedisUrl, BadFormsAreClearErrors) {
  struct Case {
    std::string_view url;
    std::string_view mentions;
  };
  const Case cases[] = {
      {"", "empty"},
      {"localhost:6379", "scheme"},  // parses as scheme "localhost"
      {"127.0.0.1:6379", "not a valid URL"},
      {"http://127.0.0.1:6379", "scheme 'http'"},
      {"rediss://127.0.0.1:6379", "TLS"},
      {"redis:127.0.0.1", "//"},
      {"redis://", "no host"},
      {"redis://:6379", "no host"},
      {"redis://127.0.0.1:0", "port"},
      {"redis://127.0.0.1:65536", "port"},
      {"redis://127.0.0.1:99999999999", "port"},
      {"redis://127.0.0.1:abc", "malformed host"},
      {"redis://127.0.0.1:6379/x", "database 'x'"},
      {"redis://127.0.0.1:6379/-1", "database"},
      {"redis://127.0.0.1:6379/1/2", "database"},
      {"redis://127.0.0.1:6379/0?timeout=1", "query"},
      {"redis://127.0.0.1:6379/0#frag", "fragment"},
      {"redis://127.0.0.1.evil:1", ""},
      {"redis://bad host:6379", "not a valid URL"},
      {"unix://", "absolute socket path"},
      {"unix://host/run/redis.sock", "no host"},
      {"unix:///run/redis.sock?db=x", "database"},
      {"unix:///run/redis.sock?password=pw", "unknown query parameter"},
  };
  for (const auto& c : cases) {
    const auto ep = parse_redis_url(c.url);
    ASSERT_FALSE(ep.has_value()) << "accepted: " << c.url;
    EXPECT_NE(ep.error().message.find(c.mentions), std::string::npos)
        << c.url << " → " << ep.error().message;
    EXPECT_NE(ep.error().message.find("REDIS_URL"), std::string::npos) << ep.error().message;
  }
}

TEST(RedisUrl, ErrorsNeverQuoteThePassword) {
  for (const std::string_view url :
       {"redis://:hunter2-secret@127.0.0.1:0", "redis://:hunter2-secret@127.0.0.1:6379/x",
        "redis://:hunter2-secret@/0", "rediss://:hunter2-secret@h:1",
        "redis://:hunter2-secret@h:1/0?x=y", "ftp://:hunter2-secret@h:1",
        "redis://:hunter2-secret@bad host:1"}) {
    const auto ep = parse_redis_url(url);
    ASSERT_FALSE(ep.has_value()) << url;
    EXPECT_EQ(ep.error().message.find("hunter2"), std::string::npos) << ep.error().message;
  }
}

}  // namespace
}  // namespace sungrow::cache
