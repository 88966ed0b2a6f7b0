// Server configuration: env names, flags, validation messages, and secrets kept out of them.
#include "sungrow/server/app/config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <CLI/CLI.hpp>
#include <algorithm>

namespace sungrow::app {
namespace {

bool mentions(const std::vector<std::string>& problems, std::string_view text) {
  return std::any_of(problems.begin(), problems.end(),
                     [&](const std::string& p) { return p.find(text) != std::string::npos; });
}

ServerConfig usable() {
  ServerConfig c;
  c.device_tokens = "0123456789abcdef0123:dev-1";
  c.data_dir = ::testing::TempDir();
  return c;
}

TEST(ServerConfig, DefaultsWithTokensAreUsable) {
  EXPECT_TRUE(validate(usable(), ServerNeeds::serve).empty());
  const ServerConfig c;
  EXPECT_EQ(c.port, 8000);
  EXPECT_EQ(c.cache_ttl_s, 5);
  EXPECT_EQ(c.listen_addr, "127.0.0.1");
  EXPECT_EQ(c.ingest_max_bytes, 4 << 20);
}

TEST(ServerConfig, EnvironmentNamesOfTheSeedAreBound) {
  ::setenv("DATABASE_URL", "postgresql://u@db/sungrow", 1);
  ::setenv("REDIS_URL", "redis://cache:6379/0", 1);
  ::setenv("CACHE_TTL_S", "30", 1);
  ::setenv("PORT", "9000", 1);
  CLI::App app;
  ServerConfig c;
  bind_options(app, c);
  app.parse("--port 9100", false);  // a flag beats the environment
  ::unsetenv("DATABASE_URL");
  ::unsetenv("REDIS_URL");
  ::unsetenv("CACHE_TTL_S");
  ::unsetenv("PORT");
  EXPECT_EQ(c.database_url, "postgresql://u@db/sungrow");
  EXPECT_EQ(c.redis_url, "redis://cache:6379/0");
  EXPECT_EQ(c.cache_ttl_s, 30);
  EXPECT_EQ(c.port, 9100);
}

TEST(ServerConfig, EveryProblemHasItsOwnMessage) {
  ServerConfig c = usable();
  c.port = 70000;
  c.cache_ttl_s = 0;
  c.database_url = "mysql://db";
  c.redis_url = "memcached://x";
  c.listen_addr = "localhost";
  c.worker_threads = 0;
  c.log_level = "loud";
  const auto problems = validate(c, ServerNeeds::serve);
  EXPECT_EQ(problems.size(), 7u);
  for (const auto* name : {"PORT", "CACHE_TTL_S", "DATABASE_URL", "REDIS_URL", "LISTEN_ADDR",
                           "WORKER_THREADS", "LOG_LEVEL"}) {
    EXPECT_TRUE(mentions(problems, name)) << name;
  }
}

TEST(ServerConfig, TokensAreRequiredToServeButNotToMigrate) {
  ServerConfig c = usable();
  c.device_tokens.clear();
  EXPECT_TRUE(mentions(validate(c, ServerNeeds::serve), "DEVICE_TOKENS"));
  EXPECT_TRUE(validate(c, ServerNeeds::migrate).empty());
  c.device_tokens = "0123456789abcdef0123:dev-1";
  c.device_tokens_file = "/etc/tokens";
  EXPECT_TRUE(mentions(validate(c, ServerNeeds::serve), "not both"));
}

TEST(ServerConfig, DatabaseUrlTakesAUrlOrAConninfo) {
  ServerConfig c = usable();
  c.database_url = "host=127.0.0.1 port=5432 dbname=sungrow";
  EXPECT_TRUE(validate(c, ServerNeeds::serve).empty());
  c.database_url = "sungrow";
  EXPECT_TRUE(mentions(validate(c, ServerNeeds::serve), "DATABASE_URL"));
}

TEST(ServerConfig, MessagesNeverQuoteTokensOrPasswords) {
  ServerConfig c = usable();
  c.device_tokens = "s3cr3t-token-value-123:dev";
  c.database_url = "mysql://user:hunter2@db/x";
  c.port = -1;
  for (const auto& p : validate(c, ServerNeeds::serve)) {
    EXPECT_EQ(p.find("s3cr3t"), std::string::npos) << p;
    EXPECT_EQ(p.find("hunter2"), std::string::npos) << p;
  }
}

TEST(RedactUrl, HidesPasswordsInUrlsAndConninfo) {
  EXPECT_EQ(redact_url("postgresql://sungrow:hunter2@db:5432/sungrow"),
            "postgresql://sungrow:***@db:5432/sungrow");
  EXPECT_EQ(redact_url("postgresql://sungrow@db/sungrow"), "postgresql://sungrow@db/sungrow");
  EXPECT_EQ(redact_url("host=db password=hunter2 dbname=x"), "host=db password=*** dbname=x");
  EXPECT_EQ(redact_url("host=db password='a b' dbname=x"), "host=db password=*** dbname=x");
  EXPECT_EQ(redact_url("redis://:pw@cache:6379"), "redis://:***@cache:6379");
}

}  // namespace
}  // namespace sungrow::app
