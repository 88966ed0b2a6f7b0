// The OpenAPI checker against documents made to fail (each keyword has a negative control), and
// docs/openapi.json against the code: sound, built into the server byte for byte, and describing
// exactly the members and ranges the sample codec and the series (JSON and CSV) have.
#include "sungrow/server/api/openapi.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <set>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "openapi_check.hpp"
#include "sample_factory.hpp"
#include "sungrow/core/field_ranges.hpp"
#include "sungrow/core/sample_json.hpp"
#include "sungrow/server/api/series_json.hpp"
#include "sungrow/server/rollup/base_bucket.hpp"
#include "sungrow/server/rollup/energy.hpp"

namespace sungrow::test {
namespace {

namespace json = boost::json;

// A small document whose schemas exercise every supported keyword.
const char* const kToyDocument = R"({
  "openapi": "3.1.0",
  "info": {"title": "toy", "version": "1"},
  "paths": {
    "/thing": {"get": {"responses": {
      "200": {"description": "a thing",
              "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Thing"}}}},
      "429": {"description": "slow down",
              "headers": {"Retry-After": {"required": true,
                                          "schema": {"type": "integer", "minimum": 1}}},
              "content": {"application/json": {"schema": {"type": "object"}}}},
      "204": {"description": "nothing"}}}}
  },
  "components": {"schemas": {
    "Thing": {
      "type": "object", "additionalProperties": false, "required": ["id", "at"],
      "properties": {
        "id": {"type": "string", "pattern": "^[a-z]{1,4}$"},
        "at": {"type": "string", "format": "date-time"},
        "watts": {"type": ["number", "null"], "minimum": -10, "maximum": 10},
        "count": {"type": "integer"},
        "kind": {"type": ["string", "null"], "enum": ["a", "b", null]},
        "tags": {"type": "array", "maxItems": 2, "items": {"type": "string"}},
        "either": {"anyOf": [{"type": "boolean"}, {"$ref": "#/components/schemas/Small"}]}
      }
    },
    "Small": {"type": "object", "required": ["n"], "properties": {"n": {"type": "integer"}}}
  }}
})";

class OpenApiCheckTest : public ::testing::Test {
 protected:
  std::vector<std::string> check(const char* instance) const {
    return doc_.validate(doc_.schema("Thing"), json::parse(instance));
  }
  OpenApiDocument doc_{kToyDocument};
};

TEST_F(OpenApiCheckTest, AConformingInstancePasses) {
  EXPECT_TRUE(doc_.problems().empty()) << joined(doc_.problems());
  EXPECT_TRUE(check(R"({"id":"ab","at":"2026-11-20T12:00:00.000Z"})").empty());
  const auto full = check(
      R"({"id":"abcd","at":"2026-11-20T13:00:00+01:00","watts":null,"count":3.0,"kind":null,
          "tags":["x","y"],"either":{"n":1,"extra":true}})");
  EXPECT_TRUE(full.empty()) << joined(full);
  EXPECT_TRUE(check(R"({"id":"a","at":"2026-11-20T12:00:00Z","watts":-10,"kind":"b",
                        "either":false})")
                  .empty());
}

TEST_F(OpenApiCheckTest, EachKeywordRefusesWhatItForbids) {
  const std::vector<std::pair<const char*, const char*>> cases{
      {R"({"at":"2026-11-20T12:00:00Z"})", "missing required member id"},
      {R"({"id":"ab","at":"2026-11-20T12:00:00Z","color":"red"})", "/color: undocumented member"},
      {R"({"id":7,"at":"2026-11-20T12:00:00Z"})", "/id: expected \"string\", got integer"},
      {R"({"id":"ABC","at":"2026-11-20T12:00:00Z"})", "does not match"},
      {R"({"id":"abcde","at":"2026-11-20T12:00:00Z"})", "does not match"},
      {R"({"id":"ab","at":"yesterday"})", "is not an RFC 3339 date-time"},
      {R"({"id":"ab","at":"2026-13-01T00:00:00Z"})", "is not an RFC 3339 date-time"},
      {R"({"id":"ab","at":"2026-11-20T12:00:00Z","watts":10.5})", "above the maximum 10"},
      {R"({"id":"ab","at":"2026-11-20T12:00:00Z","watts":-11})", "below the minimum -10"},
      {R"({"id":"ab","at":"2026-11-20T12:00:00Z","watts":"5"})", "/watts: expected"},
      {R"({"id":"ab","at":"2026-11-20T12:00:00Z","count":1.5})", "/count: expected \"integer\""},
      {R"({"id":"ab","at":"2026-11-20T12:00:00Z","count":null})", "/count: expected"},
      {R"({"id":"ab","at":"2026-11-20T12:00:00Z","kind":"c"})", "is not one of"},
      {R"({"id":"ab","at":"2026-11-20T12:00:00Z","tags":["x",1]})", "/tags/1: expected"},
      {R"({"id":"ab","at":"2026-11-20T12:00:00Z","tags":["x","y","z"]})", "3 items, more than 2"},
      {R"({"id":"ab","at":"2026-11-20T12:00:00Z","either":{"m":1}})", "matches none of anyOf"},
      {R"({"id":"ab","at":"2026-11-20T12:00:00Z","either":"yes"})", "matches none of anyOf"},
      {R"([])", "/: expected \"object\", got array"},
  };
  for (const auto& [instance, expected] : cases) {
    const auto found = check(instance);
    EXPECT_NE(joined(found).find(expected), std::string::npos)
        << instance << " should fail with \"" << expected << "\", got:\n"
        << joined(found);
  }
}

TEST_F(OpenApiCheckTest, ARefThatDoesNotResolveOrAnUnknownKeywordIsNeverSilentlyPassed) {
  const auto dangling =
      doc_.validate(json::parse(R"({"$ref":"#/components/schemas/Nope"})"), json::parse("1"));
  EXPECT_NE(joined(dangling).find("unresolved $ref"), std::string::npos) << joined(dangling);
  const auto unknown =
      doc_.validate(json::parse(R"({"oneOf":[{"type":"string"}]})"), json::parse("1"));
  EXPECT_NE(joined(unknown).find("unsupported schema keyword oneOf"), std::string::npos);
  const auto format =
      doc_.validate(json::parse(R"({"type":"string","format":"email"})"), json::parse(R"("a")"));
  EXPECT_NE(joined(format).find("unsupported format"), std::string::npos);
  EXPECT_FALSE(doc_.validate(json::parse("false"), json::parse("1")).empty());
}

TEST_F(OpenApiCheckTest, ProblemsOfTheDocumentItselfAreReported) {
  const OpenApiDocument broken(R"({
    "openapi": "3.0.3",
    "paths": {
      "/a": {"get": {"responses": {}}},
      "/b": {"summary": "no operations"},
      "/c": {"get": {"security": [{"nobody": []}], "responses": {
        "default": {"description": "any"},
        "200": {"content": {"application/json": {"schema": {"type": "string"}}}},
        "201": {"description": "x", "content": {"application/json": {
          "schema": {"type": "object", "required": ["n"], "properties": {"m": {"type": "text"}},
                     "oneOf": []},
          "example": {"m": 1}}}},
        "202": {"$ref": "#/components/responses/Missing"}}}}
    },
    "components": {"schemas": {"Bad": {"type": "string", "format": "uuid", "pattern": "("}}}
  })");
  const auto problems = joined(broken.problems());
  for (const char* expected : {
           "/openapi: not an OpenAPI 3.1 document",
           "/paths/~1a/get: no responses",
           "/paths/~1b: no operations",
           "no security scheme nobody",
           "/responses/default: not an explicit status code",
           "/responses/200: a response needs a description",
           "required member \"n\" is not among the properties",
           "type \"text\" is not a type name",
           "schema keyword oneOf is not supported",
           "/example",
           "unresolved $ref \"#/components/responses/Missing\"",
           "format \"uuid\" is not supported",
           "pattern \"(\" does not compile",
       }) {
    EXPECT_NE(problems.find(expected), std::string::npos) << expected << " in:\n" << problems;
  }
}

TEST_F(OpenApiCheckTest, RepliesAreCheckedForStatusMediaTypeHeadersAndBody) {
  const auto reply = [](int status, std::string content_type, std::string body,
                        std::vector<std::pair<std::string, std::string>> headers = {}) {
    return ObservedReply{.status = status,
                         .content_type = std::move(content_type),
                         .headers = std::move(headers),
                         .body = std::move(body)};
  };
  const std::string good = R"({"id":"ab","at":"2026-11-20T12:00:00Z"})";
  EXPECT_TRUE(doc_.check_reply("/thing", "GET", reply(200, "application/json", good)).empty());
  EXPECT_TRUE(doc_.check_reply("/thing", "GET", reply(200, "application/json; charset=utf-8", good))
                  .empty());
  EXPECT_TRUE(doc_.check_reply("/thing", "GET",
                               reply(429, "application/json", "{}", {{"retry-after", "3"}}))
                  .empty());
  EXPECT_TRUE(doc_.check_reply("/thing", "GET", reply(204, "", "")).empty());

  const std::vector<std::pair<std::vector<std::string>, const char*>> cases{
      {doc_.check_reply("/thing", "GET", reply(404, "application/json", "{}")),
       "not documented for this operation"},
      {doc_.check_reply("/thing", "POST", reply(200, "application/json", good)),
       "no such operation"},
      {doc_.check_reply("/other", "GET", reply(200, "application/json", good)),
       "no such operation"},
      {doc_.check_reply("/thing", "GET", reply(200, "text/plain", good)), "media type"},
      {doc_.check_reply("/thing", "GET", reply(200, "application/json", "{\"id\":")), "not JSON"},
      {doc_.check_reply("/thing", "GET", reply(200, "application/json", R"({"id":"ab"})")),
       "missing required member at"},
      {doc_.check_reply("/thing", "GET", reply(429, "application/json", "{}")),
       "required header Retry-After is missing"},
      {doc_.check_reply("/thing", "GET",
                        reply(429, "application/json", "{}", {{"retry-after", "0"}})),
       "below the minimum 1"},
      {doc_.check_reply("/thing", "GET", reply(204, "text/plain", "surprise")), "a body where"},
  };
  for (const auto& [found, expected] : cases) {
    EXPECT_NE(joined(found).find(expected), std::string::npos)
        << "expected \"" << expected << "\" in:\n"
        << joined(found);
  }
}

// ---- docs/openapi.json against the code --------------------------------------------------------

class OpenApiDocumentTest : public ::testing::Test {
 protected:
  const std::string text_ = read_text_file(SUNGROW_OPENAPI_JSON);
  const OpenApiDocument doc_{text_};

  std::set<std::string> property_names(std::string_view schema) const {
    std::set<std::string> names;
    for (const auto& kv : doc_.schema(schema).at("properties").as_object()) {
      names.emplace(kv.key());
    }
    return names;
  }
};

TEST_F(OpenApiDocumentTest, IsSoundAndBuiltIntoTheServerByteForByte) {
  EXPECT_TRUE(doc_.problems().empty()) << joined(doc_.problems());
  ASSERT_FALSE(text_.empty());
  EXPECT_EQ(api::openapi_document(), text_);
  const auto reply = api::openapi(http::Request{});
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.content_type, "application/json");
  EXPECT_EQ(reply.body, text_);
}

TEST_F(OpenApiDocumentTest, SampleSchemasListExactlyTheMembersTheCodecWrites) {
  const auto written = to_json(realistic_sample("roof-1", 100, sample_epoch()));
  std::set<std::string> members;
  for (const auto& kv : written) members.emplace(kv.key());
  EXPECT_EQ(property_names("Sample"), members);

  auto realtime = members;
  realtime.insert({"age_s", "source"});
  EXPECT_EQ(property_names("RealtimeSample"), realtime);
  std::set<std::string> required;
  for (const auto& name : doc_.schema("RealtimeSample").at("required").as_array()) {
    required.emplace(name.as_string());
  }
  EXPECT_EQ(required, realtime) << "a realtime reply carries every member, null when unknown";

  std::set<std::string> bits;
  for (const auto& bit : kPowerFlowBits) bits.emplace(bit.key);
  EXPECT_EQ(property_names("PowerFlow"), bits);
}

TEST_F(OpenApiDocumentTest, SampleRangesAreTheOnesIngestEnforces) {
  const auto& properties = doc_.schema("Sample").at("properties").as_object();
  for (const auto& field : kMeasurementFields) {
    const auto* range = field_range(field.member);
    ASSERT_NE(range, nullptr) << field.name;
    const auto& p = properties.at(field.name).as_object();
    EXPECT_EQ(p.at("minimum").to_number<double>(), range->min) << field.name;
    EXPECT_EQ(p.at("maximum").to_number<double>(), range->max) << field.name;

    // At the bound both the schema and ingest accept; just beyond it both refuse.
    Sample s = realistic_sample("roof-1", 100, sample_epoch());
    s.*field.member = range->max;
    EXPECT_TRUE(range_problems(s).empty()) << field.name;
    EXPECT_TRUE(doc_.validate(doc_.schema("Sample"), to_json(s)).empty()) << field.name;
    s.*field.member = range->max + 0.5;
    EXPECT_FALSE(range_problems(s).empty()) << field.name;
    EXPECT_FALSE(doc_.validate(doc_.schema("Sample"), to_json(s)).empty()) << field.name;
  }
}

// ts_source's names and ts_adjust_ms's bound are the codec's: at the bound both the schema and the
// codec accept, beyond it both refuse, and so do they for an unknown source.
TEST_F(OpenApiDocumentTest, TimeSourceMembersAreTheOnesIngestEnforces) {
  for (const char* schema : {"Sample", "RealtimeSample"}) {
    const auto& properties = doc_.schema(schema).at("properties").as_object();
    std::set<std::string> documented;
    for (const auto& name : properties.at("ts_source").at("enum").as_array()) {
      if (!name.is_null()) documented.emplace(name.as_string());
    }
    std::set<std::string> coded;
    for (const auto source :
         {TsSource::ntp, TsSource::inverter, TsSource::unsynced, TsSource::bumped}) {
      coded.emplace(to_string(source));
      EXPECT_EQ(ts_source_from_string(to_string(source)), source);
    }
    EXPECT_EQ(documented, coded) << schema;
    const auto& adjust = properties.at("ts_adjust_ms").as_object();
    EXPECT_EQ(adjust.at("minimum").to_number<std::int64_t>(), -kMaxTsAdjustMs) << schema;
    EXPECT_EQ(adjust.at("maximum").to_number<std::int64_t>(), kMaxTsAdjustMs) << schema;
  }

  const auto& sample_schema = doc_.schema("Sample");
  for (const auto source : {TsSource::inverter, TsSource::bumped}) {
    for (const std::int64_t adjust : {kMaxTsAdjustMs, -kMaxTsAdjustMs, std::int64_t{0}}) {
      Sample s = realistic_sample("roof-1", 100, sample_epoch());
      s.ts_source = source;
      s.ts_adjust_ms = adjust;
      const auto written = to_json(s);
      EXPECT_TRUE(sample_from_json(written).problems.empty()) << adjust;
      EXPECT_TRUE(doc_.validate(sample_schema, written).empty()) << adjust;
    }
    for (const std::int64_t adjust : {kMaxTsAdjustMs + 1, -kMaxTsAdjustMs - 1}) {
      auto beyond = to_json(realistic_sample("roof-1", 100, sample_epoch()));
      beyond["ts_source"] = to_string(source);
      beyond["ts_adjust_ms"] = adjust;
      EXPECT_FALSE(sample_from_json(beyond).problems.empty()) << adjust;
      EXPECT_FALSE(doc_.validate(sample_schema, beyond).empty()) << adjust;
    }
  }
  auto unknown = to_json(realistic_sample("roof-1", 100, sample_epoch()));
  unknown["ts_source"] = "gps";
  EXPECT_FALSE(sample_from_json(unknown).problems.empty());
  EXPECT_FALSE(doc_.validate(sample_schema, unknown).empty());
}

TEST_F(OpenApiDocumentTest, WhatTheEdgeSendsConformsAndARenamedMemberDoesNot) {
  Sample s = realistic_sample("roof-1", 8'000, sample_epoch());
  s.seq = 8'001;
  auto body = json::parse(batch_to_json_text(std::vector<Sample>{s}));
  EXPECT_TRUE(doc_.validate(doc_.schema("IngestRequest"), body).empty());

  Sample empty;  // nothing read: every measurement null
  empty.device_id = "roof-1";
  empty.ts = sample_epoch();
  EXPECT_TRUE(doc_.validate(doc_.schema("Sample"), to_json(empty)).empty());

  auto renamed = to_json(s);
  const json::value pv = renamed.at("pv_power_w");
  renamed.erase("pv_power_w");
  renamed["pv_power_kw"] = pv;
  const auto found = joined(doc_.validate(doc_.schema("Sample"), renamed));
  EXPECT_NE(found.find("/pv_power_kw: undocumented member"), std::string::npos) << found;
}

TEST_F(OpenApiDocumentTest, SeriesBucketsNameEveryCounterAndPowerField) {
  const auto names = property_names("Bucket");
  for (const auto& counter : rollup::kCounters) {
    EXPECT_TRUE(names.contains(std::string(counter.energy_name))) << counter.energy_name;
  }
  for (const auto& power : rollup::kPowerFields) {
    EXPECT_TRUE(names.contains(std::string(power.name))) << power.name;
  }
}

// Every member series_json writes for a bucket is a documented, required Bucket member and vice
// versa; the CSV's header row is the one the document gives.
TEST_F(OpenApiDocumentTest, SeriesBucketsListExactlyTheMembersTheSeriesWrites) {
  rollup::SeriesBucket bucket;
  bucket.range = {.start = sample_epoch(),
                  .end = sample_epoch() + std::chrono::hours(1),
                  .local_start = "2026-11-20T01:00:00+01:00",
                  .local_end = "2026-11-20T02:00:00+01:00"};
  const std::vector<rollup::SeriesBucket> buckets{bucket};
  const api::SeriesHeader header{.device_id = "roof-1",
                                 .frame = rollup::Frame::hour,
                                 .tz = "Europe/Amsterdam",
                                 .from_local = "2026-11-20T01:00:00+01:00",
                                 .to_local = "2026-11-20T02:00:00+01:00"};
  const auto written = json::parse(api::series_json(header, buckets));
  EXPECT_TRUE(doc_.validate(doc_.schema("SeriesResponse"), written).empty());
  std::set<std::string> members;
  for (const auto& kv : written.at("buckets").at(0).as_object()) members.emplace(kv.key());
  EXPECT_EQ(property_names("Bucket"), members);
  std::set<std::string> required;
  for (const auto& name : doc_.schema("Bucket").at("required").as_array()) {
    required.emplace(name.as_string());
  }
  EXPECT_EQ(required, members) << "a bucket carries every member, null when unknown";

  const auto& csv = doc_.json()
                        .at("paths")
                        .at("/v1/series")
                        .at("get")
                        .at("responses")
                        .at("200")
                        .at("content")
                        .at("text/csv")
                        .at("schema");
  for (const auto& body : {api::series_csv({}), api::series_csv(buckets)}) {
    const auto problems = doc_.validate(csv, json::string(body));
    EXPECT_TRUE(problems.empty()) << joined(problems) << body;
  }
  // The header row names the JSON members, nested ones flattened: no column of its own.
  const std::string csv_header = api::series_csv({});
  for (const auto& member : members) {
    const bool nested = written.at("buckets").at(0).at(member).is_object();
    EXPECT_NE(csv_header.find(member + (nested ? "_" : "")), std::string::npos) << member;
  }
  auto renamed = csv_header;
  renamed.replace(renamed.find("consumption_kwh"), 15, "consumption_kw_");
  EXPECT_FALSE(doc_.validate(csv, json::string(renamed)).empty());
}

}  // namespace
}  // namespace sungrow::test
