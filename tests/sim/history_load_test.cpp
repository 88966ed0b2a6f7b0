// load_history over real HTTPS (test CA) against the in-process receiver: batches, retries,
// refusals.
#include "sungrow/sim/history_load.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "https_receiver.hpp"
#include "upload_test_fixture.hpp"

namespace sungrow::sim {
namespace {

using namespace std::chrono_literals;
using test::Reply;

constexpr const char* kToken = "history-test-token";
constexpr const char* kDevice = "sh4-history-load";

class HistoryLoadTest : public edge::UploadFixture {
 protected:
  HistoryLoadTest() : UploadFixture(kToken, kDevice) {}

  // One day every 5 minutes (288 samples) in batches of 100: three posts.
  static HistoryGenerator generator() {
    HistoryOptions o;
    o.device_id = kDevice;
    o.end = parse_rfc3339("2026-06-20T00:00:00Z").value();
    o.days = 1;
    o.step = 300s;
    return std::move(HistoryGenerator::create(o).value());
  }

  HistoryLoadOptions load_options() const {
    HistoryLoadOptions o;
    o.client = upload_settings(10s);
    o.batch_size = 100;
    o.attempts = 3;
    o.backoff_base = 10ms;  // retries without slowing the test down
    o.backoff_cap = 40ms;
    return o;
  }

  Result<HistoryLoadProgress> load(const HistoryLoadOptions& o) {
    auto gen = generator();
    return load_history(gen, o, [this](const HistoryLoadProgress& p) { progress_.push_back(p); });
  }

  std::vector<HistoryLoadProgress> progress_;
};

TEST_F(HistoryLoadTest, PostsEveryBatchAndASecondRunInsertsNothing) {
  auto o = load_options();
  o.client.gzip = true;
  const auto first = load(o);
  ASSERT_TRUE(first.has_value()) << first.error().message;
  EXPECT_EQ(first.value().total, 288U);
  EXPECT_EQ(first.value().sent, 288U);
  EXPECT_EQ(first.value().inserted, 288U);
  EXPECT_EQ(first.value().retries, 0U);
  ASSERT_EQ(progress_.size(), 3U);
  EXPECT_EQ(progress_[0].sent, 100U);
  EXPECT_EQ(progress_[2].sent, 288U);
  EXPECT_EQ(receiver_->count(), 288U);
  const auto requests = receiver_->requests();
  ASSERT_EQ(requests.size(), 3U);
  EXPECT_TRUE(requests[0].gzip);
  EXPECT_EQ(requests[0].seqs.front(), 1);
  EXPECT_EQ(requests[2].seqs.back(), 288);

  const auto second = load(o);
  ASSERT_TRUE(second.has_value()) << second.error().message;
  EXPECT_EQ(second.value().sent, 288U);
  EXPECT_EQ(second.value().inserted, 0U);
  EXPECT_EQ(receiver_->count(), 288U);
}

// (A connection reset is not scripted here: libcurl itself resends on a reused connection that
// died, so the count of our retries would depend on its timing. Network errors are covered by the
// unreachable case.)
TEST_F(HistoryLoadTest, ServerErrorsAreRetriedWithBackoff) {
  receiver_->push({Reply::with_status(503).header("Retry-After", "0"), Reply::with_status(504)});
  const auto done = load(load_options());
  ASSERT_TRUE(done.has_value()) << done.error().message;
  EXPECT_EQ(done.value().sent, 288U);
  EXPECT_EQ(done.value().inserted, 288U);
  EXPECT_EQ(done.value().retries, 2U);
  EXPECT_EQ(receiver_->requests().size(), 5U);
}

TEST_F(HistoryLoadTest, GivesUpAfterTheAttemptsWithTheLastAnswer) {
  receiver_->set_responder([](const test::RequestRecord&) { return Reply::with_status(502); });
  const auto done = load(load_options());
  ASSERT_FALSE(done.has_value());
  EXPECT_NE(done.error().message.find("after 3 attempt(s)"), std::string::npos)
      << done.error().message;
  EXPECT_NE(done.error().message.find("HTTP 502"), std::string::npos);
  EXPECT_EQ(receiver_->requests().size(), 3U);
}

TEST_F(HistoryLoadTest, UnreachableServerIsAnErrorAfterTheAttempts) {
  auto o = load_options();
  const auto port = receiver_->port();
  receiver_->stop();
  o.client.url = "https://localhost:" + std::to_string(port) + "/v1/ingest";
  const auto done = load(o);
  ASSERT_FALSE(done.has_value());
  EXPECT_NE(done.error().message.find("after 3 attempt(s)"), std::string::npos)
      << done.error().message;
  EXPECT_NE(done.error().message.find("0 of 288 samples"), std::string::npos);
}

TEST_F(HistoryLoadTest, ARefusedTokenStopsAtOnceWithoutEchoingIt) {
  receiver_->set_token("another-token");
  const auto done = load(load_options());
  ASSERT_FALSE(done.has_value());
  EXPECT_NE(done.error().message.find("HTTP 401"), std::string::npos) << done.error().message;
  EXPECT_NE(done.error().message.find("--token"), std::string::npos);
  EXPECT_EQ(done.error().message.find(kToken), std::string::npos);
  EXPECT_EQ(receiver_->requests().size(), 1U);
}

TEST_F(HistoryLoadTest, ARefusedSampleNamesItsBatchAndWhatWasStoredBefore) {
  receiver_->reject_seqs({150});
  const auto done = load(load_options());
  ASSERT_FALSE(done.has_value());
  EXPECT_NE(done.error().message.find("seq 101–200"), std::string::npos) << done.error().message;
  EXPECT_NE(done.error().message.find("HTTP 422"), std::string::npos);
  EXPECT_NE(done.error().message.find("100 of 288 samples"), std::string::npos);
  EXPECT_EQ(receiver_->count(), 100U);
}

TEST_F(HistoryLoadTest, ATwoHundredThatIsNotTheIngestReplyIsAnError) {
  auto not_ingest = Reply::with_status(200);
  not_ingest.body = "<html>welcome</html>";
  receiver_->push(std::move(not_ingest));
  const auto done = load(load_options());
  ASSERT_FALSE(done.has_value());
  EXPECT_NE(done.error().message.find("without the ingest reply"), std::string::npos)
      << done.error().message;
}

TEST(HistoryLoadOptions, BatchSizeAndAttemptsAreChecked) {
  HistoryLoadOptions o;
  o.batch_size = 0;
  EXPECT_FALSE(validate(o).has_value());
  o.batch_size = kMaxHistoryBatch + 1;
  EXPECT_FALSE(validate(o).has_value());
  o.batch_size = kMaxHistoryBatch;
  EXPECT_TRUE(validate(o).has_value());
  o.attempts = 0;
  EXPECT_FALSE(validate(o).has_value());
}

}  // namespace
}  // namespace sungrow::sim
