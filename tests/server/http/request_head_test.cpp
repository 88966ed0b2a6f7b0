// The request head before routing: header bytes counted whatever the slicing, RFC 9112 framing
// checks, request-target forms, and the budget for bodies in flight.
#include "sungrow/server/http/request_head.hpp"

#include <gtest/gtest.h>

#include <boost/beast/http/error.hpp>
#include <string>

#include "sungrow/server/http/body_budget.hpp"

namespace sungrow::http::detail {
namespace {

namespace bhttp = boost::beast::http;

struct Parsed {
  boost::beast::error_code ec;
  bool done = false;
  std::size_t consumed = 0;
};

// Feeds `text` in slices of `slice` bytes, as reads from a socket would arrive, keeping what the
// reader did not consume (like the transport's buffer does).
Parsed feed(RequestParser& parser, std::string_view text, std::size_t slice, std::size_t limit) {
  HeadReader reader(parser, limit);
  Parsed out;
  std::string pending;
  std::size_t next = 0;
  while (!out.ec && !reader.done()) {
    if (next >= text.size() && pending.empty()) break;
    pending.append(text.substr(next, slice));
    next += slice;
    const auto used = reader.put(boost::asio::buffer(pending), out.ec);
    out.consumed += used;
    pending.erase(0, used);
    if (next >= text.size() && !reader.done() && !out.ec) break;  // incomplete: wait for more
  }
  out.done = reader.done();
  return out;
}

std::optional<HeadRefusal> judge(std::string_view head) {
  RequestParser parser;
  const auto parsed = feed(parser, head, head.size(), 8192);
  EXPECT_FALSE(parsed.ec) << parsed.ec.message() << " in " << head;
  EXPECT_TRUE(parsed.done) << head;
  return check_request_head(parser);
}

TEST(HeadReader, ParsesAHeadArrivingByteByByte) {
  const std::string head = "GET /health HTTP/1.1\r\nHost: a\r\nX-One: 1\r\n\r\n";
  for (const std::size_t slice : {std::size_t{1}, std::size_t{3}, head.size()}) {
    RequestParser parser;
    const auto parsed = feed(parser, head + "next bytes", slice, 8192);
    EXPECT_FALSE(parsed.ec) << slice;
    EXPECT_TRUE(parsed.done) << slice;
    EXPECT_EQ(parsed.consumed, head.size()) << "never past the end of the head, slice " << slice;
    EXPECT_EQ(parser.get()["X-One"], "1");
  }
}

// However the bytes are sliced, a head larger than the limit is refused: by the bytes it took,
// or by an unfinished line that already passes it.
TEST(HeadReader, CountsTheWholeHeadAgainstTheLimit) {
  std::string head = "GET / HTTP/1.1\r\nHost: a\r\n";
  for (int i = 0; i < 200; ++i) head += "X-Filler-" + std::to_string(i) + ": abcdefghij\r\n";
  head += "\r\n";
  ASSERT_GT(head.size(), 4096U);
  for (const std::size_t slice :
       {std::size_t{1}, std::size_t{100}, std::size_t{4000}, head.size()}) {
    RequestParser parser;
    parser.header_limit(4096);
    const auto parsed = feed(parser, head, slice, 4096);
    EXPECT_EQ(parsed.ec, bhttp::error::header_limit) << "slice " << slice;
  }
  RequestParser endless;
  const auto parsed =
      feed(endless, "GET / HTTP/1.1\r\nX-Long: " + std::string(5000, 'a'), 512, 4096);
  EXPECT_EQ(parsed.ec, bhttp::error::header_limit);
}

TEST(CheckRequestHead, Http11NeedsExactlyOneHost) {
  EXPECT_FALSE(judge("GET / HTTP/1.1\r\nHost: a\r\n\r\n"));
  const auto missing = judge("GET / HTTP/1.1\r\n\r\n");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 400);
  const auto twice = judge("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  ASSERT_TRUE(twice);
  EXPECT_EQ(twice->status, 400);
  EXPECT_FALSE(judge("GET / HTTP/1.0\r\n\r\n"));  // HTTP/1.0 may omit it
  EXPECT_TRUE(judge("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"));
}

TEST(CheckRequestHead, OnlyPlainChunkedTransferEncodingIsAccepted) {
  EXPECT_FALSE(judge("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"));
  EXPECT_FALSE(judge("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked \r\n\r\n"));
  for (const char* coding : {"gzip, chunked", "identity", "gzip", "chunked, chunked"}) {
    const auto r = judge(std::string("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ") + coding +
                         "\r\n\r\n");
    ASSERT_TRUE(r) << coding;
    EXPECT_EQ(r->status, 501) << coding;
  }
  const auto two_headers = judge(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: "
      "chunked\r\n\r\n");
  ASSERT_TRUE(two_headers);
  EXPECT_EQ(two_headers->status, 501);
  const auto old = judge("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->status, 400);
}

TEST(SplitTarget, OriginAbsoluteAndAsteriskForms) {
  const auto origin = split_target("/v1/series?frame=day&tz=UTC");
  ASSERT_TRUE(origin);
  EXPECT_EQ(origin->path, "/v1/series");
  EXPECT_EQ(origin->query, "frame=day&tz=UTC");
  const auto absolute = split_target("http://example.org:8000/health");
  ASSERT_TRUE(absolute);
  EXPECT_EQ(absolute->path, "/health");
  EXPECT_EQ(absolute->query, "");
  const auto with_query = split_target("HTTPS://example.org/v1/realtime?device_id=a");
  ASSERT_TRUE(with_query);
  EXPECT_EQ(with_query->path, "/v1/realtime");
  EXPECT_EQ(with_query->query, "device_id=a");
  const auto bare = split_target("http://example.org");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->path, "/");
  const auto query_only = split_target("http://example.org?x=1");
  ASSERT_TRUE(query_only);
  EXPECT_EQ(query_only->path, "/");
  EXPECT_EQ(query_only->query, "x=1");
  EXPECT_EQ(split_target("*")->path, "*");
  for (const char* bad : {"", "example.org:443", "ftp://example.org/x", "http:///x", "health"}) {
    EXPECT_FALSE(split_target(bad)) << bad;
  }
}

TEST(BodyBudget, ReservesUpToTheLimitAndGivesBackOnRelease) {
  BodyBudget budget(100);
  auto a = budget.try_reserve(60);
  ASSERT_TRUE(a);
  EXPECT_FALSE(budget.try_reserve(41));
  auto b = budget.try_reserve(40);
  ASSERT_TRUE(b);
  EXPECT_EQ(budget.in_use(), 100U);
  EXPECT_FALSE(budget.try_reserve(1));
  a.reset();
  EXPECT_EQ(budget.in_use(), 40U);
  BodyBudget::Reservation moved = std::move(*b);
  b.reset();
  EXPECT_EQ(budget.in_use(), 40U);  // the moved-from reservation gives nothing back
  { const BodyBudget::Reservation gone = std::move(moved); }
  EXPECT_EQ(budget.in_use(), 0U);
  EXPECT_FALSE(budget.try_reserve(101));
}

}  // namespace
}  // namespace sungrow::http::detail
