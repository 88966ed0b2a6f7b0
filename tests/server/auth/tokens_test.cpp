// Device tokens: DEVICE_TOKENS(_FILE) parsing without echoing secrets, bearer checks, new tokens.
#include "sungrow/server/auth/tokens.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

namespace sungrow::auth {
namespace {

const std::string kTokA = "tokA-0123456789abcdef";
const std::string kTokB = "tokB-0123456789abcdef";

TokenTable table() {
  auto r = parse_device_tokens(kTokA + ":inv-a, " + kTokB + ":inv-b");
  EXPECT_TRUE(r.has_value());
  return r.has_value() ? std::move(r.value()) : TokenTable{};
}

// All messages joined, for "never mentions the token" checks.
std::string messages(const TokenTableResult& r) {
  std::string all;
  if (r.has_value()) return all;
  for (const auto& e : r.error()) all += e.message + "\n";
  return all;
}

TEST(DeviceTokens, ParsesPairsWithWhitespace) {
  const auto r = parse_device_tokens("  " + kTokA + " : inv-a ,\t" + kTokB + ":inv-b:2 ,");
  ASSERT_TRUE(r.has_value()) << messages(r);
  ASSERT_EQ(r.value().size(), 2u);
  EXPECT_EQ(r.value().entries()[0].devices, std::vector<std::string>{"inv-a"});
  EXPECT_EQ(r.value().entries()[1].devices,
            std::vector<std::string>{"inv-b:2"});  // split at the first ':' only
}

TEST(DeviceTokens, OneDeviceMayHaveSeveralTokens) {
  const auto r = parse_device_tokens(kTokA + ":inv-a," + kTokB + ":inv-a");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r.value().size(), 2u);
}

TEST(DeviceTokens, OneErrorPerBadEntryNeverEchoingSecrets) {
  const std::string secret_short = "s3cr3t";
  const std::string secret_long = "SECRETSECRETSECRET-1";
  const auto text = "no-colon-" + secret_long + ", :inv-a, " + secret_short + ":inv-b, " +
                    secret_long + ":x'; DROP TABLE t, " + kTokA + ":inv-c, " + kTokA + ":inv-d, " +
                    secret_long + "!:inv-e, " + secret_long + ":";
  const auto r = parse_device_tokens(text);
  ASSERT_FALSE(r.has_value());
  const auto& e = r.error();
  ASSERT_EQ(e.size(), 7u) << messages(r);
  EXPECT_EQ(e[0].message,
            "DEVICE_TOKENS entry 1: missing ':' between token and device id (expected "
            "token:device_id)");
  EXPECT_EQ(e[1].message, "DEVICE_TOKENS entry 2: empty token");
  EXPECT_EQ(e[2].message,
            "DEVICE_TOKENS entry 3: token is 6 characters; 16..512 are required (make one with "
            "`sungrow-server token new DEVICE_ID`)");
  EXPECT_EQ(e[3].message, "DEVICE_TOKENS entry 4: device id must match [A-Za-z0-9._:-]{1,64}");
  EXPECT_EQ(e[4].message, "DEVICE_TOKENS entry 6: the same token as DEVICE_TOKENS entry 5");
  EXPECT_EQ(e[5].message,
            "DEVICE_TOKENS entry 7: token has characters outside A-Z a-z 0-9 - . _ ~ + / =");
  EXPECT_EQ(e[6].message, "DEVICE_TOKENS entry 8: empty device id");
  const auto all = messages(r);
  for (const auto& s : {secret_short, secret_long, kTokA, std::string("DROP")}) {
    EXPECT_EQ(all.find(s), std::string::npos) << s;
  }
}

TEST(DeviceTokens, SwappedOrderDoesNotEchoTheToken) {
  const std::string token = "0123456789abcdef0123456789abcdef";
  const auto r = parse_device_tokens("inv-a:" + token);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(messages(r).find(token), std::string::npos);
}

TEST(DeviceTokens, EmptyIsAnError) {
  for (const std::string_view text : {"", " , ,"}) {
    const auto r = parse_device_tokens(text);
    ASSERT_FALSE(r.has_value());
    ASSERT_EQ(r.error().size(), 1u);
    EXPECT_EQ(r.error()[0].message, "DEVICE_TOKENS: no token:device_id pairs");
  }
}

TEST(DeviceTokensFile, CommentsBlankLinesAndLineNumbers) {
  const auto text = "# tokens\n\n" + kTokA + ":inv-a\r\n   # indented comment\n" + kTokB +
                    "\nshort:inv-c\n" + kTokB + ":inv-b\n";
  const auto r = parse_device_tokens_file(text);
  ASSERT_FALSE(r.has_value());
  ASSERT_EQ(r.error().size(), 2u) << messages(r);
  EXPECT_EQ(r.error()[0].message,
            "DEVICE_TOKENS_FILE line 5: missing ':' between token and device id (expected "
            "token:device_id)");
  EXPECT_EQ(r.error()[1].message.rfind("DEVICE_TOKENS_FILE line 6: token is 5 characters", 0), 0u);
  EXPECT_EQ(messages(r).find(kTokB), std::string::npos);

  const auto ok = parse_device_tokens_file("# c\n" + kTokA + ":inv-a\n\n" + kTokB + ":inv-b");
  ASSERT_TRUE(ok.has_value()) << messages(ok);
  EXPECT_EQ(ok.value().size(), 2u);
}

TEST(DeviceTokensFile, LoadsFromDiskAndReportsAMissingFile) {
  const auto path =
      std::filesystem::temp_directory_path() /
      ("sungrow-tokens-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()));
  { std::ofstream(path) << kTokA << ":inv-a\n"; }
  const auto r = load_device_tokens_file(path);
  std::filesystem::remove(path);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r.value().size(), 1u);

  const auto missing = load_device_tokens_file(path);
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error()[0].message.find("cannot be read"), std::string::npos);
}

TEST(Check, AcceptsBearerCaseInsensitiveScheme) {
  const auto t = table();
  for (const auto& h :
       {"Bearer " + kTokA, "bearer " + kTokA, "BEARER   " + kTokA, "  Bearer\t" + kTokA + "  "}) {
    const auto r = check(t, h, std::nullopt);
    EXPECT_TRUE(r.ok()) << h;
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.device_id, "inv-a");
    EXPECT_TRUE(r.code.empty());
  }
  EXPECT_EQ(check(t, "Bearer " + kTokB).device_id, "inv-b");
}

TEST(Check, MissingOrMalformedIs401) {
  const auto t = table();
  struct C {
    std::string header;
    std::string detail;
  };
  for (const auto& c : std::vector<C>{
           {"", "missing Authorization header (Bearer token)"},
           {"   ", "missing Authorization header (Bearer token)"},
           {"Basic dXNlcjpwYXNz", "the Authorization scheme must be Bearer"},
           {"Bearer", "missing bearer token"},
           {"Bearer    ", "missing bearer token"},
           {kTokA, "the Authorization scheme must be Bearer"},
           {"Bearer " + kTokA + " extra", "malformed bearer token"},
           {"Bearer " + kTokA.substr(0, kTokA.size() - 1), "unknown token"},
           {"Bearer " + kTokA + "x", "unknown token"},
           {"Bearer TOKA-0123456789ABCDEF", "unknown token"},  // the token is case-sensitive
       }) {
    const auto r = check(t, c.header, std::string_view("inv-a"));
    EXPECT_EQ(r.status, 401) << c.header;
    EXPECT_EQ(r.code, "unauthorized");
    EXPECT_EQ(r.detail, c.detail) << c.header;
    EXPECT_TRUE(r.device_id.empty());
    EXPECT_EQ(r.www_authenticate.rfind("Bearer realm=\"sungrow\"", 0), 0u);
    EXPECT_EQ(r.detail.find("tokA"), std::string::npos);
  }
}

TEST(Check, OtherDeviceIs403) {
  const auto t = table();
  const auto r = check(t, "Bearer " + kTokA, std::string_view("inv-b"));
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(r.code, "forbidden");
  EXPECT_EQ(r.device_id, "inv-a");
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(check(t, "Bearer " + kTokA, std::string_view("inv-a")).ok());
}

// A fleet's table: every token finds its own device (the index keeps positions right as the table
// grows, and after a copy), near misses and unknown tokens find nothing, a repeat is refused.
TEST(Check, AThousandTokensEachFindTheirDevice) {
  TokenTable t;
  std::vector<std::string> tokens;
  for (int i = 0; i < 1000; ++i) {
    tokens.push_back(new_token());
    ASSERT_TRUE(t.add(tokens.back(), {"dev-" + std::to_string(i)}));
  }
  EXPECT_FALSE(t.add(tokens[500], {"other"}));
  const TokenTable copy = t;
  for (const TokenTable* table : std::vector<const TokenTable*>{&t, &copy}) {
    for (int i = 0; i < 1000; ++i) {
      const auto r = check(*table, "Bearer " + tokens[static_cast<std::size_t>(i)]);
      ASSERT_TRUE(r.ok()) << i;
      EXPECT_EQ(r.device_id, "dev-" + std::to_string(i));
    }
    auto near_miss = tokens[7];
    near_miss.back() = near_miss.back() == '0' ? '1' : '0';
    EXPECT_EQ(check(*table, "Bearer " + near_miss).status, 401);
    EXPECT_EQ(check(*table, "Bearer " + new_token()).status, 401);
  }
}

TEST(Check, EmptyTableRefusesEverything) {
  EXPECT_EQ(check(TokenTable{}, "Bearer " + kTokA).status, 401);
}

TEST(NewToken, LongHexAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const auto t = new_token();
    ASSERT_EQ(t.size(), 64u);
    EXPECT_EQ(t.find_first_not_of("0123456789abcdef"), std::string::npos);
    seen.insert(t);
  }
  EXPECT_EQ(seen.size(), 1000u);
  // A fresh token is accepted by the table parser as is.
  const auto tok = new_token();
  const auto r = parse_device_tokens(tok + ":inv-a");
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(check(r.value(), "Bearer " + tok).ok());
}

// A token line in the file may grant several devices (a master and a slave inverter); the list
// form keeps one device per entry, since a comma separates its entries.
TEST(DeviceTokens, AFileLineMayGrantSeveralDevices) {
  const auto r =
      parse_device_tokens_file(kTokA + ":roof-1,roof-2 , roof-1\n" + kTokB + ":garage\n");
  ASSERT_TRUE(r.has_value()) << messages(r);
  EXPECT_EQ(r.value().entries()[0].devices, (std::vector<std::string>{"roof-1", "roof-2"}));
  const auto both = check(r.value(), "Bearer " + kTokA, "roof-2");
  EXPECT_TRUE(both.ok());
  EXPECT_EQ(both.device_id, "roof-2");
  EXPECT_EQ(check(r.value(), "Bearer " + kTokA).device_id, "roof-1");  // the first by default
  EXPECT_EQ(check(r.value(), "Bearer " + kTokA, "garage").status, 403);
  EXPECT_FALSE(parse_device_tokens_file(kTokA + ":roof-1,bad id\n").has_value());
  EXPECT_FALSE(parse_device_tokens(kTokA + ":roof-1,roof-2").has_value());  // "roof-2" has no ':'
}

// The viewer file keeps digests only: what `viewer new` appends reads back to the same grant, and
// the token itself never appears in it.
TEST(ViewerTokens, TheFileHoldsDigestsThatGrantTheirDevices) {
  const std::vector<std::string> devices{"roof-1", "roof-2"};
  const auto token = new_token();
  const auto line = viewer_tokens_line(token, devices);
  EXPECT_EQ(line.find(token), std::string::npos);
  EXPECT_EQ(line.substr(64), " roof-1,roof-2");
  const auto table = parse_viewer_tokens_file("# viewers\n" + line + "\n");
  ASSERT_TRUE(table.has_value()) << messages(table);
  const auto* entry = table.value().find(token_digest(token));
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->devices, devices);
  EXPECT_EQ(table.value().find(token_digest(kTokA)), nullptr);
  EXPECT_TRUE(parse_viewer_tokens_file("").has_value());  // no viewer yet
  for (const char* bad : {"abc roof-1", "zz roof-1", "0123 ", "not a digest"}) {
    EXPECT_FALSE(parse_viewer_tokens_file(bad).has_value()) << bad;
  }
  EXPECT_FALSE(parse_viewer_tokens_file(line + "\n" + line + "\n").has_value());  // a repeat
}

}  // namespace
}  // namespace sungrow::auth
