// validate_ingest_url: the HTTPS-only rule as a table of accepted and refused URLs.
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

}  // namespace
}  // namespace sungrow::edge
