// UploadRotation over a real HTTPS receiver: a device's week-long backlog never starves another
// device's live samples, each device posts with its own token, and only what the server
// acknowledged leaves the spool, per device.
#include "sungrow/edge/upload/rotation.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <random>
#include <set>

#include "sample_factory.hpp"
#include "sungrow/edge/spool/spool.hpp"
#include "upload_test_fixture.hpp"

namespace sungrow::edge {
namespace {

using namespace std::chrono_literals;

constexpr const char* kToken = "rotation-test-token";
constexpr const char* kBacklog = "roof-1";
constexpr const char* kLive = "garage";

class RotationTest : public UploadFixture {
 protected:
  RotationTest() : UploadFixture(kToken, "") {}

  void SetUp() override {
    receiver_ = std::make_unique<test::HttpsReceiver>(receiver_options());  // any device
    dir_ = pki_->dir() / ("rotation-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(dir_);
    // Not about durability: no fsync, so a big backlog is quick to build.
    auto spool = Spool::open(dir_ / "spool.db", SpoolOptions{.synchronous = SpoolSync::off});
    ASSERT_TRUE(spool.has_value()) << spool.error().message;
    spool_ = std::make_unique<Spool>(std::move(*spool));
  }

  void TearDown() override {
    receiver_.reset();
    spool_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  UploaderSettings settings(const char* device, std::string token) const {
    auto s = upload_settings(5s);
    s.device_id = device;
    s.token = std::move(token);
    s.batch_size = 30;
    s.max_batch_size = 500;
    s.upload_interval = 10s;
    return s;
  }

  std::int64_t enqueue(const char* device) {
    auto& next = next_[device];
    return spool_->enqueue(test::realistic_sample(device, next++, test::sample_epoch())).stored.seq;
  }

  bool delivered(const char* device, std::int64_t seq) const {
    return receiver_->keys().contains({device, seq});
  }

  std::filesystem::path dir_;
  std::unique_ptr<Spool> spool_;
  std::map<std::string, std::int64_t> next_;
};

TEST_F(RotationTest, LiveSamplesGoWithinOnePassWhileAnotherDeviceCatchesUp) {
  for (int i = 0; i < 5'000; ++i) enqueue(kBacklog);  // ten catch-up batches of 500
  std::vector<Uploader> uploaders;
  uploaders.emplace_back(settings(kBacklog, kToken), *spool_);
  uploaders.emplace_back(settings(kLive, kToken), *spool_);
  std::size_t steps = 0;
  UploadRotation rotation(std::move(uploaders),
                          [&](std::size_t, const UploadStep& step) { steps += step.posts; });
  // Every device is due on every pass here (waits are the loop's business): what is measured is
  // how many posts a live sample waits behind the backlog.
  const auto always = UploadRotation::Clock::time_point::max();
  int passes = 0;
  std::size_t worst_posts_behind = 0;
  while (spool_->stats().depth > 0 || passes == 0) {
    ASSERT_LT(passes, 40) << "the backlog did not drain";
    const auto seq = enqueue(kLive);  // a live poll arrives
    const auto posts_before = receiver_->requests().size();
    rotation.pass(always);
    ++passes;
    ASSERT_TRUE(delivered(kLive, seq)) << "live sample " << seq << " not sent in pass " << passes;
    worst_posts_behind = std::max(worst_posts_behind, receiver_->requests().size() - posts_before);
  }
  // One batch of each device per pass: the live device never waited behind more than one
  // backlog batch, while the backlog drained at full catch-up size.
  EXPECT_LE(worst_posts_behind, 2u);
  EXPECT_EQ(receiver_->count(), 5'000u + static_cast<std::size_t>(passes));
  EXPECT_LE(passes, 11);  // 5,000 / 500 (+1 for the short last round)
  EXPECT_EQ(steps, receiver_->requests().size());
  for (const auto& r : receiver_->requests()) EXPECT_TRUE(r.authorized);
}

TEST_F(RotationTest, EachDeviceUsesItsOwnTokenAndOnlyAcknowledgedSamplesLeave) {
  for (int i = 0; i < 40; ++i) {
    enqueue(kBacklog);
    enqueue(kLive);
  }
  std::vector<Uploader> uploaders;
  uploaders.emplace_back(settings(kBacklog, kToken), *spool_);
  uploaders.emplace_back(settings(kLive, "not-the-garage-token"), *spool_);
  std::map<std::size_t, UploadStep> last;
  UploadRotation rotation(std::move(uploaders),
                          [&](std::size_t i, const UploadStep& step) { last[i] = step; });
  rotation.pass(UploadRotation::Clock::time_point::max());
  EXPECT_TRUE(last.at(0).ok);
  EXPECT_EQ(last.at(0).sent, 40u);
  EXPECT_EQ(last.at(1).last_status, PostStatus::unauthorized);
  EXPECT_EQ(receiver_->count(), 40u);  // roof-1's, none of the garage's
  const auto stats = spool_->stats();
  ASSERT_EQ(stats.devices.size(), 2u);
  EXPECT_EQ(stats.devices[0].device_id, kLive);  // by id: "garage" < "roof-1"
  EXPECT_EQ(stats.devices[0].depth, 40u);        // refused: kept, all of them
  EXPECT_EQ(stats.devices[1].depth, 0u);         // acknowledged: gone
}

}  // namespace
}  // namespace sungrow::edge
