// validate_ingest_url: the HTTPS-only rule as a table of accepted and refused URLs; plus the
// token rule and is_loopback_host.
#include <gtest/gtest.h>

#include "sungrow/edge/upload/uploader.hpp"

namespace sungrow::edge {
namespace {

class AcceptedUrl : public ::testing::TestWithParam<const char*> {};

TEST_P(AcceptedUrl, IsAccepted) {
  const auto r = validate_ingest_url(GetParam());
  EXPECT_TRUE(r.has_value()) << GetParam() << ": " << (r ? "" : r.error().message);
}

INSTANTIATE_TEST_SUITE_P(
    UrlTable, AcceptedUrl,
    ::testing::Values("https://example.com/v1/ingest", "https://ingest.test:8443/v1/ingest",
                      "HTTPS://Example.COM/v1/ingest", "https://10.0.0.1/v1/ingest",
                      "https://[2001:db8::1]:8443/v1/ingest", "http://127.0.0.1:8080/v1/ingest",
                      "http://127.1.2.3/v1/ingest", "http://localhost:8000/v1/ingest",
                      "http://LocalHost/v1/ingest", "http://[::1]:8080/v1/ingest",
                      "http://[::ffff:127.0.0.1]/v1/ingest"));

struct Refused {
  const char* url;
  const char* message_part;
};

class RefusedUrl : public ::testing::TestWithParam<Refused> {};

TEST_P(RefusedUrl, IsRefusedWithAClearMessage) {
  const auto r = validate_ingest_url(GetParam().url);
  ASSERT_FALSE(r.has_value()) << GetParam().url;
  EXPECT_NE(r.error().message.find(GetParam().message_part), std::string::npos)
      << GetParam().url << " → " << r.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    UrlTable, RefusedUrl,
    ::testing::Values(Refused{"", "empty"},
                      Refused{"http://example.com/v1/ingest", "plaintext http://"},
                      Refused{"http://10.0.0.1/v1/ingest", "plaintext http://"},
                      Refused{"http://128.0.0.1/v1/ingest", "plaintext http://"},
                      // Names that merely look like loopback resolve wherever DNS says.
                      Refused{"http://127.0.0.1.evil.example/v1/ingest", "127.0.0.1.evil.example"},
                      Refused{"http://localhost.evil.example/v1/ingest", "plaintext http://"},
                      // Boost.URL 1.81 reads these as host 127.0.0.1 plus a path; curl would not.
                      Refused{"http://127.0.0.1.evil.example/", "not a valid absolute URL"},
                      Refused{"http://127.0.0.1x/v1/ingest", "not a valid absolute URL"},
                      Refused{"http://2130706433/v1/ingest", "plaintext http://"},
                      Refused{"http://[::2]/v1/ingest", "plaintext http://"},
                      Refused{"http://[::ffff:10.0.0.1]/v1/ingest", "plaintext http://"},
                      Refused{"ftp://example.com/v1/ingest", "must use https://"},
                      Refused{"wss://example.com/v1/ingest", "must use https://"},
                      Refused{"example.com/v1/ingest", "not a valid absolute URL"},
                      Refused{"not a url", "not a valid absolute URL"},
                      Refused{"https://exa mple.com/", "not a valid absolute URL"},
                      Refused{"https:///v1/ingest", "no host"},
                      Refused{"https:/v1/ingest", "no host"},
                      Refused{"https://example.com:0/v1/ingest", "invalid port"},
                      Refused{"https://user:secret@example.com/v1/ingest", "credentials"},
                      Refused{"http://user@localhost/v1/ingest", "credentials"}));

TEST(UrlTable, CredentialsAreNotEchoed) {
  const auto r = validate_ingest_url("https://user:s3cr3t-pw@example.com/v1/ingest");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message.find("s3cr3t-pw"), std::string::npos) << r.error().message;
}

TEST(TokenRule, AcceptsOrdinaryBearerTokens) {
  for (const char* t : {"a", "0123456789abcdef", "dev-token_1.2~x+y/z==", "Zm9vYmFy"}) {
    const auto r = validate_token(t);
    EXPECT_TRUE(r.has_value()) << t << ": " << (r ? "" : r.error().message);
  }
}

struct BadToken {
  std::string token;
  const char* message_part;
};

class RefusedToken : public ::testing::TestWithParam<BadToken> {};

TEST_P(RefusedToken, IsRefusedWithoutEchoingTheToken) {
  const auto r = validate_token(GetParam().token);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find(GetParam().message_part), std::string::npos)
      << r.error().message;
  EXPECT_EQ(r.error().message.find("SECRETPART"), std::string::npos) << r.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    TokenRule, RefusedToken,
    ::testing::Values(BadToken{"", "empty"}, BadToken{"SECRETPART\n", "control characters"},
                      BadToken{"SECRETPART\r\nX-Evil: 1", "control characters"},
                      BadToken{"SECRET\tPART", "control characters"},
                      BadToken{std::string("SECRET\0PART", 11), "control characters"},
                      BadToken{"SECRETPART\x7f", "control characters"}, BadToken{" ", "spaces"},
                      BadToken{"   ", "spaces"}, BadToken{"SECRETPART ", "spaces"},
                      BadToken{"SECRET PART", "spaces"}));

TEST(LoopbackHost, LoopbackForms) {
  for (const char* h :
       {"127.0.0.1", "127.1.2.3", "127.255.255.255", "::1", "[::1]", "0:0:0:0:0:0:0:1",
        "::ffff:127.0.0.1", "[::ffff:127.0.0.2]", "localhost", "LocalHost", "LOCALHOST"}) {
    EXPECT_TRUE(is_loopback_host(h)) << h;
  }
}

TEST(LoopbackHost, EverythingElse) {
  for (const char* h :
       {"", "128.0.0.1", "10.0.0.1", "192.168.1.10", "2130706433", "127.1",
        "127.0.0.1.evil.example", "localhost.evil.example", "localhost.", "::2", "[::2]",
        "::ffff:10.0.0.1", "::", "[::1", "inverter.local", "0.0.0.0", " 127.0.0.1", "127.0.0.1 "}) {
    EXPECT_FALSE(is_loopback_host(h)) << h;
  }
}

}  // namespace
}  // namespace sungrow::edge
