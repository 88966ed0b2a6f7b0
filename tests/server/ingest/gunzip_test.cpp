// gunzip_limited: round trips, the output cap (gzip bombs) and corrupt or truncated streams.
#include "sungrow/server/ingest/gunzip.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

#include "gzip.hpp"

namespace sungrow::ingest {
namespace {

using test::gzip_compress;

constexpr std::size_t kMiB = 1 << 20;

TEST(Gunzip, RoundTrip) {
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "{\"samples\":[" + std::to_string(i) + "]}";
  const auto r = gunzip_limited(gzip_compress(text), kMiB);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r.value(), text);
}

TEST(Gunzip, EmptyPayloadRoundTrips) {
  const auto r = gunzip_limited(gzip_compress(""), kMiB);
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r.value().empty());
}

TEST(Gunzip, ByteSpanOverload) {
  const auto z = gzip_compress("hello");
  const auto r = gunzip_limited(std::as_bytes(std::span(z.data(), z.size())), 5);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r.value(), "hello");
}

TEST(Gunzip, ExactlyAtTheCapIsAccepted) {
  const std::string text(4096, 'a');
  EXPECT_TRUE(gunzip_limited(gzip_compress(text), 4096).has_value());
  const auto over = gunzip_limited(gzip_compress(text), 4095);
  ASSERT_FALSE(over.has_value());
  EXPECT_EQ(over.error().kind, GunzipError::Kind::too_large);
}

TEST(Gunzip, BombIsRefusedAs413) {
  const std::string zeros(10 * kMiB, '\0');
  const auto bomb = gzip_compress(zeros);
  ASSERT_LT(bomb.size(), 64u * 1024);  // ~10 KB
  const auto r = gunzip_limited(bomb, kMiB);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, GunzipError::Kind::too_large);
  EXPECT_EQ(r.error().http_status(), 413);
  EXPECT_EQ(r.error().code(), "body_too_large");
  EXPECT_NE(r.error().message.find("1048576"), std::string::npos);
}

TEST(Gunzip, ConcatenatedMembersAreOneStream) {
  const auto r = gunzip_limited(gzip_compress("abc") + gzip_compress("def"), 100);
  ASSERT_TRUE(r.has_value()) << r.error().message;
  EXPECT_EQ(r.value(), "abcdef");
}

TEST(Gunzip, CapCoversAllMembersTogether) {
  const std::string half(600, 'x');
  const auto r = gunzip_limited(gzip_compress(half) + gzip_compress(half), 1000);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, GunzipError::Kind::too_large);
}

TEST(Gunzip, TruncatedIs400) {
  std::string text;
  for (int i = 0; i < 5000; ++i) text += std::to_string(i * 7919);
  const auto z = gzip_compress(text);
  for (const std::size_t keep : {std::size_t{1}, std::size_t{10}, z.size() / 2, z.size() - 1}) {
    const auto r = gunzip_limited(std::string_view(z).substr(0, keep), kMiB);
    ASSERT_FALSE(r.has_value()) << keep;
    EXPECT_EQ(r.error().kind, GunzipError::Kind::corrupt) << keep;
    EXPECT_EQ(r.error().http_status(), 400);
  }
}

TEST(Gunzip, CorruptIs400) {
  auto z = gzip_compress(std::string(1000, 'q') + "tail");
  z[z.size() - 6] = static_cast<char>(z[z.size() - 6] ^ 0x55);  // CRC-32 of the trailer
  const auto crc = gunzip_limited(z, kMiB);
  ASSERT_FALSE(crc.has_value());
  EXPECT_EQ(crc.error().kind, GunzipError::Kind::corrupt);

  const auto plain = gunzip_limited(std::string_view("{\"samples\":[]}"), kMiB);
  ASSERT_FALSE(plain.has_value());
  EXPECT_EQ(plain.error().kind, GunzipError::Kind::corrupt);

  const auto empty = gunzip_limited(std::string_view(), kMiB);
  ASSERT_FALSE(empty.has_value());
  EXPECT_EQ(empty.error().kind, GunzipError::Kind::corrupt);
}

TEST(Gunzip, TrailingGarbageIs400) {
  const auto r = gunzip_limited(gzip_compress("abc") + "garbage", kMiB);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().kind, GunzipError::Kind::corrupt);
}

TEST(Gunzip, MagicDetection) {
  EXPECT_TRUE(looks_like_gzip(gzip_compress("x")));
  EXPECT_FALSE(looks_like_gzip(std::string_view("{}")));
  EXPECT_FALSE(looks_like_gzip(std::string_view("\x1f")));
}

}  // namespace
}  // namespace sungrow::ingest
