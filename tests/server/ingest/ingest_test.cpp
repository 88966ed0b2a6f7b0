// parse_ingest: every reply path with its exact error JSON, and a corpus of hostile bodies.
#include "sungrow/server/ingest/ingest.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "sungrow/core/field_ranges.hpp"
#include "sungrow/core/sample_json.hpp"

namespace sungrow::ingest {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

constexpr std::string_view kDevice = "sh4-roof.1";
// The server's clock in these tests: a day after the samples below.
const Timestamp kNow = Timestamp{} + std::chrono::milliseconds(1'795'086'400'000);

Sample sample(std::int64_t i, std::string device = std::string(kDevice)) {
  Sample s;
  s.device_id = std::move(device);
  s.ts = Timestamp{} + std::chrono::milliseconds(1'795'000'000'000) + 5s * i;
  s.seq = i + 1;
  s.pv_power_w = 1000.0 + static_cast<double>(i);
  s.battery_soc_pct = 55.5;
  s.grid_power_source = GridPowerSource::meter;
  s.running_state = 0x0002;
  s.power_flow = PowerFlow::from_bits(0x0009);
  return s;
}

std::string body_of(std::int64_t n) {
  std::vector<Sample> v;
  for (std::int64_t i = 0; i < n; ++i) v.push_back(sample(i));
  return batch_to_json_text(v);
}

// The reply parsed back, checked for the shape every error shares.
json::object reply(const IngestParse& r) {
  EXPECT_FALSE(r.has_value());
  if (r.has_value()) return {};
  const auto v = json::parse(r.error().body);
  const auto& o = v.as_object();
  EXPECT_EQ(o.at("error").as_string(), r.error().code);
  EXPECT_TRUE(o.contains("detail"));
  return o;
}

TEST(ParseIngest, AcceptsAValidBatch) {
  const auto r = parse_ingest(body_of(30), kDevice, {}, kNow);
  ASSERT_TRUE(r.has_value()) << r.error().body;
  EXPECT_EQ(r.value().received, 30u);
  EXPECT_EQ(r.value().duplicates, 0u);
  ASSERT_EQ(r.value().samples.size(), 30u);
  EXPECT_EQ(r.value().samples[7], sample(7));
}

TEST(ParseIngest, EmptyBatchIsAcceptedAsANoOp) {
  const auto r = parse_ingest(R"({"samples":[]})", kDevice, {}, kNow);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r.value().received, 0u);
  EXPECT_TRUE(r.value().samples.empty());
}

TEST(ParseIngest, RepeatedTimestampsKeepTheFirst) {
  std::vector<Sample> v{sample(0), sample(1), sample(0), sample(2), sample(1)};
  v[2].pv_power_w = 1.0;  // a different reading at the same instant: the first one wins
  const auto r = parse_ingest(batch_to_json_text(v), kDevice, {}, kNow);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r.value().received, 5u);
  EXPECT_EQ(r.value().duplicates, 2u);
  ASSERT_EQ(r.value().samples.size(), 3u);
  EXPECT_EQ(r.value().samples[0], sample(0));
  EXPECT_EQ(r.value().samples[2], sample(2));
}

TEST(ParseIngest, UnknownFieldsAreIgnored) {
  auto o = to_json(sample(0));
  o["future_field"] = json::object{{"nested", json::array{1, 2, 3}}};
  const auto body = json::serialize(json::object{{"samples", json::array{o}}, {"extra", 1}});
  ASSERT_TRUE(parse_ingest(body, kDevice, {}, kNow).has_value());
}

TEST(ParseIngest, MalformedJsonIs400WithPosition) {
  const auto r = parse_ingest("{\"samples\":\n  [1,,2]}", kDevice, {}, kNow);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().status, 400);
  const auto o = reply(r);
  EXPECT_EQ(o.at("error").as_string(), "malformed_json");
  EXPECT_EQ(o.at("offset").as_int64(), 17);  // the second comma
  EXPECT_EQ(o.at("line").as_int64(), 2);
  EXPECT_EQ(o.at("column").as_int64(), 6);
  EXPECT_EQ(o.at("detail").as_string(), "syntax error at line 2, column 6 (offset 17)");
}

TEST(ParseIngest, WrongTopLevelIs400) {
  for (const std::string_view body : {R"([])", R"({})", R"({"samples":{}})", R"({"samples":null})",
                                      R"("samples")", R"(42)", R"({"Samples":[]})"}) {
    const auto r = parse_ingest(body, kDevice, {}, kNow);
    ASSERT_FALSE(r.has_value()) << body;
    EXPECT_EQ(r.error().status, 400) << body;
    EXPECT_EQ(reply(r).at("error").as_string(), "invalid_body") << body;
  }
}

TEST(ParseIngest, TooManySamplesIs413) {
  const auto r = parse_ingest(body_of(11), kDevice, IngestLimits{.max_samples = 10}, kNow);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().status, 413);
  EXPECT_EQ(reply(r).at("error").as_string(), "too_many_samples");
  EXPECT_TRUE(
      parse_ingest(body_of(10), kDevice, IngestLimits{.max_samples = 10}, kNow).has_value());
}

TEST(ParseIngest, OversizedTextIs413) {
  const auto body = body_of(3);
  const auto r = parse_ingest(body, kDevice, IngestLimits{.max_json_bytes = body.size() - 1}, kNow);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().status, 413);
  EXPECT_EQ(reply(r).at("error").as_string(), "body_too_large");
}

TEST(ParseIngest, DocumentMemoryBudgetIs413) {
  // 400 000 tiny values: small text, a large tree.
  std::string body = R"({"samples":[[)";
  for (int i = 0; i < 400'000; ++i) body += "0,";
  body += "0]]}";
  const auto r = parse_ingest(body, kDevice, IngestLimits{.max_document_bytes = 1 << 20}, kNow);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().status, 413);
  EXPECT_EQ(reply(r).at("error").as_string(), "body_too_complex");
  // Within the default budget the same body is an ordinary 422 (a sample that is not an object).
  const auto ok = parse_ingest(body, kDevice, {}, kNow);
  ASSERT_FALSE(ok.has_value());
  EXPECT_EQ(ok.error().status, 422);
}

TEST(ParseIngest, ForeignDeviceIs403WithIndex) {
  std::vector<Sample> v{sample(0), sample(1), sample(2, "neighbour-1")};
  const auto r = parse_ingest(batch_to_json_text(v), kDevice, {}, kNow);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().status, 403);
  const auto o = reply(r);
  EXPECT_EQ(o.at("error").as_string(), "device_mismatch");
  EXPECT_EQ(o.at("index").as_int64(), 2);
}

TEST(ParseIngest, ForeignDeviceWinsOverOtherProblems) {
  auto bad = to_json(sample(0));
  bad.erase("ts");
  const auto body = json::serialize(
      json::object{{"samples", json::array{bad, to_json(sample(1, "neighbour-1"))}}});
  const auto r = parse_ingest(body, kDevice, {}, kNow);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().status, 403);
}

TEST(ParseIngest, EveryProblemIsListedIn422) {
  auto a = to_json(sample(0));
  a.erase("ts");
  a["pv_power_w"] = "lots";
  auto b = to_json(sample(1));
  b["grid_power_source"] = "guess";
  const auto body =
      json::serialize(json::object{{"samples", json::array{a, to_json(sample(2)), b, 7}}});
  const auto r = parse_ingest(body, kDevice, {}, kNow);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().status, 422);
  const auto o = reply(r);
  EXPECT_EQ(o.at("error").as_string(), "invalid_samples");
  EXPECT_EQ(o.at("problem_count").as_int64(), 4);
  const auto expected = json::parse(R"([
    {"index":0,"field":"ts","reason":"required","code":"required"},
    {"index":0,"field":"pv_power_w","reason":"must be a number or null","code":"invalid"},
    {"index":2,"field":"grid_power_source","reason":"must be one of meter, inverter, estimate",
     "code":"invalid"},
    {"index":3,"field":"","reason":"sample must be a JSON object","code":"invalid"}])");
  EXPECT_EQ(o.at("problems"), expected) << json::serialize(o);
  EXPECT_EQ(o.at("detail").as_string(),
            "4 problem(s) in 3 of 4 samples; first: samples[0].ts: required");
}

// Values no SH-series inverter can report are refused, with the field and the range in the reply.
TEST(ParseIngest, ImpossibleValuesAreRefusedWithTheFieldAndTheRange) {
  for (const double watts : {1e17, 9e15, 1e300, 30'001.0, -0.5}) {
    auto s = sample(0);
    s.pv_power_w = watts;
    const auto r = parse_ingest(batch_to_json_text(std::vector{s}), kDevice, {}, kNow);
    ASSERT_FALSE(r.has_value()) << watts;
    EXPECT_EQ(r.error().status, 422);
    const auto o = reply(r);
    EXPECT_EQ(o.at("error").as_string(), "invalid_samples");
    const auto& p = o.at("problems").at(0);
    EXPECT_EQ(p.at("field").as_string(), "pv_power_w");
    EXPECT_EQ(p.at("code").as_string(), "out_of_range");
    EXPECT_NE(std::string(p.at("reason").as_string()).find("[0, 20000]"), std::string::npos)
        << json::serialize(p);
  }
  // Every field is checked, the edges of a range are inside it.
  for (const auto& f : kMeasurementFields) {
    const auto* range = field_range(f.member);
    ASSERT_NE(range, nullptr) << f.name;
    auto s = sample(0);
    s.*f.member = range->max;
    EXPECT_TRUE(parse_ingest(batch_to_json_text(std::vector{s}), kDevice, {}, kNow).has_value())
        << f.name;
    s.*f.member = range->max + 1;
    const auto r = parse_ingest(batch_to_json_text(std::vector{s}), kDevice, {}, kNow);
    ASSERT_FALSE(r.has_value()) << f.name;
    EXPECT_EQ(reply(r).at("problems").at(0).at("field").as_string(), f.name);
  }
}

// A ts before 2000 or beyond the server's clock plus the allowed skew would become a device's
// "newest" sample for ever.
TEST(ParseIngest, TimestampsOutsideTheWindowAreRefusedAsTsOutOfRange) {
  const IngestLimits limits{.max_clock_skew = 10min};
  const auto refused = [&](std::string_view ts) {
    auto o = to_json(sample(0));
    o["ts"] = ts;
    const auto r = parse_ingest(json::serialize(json::object{{"samples", json::array{o}}}), kDevice,
                                limits, kNow);
    if (r.has_value()) return std::string("accepted");
    const auto body = reply(r);
    return std::string(body.at("error").as_string()) + "/" +
           std::string(body.at("problems").at(0).at("code").as_string());
  };
  // Year 10000 and year -1 in UTC: not RFC 3339 timestamps at all.
  EXPECT_EQ(refused("9999-12-31T23:59:59.999-23:59"), "invalid_samples/invalid");
  EXPECT_EQ(refused("0000-01-01T00:00:00+00:01"), "invalid_samples/invalid");
  EXPECT_EQ(refused("1970-01-01T00:00:00Z"), "ts_out_of_range/ts_out_of_range");
  EXPECT_EQ(refused("1999-12-31T23:59:59.999Z"), "ts_out_of_range/ts_out_of_range");
  EXPECT_EQ(refused("2000-01-01T00:00:00Z"), "accepted");
  EXPECT_EQ(refused(format_rfc3339(kNow + 10min)), "accepted");
  EXPECT_EQ(refused(format_rfc3339(kNow + 10min + 1ms)), "ts_out_of_range/ts_out_of_range");
  EXPECT_EQ(refused("9000-01-01T00:00:00Z"), "ts_out_of_range/ts_out_of_range");

  // Mixed with another kind of problem, the batch is invalid_samples; each problem keeps its code.
  auto future = to_json(sample(0));
  future["ts"] = format_rfc3339(kNow + 1h);
  auto bad_value = to_json(sample(1));
  bad_value["battery_soc_pct"] = 101;
  const auto r =
      parse_ingest(json::serialize(json::object{{"samples", json::array{future, bad_value}}}),
                   kDevice, limits, kNow);
  const auto o = reply(r);
  EXPECT_EQ(o.at("error").as_string(), "invalid_samples");
  EXPECT_EQ(o.at("problems").at(0).at("code").as_string(), "ts_out_of_range");
  EXPECT_EQ(o.at("problems").at(1).at("code").as_string(), "out_of_range");
}

TEST(ParseIngest, ProblemListIsCappedButCounted) {
  json::array samples;
  for (int i = 0; i < 250; ++i) samples.push_back(json::object{});  // 3 problems each
  const auto r =
      parse_ingest(json::serialize(json::object{{"samples", samples}}), kDevice, {}, kNow);
  ASSERT_FALSE(r.has_value());
  const auto o = reply(r);
  EXPECT_EQ(o.at("problems").as_array().size(), 100u);
  EXPECT_EQ(o.at("problem_count").as_int64(), 750);
}

TEST(ParseIngest, SqlMetacharactersInDeviceIdAre422NotPassedOn) {
  for (const std::string_view id : {"x'; DROP TABLE samples; --", "a\"b", "dev id", "", "é"}) {
    auto s = to_json(sample(0));
    s["device_id"] = id;
    const auto r =
        parse_ingest(json::serialize(json::object{{"samples", json::array{s}}}), kDevice, {}, kNow);
    ASSERT_FALSE(r.has_value()) << id;
    EXPECT_EQ(r.error().status, 422) << id;
    const auto o = reply(r);
    EXPECT_EQ(o.at("problems").at(0).at("field").as_string(), "device_id");
    // The reply never echoes an id outside the pattern.
    EXPECT_EQ(r.error().body.find("DROP"), std::string::npos);
  }
}

// Hostile and broken bodies: each gets a clear 4xx, never a crash or a hang.
struct Case {
  std::string name;
  std::string body;
  int status;
};

std::vector<Case> corpus() {
  const auto valid = to_json_text(sample(0));
  std::vector<Case> c{
      {"empty", "", 400},
      {"whitespace", " \n\t ", 400},
      {"truncated", body_of(3).substr(0, 200), 400},
      {"truncated_after_brace", "{", 400},
      {"trailing_garbage", body_of(1) + "xyz", 400},
      {"two_documents", body_of(1) + body_of(1), 400},
      {"bom", "\xEF\xBB\xBF" + body_of(1), 400},
      {"nan", R"({"samples":[{"pv_power_w":NaN}]})", 400},
      {"infinity", R"({"samples":[{"pv_power_w":Infinity}]})", 400},
      {"negative_infinity", R"({"samples":[{"pv_power_w":-Infinity}]})", 400},
      {"single_quotes", R"({'samples':[]})", 400},
      {"comment", R"({"samples":[] /* hi */})", 400},
      {"trailing_comma", R"({"samples":[],})", 400},
      {"invalid_utf8", "{\"samples\":[{\"device_id\":\"\xC3\x28\"}]}", 400},
      {"overlong_utf8", "{\"samples\":[{\"device_id\":\"\xC0\xAF\"}]}", 400},
      {"lone_surrogate_escape", R"({"samples":[{"device_id":"\ud800"}]})", 400},
      {"control_char_in_string", "{\"samples\":[{\"device_id\":\"a\x01\"}]}", 400},
      {"nul_byte", std::string("{\"samples\":[]}\0", 15), 400},
      {"deep_array", R"({"samples":[)" + std::string(10000, '[') + std::string(10000, ']') + "]}",
       400},
      {"deep_object",
       [] {
         std::string s = R"({"samples":[)";
         for (int i = 0; i < 10000; ++i) s += "{\"a\":";
         s += "1";
         for (int i = 0; i < 10000; ++i) s += "}";
         return s + "]}";
       }(),
       400},
      {"huge_number",
       R"({"samples":[{"device_id":"sh4-roof.1","ts":"2026-11-20T00:00:00.000Z","seq":1,)"
       R"("pv_power_w":1e999999}]})",
       422},  // overflows to infinity: "must be finite"
      {"huge_integer", std::string(R"({"samples":[{"seq":)") + std::string(5000, '9') + "}]}", 422},
      {"negative_seq",
       R"({"samples":[{"device_id":"sh4-roof.1","ts":"2026-11-20T00:00:00.000Z",)"
       R"("seq":-1}]})",
       422},
      {"fractional_seq",
       R"({"samples":[{"device_id":"sh4-roof.1","ts":"2026-11-20T00:00:00.000Z",)"
       R"("seq":1.5}]})",
       422},
      {"wrong_types",
       R"({"samples":[{"device_id":5,"ts":true,"seq":"1","pv_power_w":[],"power_flow":3}]})", 422},
      {"bad_ts", R"({"samples":[{"device_id":"sh4-roof.1","ts":"yesterday","seq":1}]})", 422},
      {"samples_of_scalars", R"({"samples":[1,"a",null,true]})", 422},
      {"megabyte_string",
       R"({"samples":[{"device_id":")" + std::string(1 << 20, 'a') + R"(","ts":"x","seq":1}]})",
       422},
      {"megabyte_key", R"({"samples":[{")" + std::string(1 << 20, 'k') + R"(":1}]})", 422},
      {"duplicate_keys_last_wins",
       R"({"samples":[)" + valid.substr(0, valid.size() - 1) + R"(,"seq":-5}]})", 422},
      {"duplicate_samples_key", R"({"samples":[1],"samples":[]})", 200},
  };
  return c;
}

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

class Corpus : public ::testing::TestWithParam<Case> {};

TEST_P(Corpus, GetsAClearAnswer) {
  const auto& c = GetParam();
  const auto r = parse_ingest(c.body, kDevice, {}, kNow);
  if (c.status == 200) {
    EXPECT_TRUE(r.has_value()) << r.error().body;
    return;
  }
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().status, c.status) << r.error().body.substr(0, 300);
  const auto o = reply(r);
  EXPECT_LT(r.error().body.size(), 64u * 1024);  // never an echo of a megabyte
}

INSTANTIATE_TEST_SUITE_P(Malformed, Corpus, ::testing::ValuesIn(corpus()),
                         [](const ::testing::TestParamInfo<Case>& p) { return p.param.name; });

}  // namespace
}  // namespace sungrow::ingest
