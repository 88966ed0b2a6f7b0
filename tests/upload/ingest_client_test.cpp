// IngestClient over real HTTPS (test CA) against the in-process receiver: status mapping, TLS,
// gzip.
#include <gtest/gtest.h>

#include <chrono>

#include "https_receiver.hpp"
#include "sample_factory.hpp"
#include "sungrow/core/sample_json.hpp"
#include "sungrow/edge/upload/uploader.hpp"
#include "upload_test_fixture.hpp"

namespace sungrow::edge {
namespace {

using namespace std::chrono_literals;
using test::HttpsReceiver;
using test::Reply;

constexpr const char* kToken = "client-test-token";
constexpr const char* kDevice = "sh40rs-client-test";

class IngestClientTest : public UploadFixture {
 protected:
  IngestClientTest() : UploadFixture(kToken, kDevice) {}

  UploaderSettings settings() const { return upload_settings(10s); }

  static std::vector<Sample> samples(std::size_t n, std::int64_t first_seq = 1) {
    std::vector<Sample> out;
    for (std::size_t i = 0; i < n; ++i) {
      auto s = test::realistic_sample(kDevice, static_cast<std::int64_t>(i) + first_seq,
                                      test::sample_epoch());
      s.seq = static_cast<std::int64_t>(i) + first_seq;
      out.push_back(std::move(s));
    }
    return out;
  }

  static std::vector<SpooledSample> spooled(const std::vector<Sample>& in) {
    std::vector<SpooledSample> out;
    for (const auto& s : in) out.push_back(SpooledSample{s.seq, s.ts, to_json_text(s)});
    return out;
  }

  static std::vector<SpooledSample> batch(std::size_t n, std::int64_t first_seq = 1) {
    return spooled(samples(n, first_seq));
  }
};

TEST_F(IngestClientTest, DeliveredOn200AndTheReceiverHasEverySample) {
  IngestClient client(settings());
  const auto r = client.post(batch(3));
  EXPECT_EQ(r.status, PostStatus::delivered) << r.detail;
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(receiver_->count(), 3U);
  const std::set<std::pair<std::string, std::int64_t>> want{
      {kDevice, 1}, {kDevice, 2}, {kDevice, 3}};
  EXPECT_EQ(receiver_->keys(), want);
}

TEST_F(IngestClientTest, SendsTheBearerTokenAndJsonContentType) {
  IngestClient client(settings());
  ASSERT_EQ(client.post(batch(1)).status, PostStatus::delivered);
  const auto reqs = receiver_->requests();
  ASSERT_EQ(reqs.size(), 1U);
  EXPECT_TRUE(reqs[0].authorized);
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].target, "/v1/ingest");
  EXPECT_FALSE(reqs[0].gzip);
}

TEST_F(IngestClientTest, WrongTokenIs401Unauthorized) {
  auto s = settings();
  s.token = "not-the-token";
  IngestClient client(s);
  const auto r = client.post(batch(2));
  EXPECT_EQ(r.status, PostStatus::unauthorized);
  EXPECT_EQ(r.http_status, 401);
  EXPECT_EQ(receiver_->count(), 0U);
}

TEST_F(IngestClientTest, OtherDeviceIs403Unauthorized) {
  IngestClient client(settings());
  auto foreign = samples(1);
  foreign[0].device_id = "someone-else";
  const auto r = client.post(spooled(foreign));
  EXPECT_EQ(r.status, PostStatus::unauthorized);
  EXPECT_EQ(r.http_status, 403);
  EXPECT_EQ(receiver_->count(), 0U);
}

TEST_F(IngestClientTest, InvalidSampleIs422RejectedWithTheServersDetail) {
  receiver_->reject_seqs({2});
  IngestClient client(settings());
  const auto r = client.post(batch(3));
  EXPECT_EQ(r.status, PostStatus::rejected);
  EXPECT_EQ(r.http_status, 422);
  EXPECT_NE(r.detail.find("\"index\":1"), std::string::npos) << r.detail;
  EXPECT_EQ(receiver_->count(), 0U);  // atomic per batch
}

TEST_F(IngestClientTest, OversizeBodyIs413TooLarge) {
  receiver_->set_max_body_bytes(2'000);
  IngestClient client(settings());
  const auto r = client.post(batch(20));
  EXPECT_EQ(r.status, PostStatus::too_large);
  EXPECT_EQ(r.http_status, 413);
  EXPECT_EQ(receiver_->count(), 0U);
}

TEST_F(IngestClientTest, ServerErrorIsRetry) {
  receiver_->push(Reply::with_status(500));
  IngestClient client(settings());
  const auto r = client.post(batch(2));
  EXPECT_EQ(r.status, PostStatus::retry);
  EXPECT_EQ(r.http_status, 500);
  EXPECT_EQ(receiver_->count(), 0U);
}

TEST_F(IngestClientTest, TooManyRequestsIsRetryWithRetryAfterParsed) {
  receiver_->push(Reply::with_status(429).header("Retry-After", "7"));
  IngestClient client(settings());
  const auto r = client.post(batch(1));
  EXPECT_EQ(r.status, PostStatus::retry);
  EXPECT_EQ(r.http_status, 429);
  ASSERT_TRUE(r.retry_after.has_value());
  EXPECT_EQ(*r.retry_after, 7s);
}

TEST_F(IngestClientTest, NoRetryAfterHeaderMeansNone) {
  receiver_->push(Reply::with_status(503));
  IngestClient client(settings());
  const auto r = client.post(batch(1));
  EXPECT_EQ(r.status, PostStatus::retry);
  EXPECT_FALSE(r.retry_after.has_value());
}

TEST_F(IngestClientTest, SlowServerTimesOutAsRetry) {
  receiver_->push(Reply::with_status(200).after(5s));
  auto s = settings();
  s.timeout = 500ms;
  IngestClient client(s);
  const auto started = std::chrono::steady_clock::now();
  const auto r = client.post(batch(1));
  EXPECT_EQ(r.status, PostStatus::retry);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_NE(r.detail.find("imeout"), std::string::npos) << r.detail;
  // Generous bound: the point is that 500 ms, not the server's 5 s, decided.
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s);
}

TEST_F(IngestClientTest, ConnectionResetIsRetry) {
  receiver_->push(Reply::connection_reset());
  IngestClient client(settings());
  const auto r = client.post(batch(2));
  EXPECT_EQ(r.status, PostStatus::retry);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_FALSE(r.detail.empty());
  EXPECT_EQ(receiver_->count(), 0U);
  // The client recovers on a fresh connection.
  EXPECT_EQ(client.post(batch(2)).status, PostStatus::delivered);
  EXPECT_EQ(receiver_->count(), 2U);
}

TEST_F(IngestClientTest, WrongCaIsRetryWithATlsErrorAndNothingDelivered) {
  auto s = settings();
  s.ca_file = pki_->other_ca_cert().string();
  IngestClient client(s);
  const auto r = client.post(batch(3));
  EXPECT_EQ(r.status, PostStatus::retry);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_NE(r.detail.find("certificate"), std::string::npos) << r.detail;
  EXPECT_EQ(receiver_->count(), 0U);
  EXPECT_TRUE(receiver_->requests().empty());  // nothing passed the handshake
}

TEST_F(IngestClientTest, WithoutCaFileTheSystemStoreDoesNotTrustTheTestCa) {
  auto s = settings();
  s.ca_file.reset();
  IngestClient client(s);
  const auto r = client.post(batch(1));
  EXPECT_EQ(r.status, PostStatus::retry);
  EXPECT_TRUE(receiver_->requests().empty());
}

TEST_F(IngestClientTest, NameMismatchFailsVerification) {
  // A receiver on 127.0.0.2 serves the leaf made for localhost/127.0.0.1/::1: the chain is
  // trusted but the name is wrong, so host verification alone must refuse it.
  auto o = receiver_options();
  o.address = "127.0.0.2";
  HttpsReceiver elsewhere(std::move(o));
  auto s = settings();
  s.url = elsewhere.url();
  IngestClient client(s);
  const auto r = client.post(batch(1));
  EXPECT_EQ(r.status, PostStatus::retry);
  EXPECT_EQ(r.http_status, 0);
  EXPECT_NE(r.detail.find("127.0.0.2"), std::string::npos) << r.detail;
  EXPECT_TRUE(elsewhere.requests().empty());  // nothing passed the handshake
}

TEST_F(IngestClientTest, GzipBodyArrivesIntact) {
  auto s = settings();
  s.gzip = true;
  IngestClient client(s);
  const auto sent = samples(50);
  ASSERT_EQ(client.post(spooled(sent)).status, PostStatus::delivered);
  const auto reqs = receiver_->requests();
  ASSERT_EQ(reqs.size(), 1U);
  EXPECT_TRUE(reqs[0].gzip);
  EXPECT_EQ(receiver_->samples(), sent);

  // And it is actually compressed: the same batch in identity encoding is several times larger.
  IngestClient plain(settings());
  receiver_->push(Reply::with_status(200));
  ASSERT_EQ(plain.post(spooled(sent)).status, PostStatus::delivered);
  EXPECT_LT(receiver_->requests().at(0).wire_bytes * 3, receiver_->requests().at(1).wire_bytes);
}

TEST_F(IngestClientTest, KeepAliveReusesOneConnection) {
  IngestClient client(settings());
  for (std::int64_t i = 0; i < 5; ++i) {
    ASSERT_EQ(client.post(batch(2, 1 + 2 * i)).status, PostStatus::delivered);
  }
  EXPECT_EQ(receiver_->connections(), 1U);
  EXPECT_EQ(client.connections_opened(), 1U);
  EXPECT_EQ(receiver_->count(), 10U);
}

TEST_F(IngestClientTest, RefusesPlaintextToANonLoopbackHost) {
  auto s = settings();
  s.url = "http://example.com/v1/ingest";
  EXPECT_THROW(IngestClient{s}, ErrorException);
}

TEST_F(IngestClientTest, RefusesATokenThatCouldInjectHeaders) {
  auto s = settings();
  s.token = "abc\r\nX-Evil: 1";
  EXPECT_THROW(IngestClient{s}, ErrorException);
}

TEST_F(IngestClientTest, CreateReportsABadTokenAsAValueWithoutEchoingIt) {
  auto s = settings();
  s.token = "s3cret-part\nX-Evil: 1";
  Result<IngestClient> r = IngestClient::create(s);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("control characters"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find("s3cret-part"), std::string::npos) << r.error().message;

  s.token.clear();
  r = IngestClient::create(s);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("empty"), std::string::npos) << r.error().message;
}

TEST_F(IngestClientTest, CreateReportsABadUrlAsAValue) {
  auto s = settings();
  s.url = "http://example.com/v1/ingest";
  const auto r = IngestClient::create(s);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message.find("plaintext http://"), std::string::npos) << r.error().message;
}

TEST_F(IngestClientTest, CreatedClientWorksAfterBeingMoved) {
  auto r = IngestClient::create(settings());
  ASSERT_TRUE(r.has_value()) << r.error().message;
  IngestClient client = std::move(*r);
  EXPECT_EQ(client.url(), receiver_->url());
  EXPECT_EQ(client.post(batch(2)).status, PostStatus::delivered);
  EXPECT_EQ(receiver_->count(), 2U);
}

// Every status class the server may answer, mapped over real HTTPS.
struct StatusCase {
  unsigned http;
  PostStatus expected;
};

class StatusMapping : public IngestClientTest, public ::testing::WithParamInterface<StatusCase> {};

TEST_P(StatusMapping, MapsToTheRightAction) {
  receiver_->push(Reply::with_status(GetParam().http));
  IngestClient client(settings());
  const auto r = client.post(batch(1));
  EXPECT_EQ(r.http_status, static_cast<long>(GetParam().http));
  EXPECT_EQ(r.status, GetParam().expected)
      << GetParam().http << " gave " << to_string(r.status) << ": " << r.detail;
}

// Only 400/422 (the API's verdict on the content) may lead to dead letters, through a split.
// Everything else that is not 2xx/401/403/408/413/429/5xx says the URL or a proxy is wrong:
// misconfigured, which keeps the data.
INSTANTIATE_TEST_SUITE_P(
    Statuses, StatusMapping,
    ::testing::Values(
        StatusCase{200, PostStatus::delivered}, StatusCase{201, PostStatus::delivered},
        StatusCase{204, PostStatus::delivered}, StatusCase{301, PostStatus::misconfigured},
        StatusCase{302, PostStatus::misconfigured}, StatusCase{307, PostStatus::misconfigured},
        StatusCase{308, PostStatus::misconfigured}, StatusCase{400, PostStatus::rejected},
        StatusCase{401, PostStatus::unauthorized}, StatusCase{403, PostStatus::unauthorized},
        StatusCase{404, PostStatus::misconfigured}, StatusCase{405, PostStatus::misconfigured},
        StatusCase{407, PostStatus::misconfigured}, StatusCase{408, PostStatus::retry},
        StatusCase{410, PostStatus::misconfigured}, StatusCase{413, PostStatus::too_large},
        StatusCase{415, PostStatus::misconfigured}, StatusCase{418, PostStatus::misconfigured},
        StatusCase{422, PostStatus::rejected}, StatusCase{429, PostStatus::retry},
        StatusCase{431, PostStatus::misconfigured}, StatusCase{451, PostStatus::misconfigured},
        StatusCase{500, PostStatus::retry}, StatusCase{502, PostStatus::retry},
        StatusCase{503, PostStatus::retry}, StatusCase{504, PostStatus::retry}),
    [](const auto& param_info) { return std::to_string(param_info.param.http); });

}  // namespace
}  // namespace sungrow::edge
