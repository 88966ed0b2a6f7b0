// Uploader::step over a real Spool (temp dir) and the HTTPS receiver: ack, backoff, split, dead
// letter.
#include "sungrow/edge/upload/uploader.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <random>

#include "https_receiver.hpp"
#include "sample_factory.hpp"
#include "sungrow/edge/spool/spool.hpp"
#include "upload_test_fixture.hpp"

namespace sungrow::edge {
namespace {

using namespace std::chrono_literals;
using test::Reply;

constexpr const char* kToken = "uploader-test-token";
constexpr const char* kDevice = "sh40rs-uploader-test";

class UploaderTest : public UploadFixture {
 protected:
  UploaderTest() : UploadFixture(kToken, kDevice) {}

  void SetUp() override {
    UploadFixture::SetUp();
    dir_ = pki_->dir() / ("spool-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
    auto spool = Spool::open(dir_ / "spool.db");
    ASSERT_TRUE(spool.has_value()) << spool.error().message;
    spool_ = std::make_unique<Spool>(std::move(*spool));
  }

  void TearDown() override {
    receiver_.reset();
    spool_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  UploaderSettings settings() const {
    auto s = upload_settings(5s);
    s.batch_size = 30;
    s.max_batch_size = 1'000;
    s.upload_interval = 10s;
    return s;
  }

  // Enqueues n samples; returns their seqs.
  std::vector<std::int64_t> enqueue(std::size_t n) {
    std::vector<std::int64_t> seqs;
    for (std::size_t i = 0; i < n; ++i) {
      auto out = spool_->enqueue(test::realistic_sample(kDevice, next_++, test::sample_epoch()));
      EXPECT_TRUE(out.durable);
      seqs.push_back(out.stored.seq);
    }
    return seqs;
  }

  std::uint64_t depth() const { return spool_->stats().depth; }

  // Steps until the spool is empty (waits are the caller's business, so none are slept here).
  std::vector<UploadStep> drain(Uploader& up, int max_steps = 200) {
    std::vector<UploadStep> steps;
    for (int i = 0; i < max_steps && depth() > 0; ++i) steps.push_back(up.step());
    return steps;
  }

  std::filesystem::path dir_;
  std::unique_ptr<Spool> spool_;
  std::int64_t next_ = 0;
};

TEST_F(UploaderTest, EmptySpoolPostsNothingAndWaitsTheInterval) {
  Uploader up(settings(), *spool_, 1);
  const auto s = up.step();
  EXPECT_TRUE(s.ok);
  EXPECT_EQ(s.posts, 0U);
  EXPECT_EQ(s.wait, 10s);
  EXPECT_TRUE(receiver_->requests().empty());
}

TEST_F(UploaderTest, AcksOnlyAfterA2xx) {
  const auto seqs = enqueue(10);
  // libcurl silently retries once on a fresh connection when a reused one dies before any
  // answer, so a reset on the kept-alive connection takes two scripted resets to surface.
  receiver_->push({Reply::with_status(500), Reply::connection_reset(), Reply::connection_reset(),
                   Reply::with_status(503)});
  Uploader up(settings(), *spool_, 1);
  for (int i = 0; i < 3; ++i) {
    const auto s = up.step();
    EXPECT_FALSE(s.ok);
    EXPECT_EQ(s.sent, 0U);
    EXPECT_EQ(depth(), 10U) << "nothing may be acked before a 2xx";
  }
  const auto s = up.step();
  EXPECT_TRUE(s.ok) << s.error;
  EXPECT_EQ(s.sent, 10U);
  EXPECT_EQ(depth(), 0U);
  EXPECT_EQ(receiver_->count(), 10U);
  EXPECT_EQ(s.wait, 10s);  // nothing left: back to the normal pace
}

TEST_F(UploaderTest, ServerErrorsGrowTheBackoffAndSuccessResetsIt) {
  enqueue(5);
  receiver_->push({Reply::with_status(500), Reply::with_status(500), Reply::with_status(500)});
  Uploader up(settings(), *spool_, 42);
  std::vector<std::chrono::milliseconds> waits;
  for (int i = 0; i < 3; ++i) {
    const auto s = up.step();
    EXPECT_FALSE(s.ok);
    EXPECT_EQ(s.last_status, PostStatus::retry);
    EXPECT_NE(s.error.find("500"), std::string::npos) << s.error;
    waits.push_back(s.wait);
  }
  EXPECT_EQ(up.consecutive_failures(), 3U);
  // Jitter keeps each wait within [ceiling/2, ceiling] of 1 s, 2 s, 4 s.
  EXPECT_LE(waits[0], 1s);
  EXPECT_GE(waits[2], 2s);
  EXPECT_LE(waits[2], 4s);
  EXPECT_GT(waits[2], waits[0]);
  EXPECT_EQ(depth(), 5U);

  const auto ok = up.step();
  EXPECT_TRUE(ok.ok);
  EXPECT_EQ(up.consecutive_failures(), 0U);
  EXPECT_EQ(depth(), 0U);
}

TEST_F(UploaderTest, RetryAfterIsAFloorOnTheWait) {
  enqueue(3);
  receiver_->push(Reply::with_status(429).header("Retry-After", "120"));
  Uploader up(settings(), *spool_, 1);
  const auto s = up.step();
  EXPECT_FALSE(s.ok);
  EXPECT_GE(s.wait, 120s);
  EXPECT_EQ(depth(), 3U);
}

TEST_F(UploaderTest, UnauthorizedKeepsTheDataAndWaitsAtLeastAMinute) {
  enqueue(4);
  receiver_->set_token("rotated-on-the-server");
  Uploader up(settings(), *spool_, 1);
  const auto s = up.step();
  EXPECT_FALSE(s.ok);
  EXPECT_EQ(s.last_status, PostStatus::unauthorized);
  EXPECT_GE(s.wait, 60s);
  EXPECT_EQ(s.error.find(kToken), std::string::npos) << "the token must never be reported";
  EXPECT_EQ(depth(), 4U);

  receiver_->set_token(kToken);  // fixed on the server: the kept data goes through
  EXPECT_TRUE(up.step().ok);
  EXPECT_EQ(receiver_->count(), 4U);
}

TEST_F(UploaderTest, A404ForEverythingKeepsTheWholeBacklogAndRetriesSlowly) {
  // VPS_INGEST_URL with a wrong path (or a proxy answering 404): the data is not at fault, so
  // nothing may be split into dead letters or acked.
  auto cfg = settings();
  cfg.batch_size = 10;
  cfg.max_batch_size = 40;
  enqueue(100);
  receiver_->set_responder(
      [](const test::RequestRecord&) { return std::optional<Reply>(Reply::with_status(404)); });
  Uploader up(cfg, *spool_, 1);
  for (int i = 0; i < 4; ++i) {
    const auto s = up.step();
    EXPECT_FALSE(s.ok);
    EXPECT_EQ(s.last_status, PostStatus::misconfigured);
    EXPECT_EQ(s.sent, 0U);
    EXPECT_EQ(s.dead_lettered, 0U);
    EXPECT_EQ(s.posts, 1U) << "a misconfigured answer must not split the batch";
    EXPECT_GE(s.wait, cfg.unauthorized_min_wait);
    EXPECT_NE(s.error.find("404"), std::string::npos) << s.error;
    EXPECT_EQ(s.error.find(kToken), std::string::npos) << "the token must never be reported";
  }
  EXPECT_EQ(depth(), 100U);
  EXPECT_EQ(spool_->stats().dead_letters, 0U);
  EXPECT_EQ(receiver_->count(), 0U);
  for (const auto& r : receiver_->requests()) EXPECT_EQ(r.seqs.size(), 40U);

  receiver_->set_responder({});  // URL fixed: the kept backlog goes through
  const auto steps = drain(up);
  EXPECT_EQ(depth(), 0U);
  EXPECT_EQ(receiver_->count(), 100U);
  EXPECT_EQ(spool_->stats().dead_letters, 0U);
}

TEST_F(UploaderTest, OtherClientErrorsAndRedirectsKeepTheDataToo) {
  enqueue(6);
  Uploader up(settings(), *spool_, 1);
  for (const unsigned code : {405U, 407U, 415U, 431U, 302U}) {
    receiver_->push(Reply::with_status(code));
    const auto s = up.step();
    EXPECT_EQ(s.last_status, PostStatus::misconfigured) << code;
    EXPECT_EQ(s.dead_lettered, 0U) << code;
    EXPECT_GE(s.wait, 60s) << code;
    EXPECT_EQ(depth(), 6U) << code;
  }
  EXPECT_EQ(spool_->stats().dead_letters, 0U);
  EXPECT_TRUE(up.step().ok);
  EXPECT_EQ(receiver_->count(), 6U);
}

TEST_F(UploaderTest, CreateReportsABadTokenAsAValue) {
  auto cfg = settings();
  cfg.token = "tok\r\nX-Evil: 1";
  const auto bad = Uploader::create(cfg, *spool_, 1);
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("control characters"), std::string::npos)
      << bad.error().message;
  EXPECT_EQ(bad.error().message.find("X-Evil"), std::string::npos) << bad.error().message;

  cfg.token = kToken;
  cfg.url = "http://10.0.0.1/v1/ingest";
  const auto plaintext = Uploader::create(cfg, *spool_, 1);
  ASSERT_FALSE(plaintext.has_value());
  EXPECT_NE(plaintext.error().message.find("plaintext http://"), std::string::npos);
}

TEST_F(UploaderTest, CreatedUploaderWorksAfterBeingMoved) {
  enqueue(5);
  auto created = Uploader::create(settings(), *spool_, 1);
  ASSERT_TRUE(created.has_value()) << created.error().message;
  Uploader up = std::move(*created);
  const auto s = up.step();
  EXPECT_TRUE(s.ok) << s.error;
  EXPECT_EQ(s.sent, 5U);
  EXPECT_EQ(depth(), 0U);
}

TEST_F(UploaderTest, CatchUpUsesMaxBatchSizeBackToBack) {
  auto cfg = settings();
  cfg.batch_size = 5;
  cfg.max_batch_size = 40;
  enqueue(100);
  Uploader up(cfg, *spool_, 1);

  auto s = up.step();
  EXPECT_EQ(s.sent, 40U);
  EXPECT_EQ(s.wait, 0ms);  // backlog remains: no pause
  s = up.step();
  EXPECT_EQ(s.sent, 40U);
  EXPECT_EQ(s.wait, 0ms);
  s = up.step();
  EXPECT_EQ(s.sent, 20U);
  EXPECT_EQ(s.wait, 10s);  // drained: normal pace again
  EXPECT_EQ(depth(), 0U);

  enqueue(3);  // the normal pace uses batch_size
  s = up.step();
  EXPECT_EQ(s.sent, 3U);
  EXPECT_EQ(s.wait, 10s);

  std::vector<std::size_t> sizes;
  for (const auto& r : receiver_->requests()) sizes.push_back(r.seqs.size());
  EXPECT_EQ(sizes, (std::vector<std::size_t>{40, 40, 20, 3}));
  EXPECT_EQ(receiver_->count(), 103U);
}

TEST_F(UploaderTest, OneBadSampleInThirtyIsDeadLetteredAndTheRestDelivered) {
  const auto seqs = enqueue(30);
  const auto bad = seqs[17];
  receiver_->reject_seqs({bad});
  Uploader up(settings(), *spool_, 1);
  const auto s = up.step();
  EXPECT_TRUE(s.ok) << s.error;
  EXPECT_EQ(s.sent, 29U);
  EXPECT_EQ(s.dead_lettered, 1U);
  EXPECT_EQ(depth(), 0U);
  EXPECT_EQ(receiver_->count(), 29U);
  EXPECT_FALSE(receiver_->keys().contains({kDevice, bad}));

  const auto stats = spool_->stats();
  EXPECT_EQ(stats.dead_letters, 1U);
  const auto dead = spool_->dead_letters(10);
  ASSERT_TRUE(dead.has_value()) << dead.error().message;
  const std::vector<DeadLetter>& letters = dead.value();
  ASSERT_EQ(letters.size(), 1U);
  EXPECT_EQ(letters[0].seq, bad);
  EXPECT_NE(letters[0].reason.find("422"), std::string::npos) << letters[0].reason;
}

// Across all requests: a batch answered 400/413/422 never appears again with the same seqs.
void expect_no_refused_batch_resent(const std::vector<test::RequestRecord>& reqs) {
  for (std::size_t i = 0; i < reqs.size(); ++i) {
    if (reqs[i].status != 413 && reqs[i].status != 422 && reqs[i].status != 400) continue;
    for (std::size_t j = i + 1; j < reqs.size(); ++j) {
      EXPECT_NE(reqs[i].seqs, reqs[j].seqs) << "request " << j << " re-sent the batch refused with "
                                            << reqs[i].status << " at request " << i;
    }
  }
}

TEST_F(UploaderTest, TooLargeBatchIsSplitAndNeverResentUnchanged) {
  auto cfg = settings();
  cfg.batch_size = 10;
  cfg.max_batch_size = 200;
  const auto seqs = enqueue(200);
  // Room for roughly 25 samples per request.
  receiver_->set_max_body_bytes(25 * 1'100);
  Uploader up(cfg, *spool_, 1);
  const auto steps = drain(up);
  EXPECT_EQ(depth(), 0U);
  EXPECT_EQ(receiver_->count(), 200U);
  EXPECT_EQ(receiver_->duplicates(), 0U);
  for (const auto& s : steps) EXPECT_EQ(s.dead_lettered, 0U);

  const auto reqs = receiver_->requests();
  EXPECT_TRUE(std::any_of(reqs.begin(), reqs.end(), [](const auto& r) { return r.status == 413; }));
  expect_no_refused_batch_resent(reqs);
  // Later catch-up batches stay within what the server accepted.
  EXPECT_LE(up.batch_size_cap(), 25U);
  EXPECT_GE(up.batch_size_cap(), 10U);
}

TEST_F(UploaderTest, ASampleTooLargeOnItsOwnIsDeadLettered) {
  enqueue(3);
  receiver_->set_max_body_bytes(100);  // smaller than any one sample
  Uploader up(settings(), *spool_, 1);
  const auto s = up.step();
  EXPECT_EQ(s.dead_lettered, 3U);
  EXPECT_EQ(depth(), 0U);
  EXPECT_EQ(spool_->stats().dead_letters, 3U);
  const auto dead = spool_->dead_letters(10);
  ASSERT_TRUE(dead.has_value());
  for (const auto& d : dead.value()) EXPECT_NE(d.reason.find("413"), std::string::npos) << d.reason;
  expect_no_refused_batch_resent(receiver_->requests());
}

TEST_F(UploaderTest, ASplitInterruptedByAnOutageResumesWithoutResendingTheRefusedBatch) {
  auto cfg = settings();
  cfg.batch_size = 16;
  const auto seqs = enqueue(16);
  receiver_->reject_seqs({seqs[4]});
  // The second request (the first half of the split) meets a 500.
  int n = 0;
  receiver_->set_responder([&n](const test::RequestRecord&) -> std::optional<Reply> {
    return ++n == 2 ? std::optional<Reply>(Reply::with_status(500)) : std::nullopt;
  });
  Uploader up(cfg, *spool_, 1);
  const auto first = up.step();
  EXPECT_FALSE(first.ok);
  EXPECT_EQ(first.sent, 0U);
  EXPECT_EQ(depth(), 16U);

  const auto second = up.step();
  EXPECT_TRUE(second.ok) << second.error;
  EXPECT_EQ(second.sent, 15U);
  EXPECT_EQ(second.dead_lettered, 1U);
  EXPECT_EQ(depth(), 0U);
  EXPECT_EQ(receiver_->count(), 15U);
  const auto reqs = receiver_->requests();
  for (std::size_t j = 1; j < reqs.size(); ++j) EXPECT_NE(reqs[j].seqs.size(), 16U);
  expect_no_refused_batch_resent(reqs);
}

TEST_F(UploaderTest, A404DuringASplitKeepsTheRemainingHalves) {
  auto cfg = settings();
  cfg.batch_size = 16;
  const auto seqs = enqueue(16);
  receiver_->reject_seqs({seqs[4]});
  int n = 0;  // the second request (first half of the split) meets a 404
  receiver_->set_responder([&n](const test::RequestRecord&) -> std::optional<Reply> {
    return ++n == 2 ? std::optional<Reply>(Reply::with_status(404)) : std::nullopt;
  });
  Uploader up(cfg, *spool_, 1);
  const auto first = up.step();
  EXPECT_FALSE(first.ok);
  EXPECT_EQ(first.last_status, PostStatus::misconfigured);
  EXPECT_EQ(first.dead_lettered, 0U);
  EXPECT_GE(first.wait, cfg.unauthorized_min_wait);
  EXPECT_EQ(depth(), 16U);

  const auto second = up.step();
  EXPECT_TRUE(second.ok) << second.error;
  EXPECT_EQ(second.sent, 15U);
  EXPECT_EQ(second.dead_lettered, 1U);
  EXPECT_EQ(depth(), 0U);
  expect_no_refused_batch_resent(receiver_->requests());
}

TEST_F(UploaderTest, AfterScriptedFailuresEverySampleArrivesExactlyOnce) {
  auto cfg = settings();
  cfg.batch_size = 10;
  cfg.max_batch_size = 25;
  cfg.timeout = 1s;
  Uploader up(cfg, *spool_, 7);
  auto expected = enqueue(120);
  receiver_->push({
      Reply::with_status(500),
      Reply::connection_reset(),
      Reply::with_status(200),
      Reply::with_status(200).then_reset().committed(),  // committed, ack lost
      Reply::with_status(429).header("Retry-After", "1"),
      Reply::with_status(200).after(2s).committed(),  // committed, client timed out
      Reply::with_status(503),
      Reply::with_status(408),
      Reply::with_status(502),
  });
  for (int i = 0; i < 200 && (depth() > 0 || i < 20); ++i) {
    up.step();
    if (i % 3 == 0) {  // polling goes on during the outage
      const auto more = enqueue(2);
      expected.insert(expected.end(), more.begin(), more.end());
    }
  }
  EXPECT_EQ(depth(), 0U);
  std::set<std::pair<std::string, std::int64_t>> want;
  for (const auto seq : expected) want.emplace(kDevice, seq);
  EXPECT_EQ(receiver_->keys(), want);
  EXPECT_EQ(receiver_->count(), expected.size());
  // The two lost acks made the uploader re-send committed batches; the server's dedupe absorbed
  // them, which is exactly what at-least-once delivery plus idempotent insert promises.
  EXPECT_GE(receiver_->duplicates(), 2U);
}

}  // namespace
}  // namespace sungrow::edge
