// JsonWriter: commas, nesting, escaping and number forms, checked by parsing the output back.
#include "sungrow/core/json_writer.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <limits>

namespace sungrow {
namespace {

TEST(JsonWriter, NestsObjectsAndArraysWithCommas) {
  JsonWriter w;
  w.begin_object().field("a", std::int64_t{1}).key("list").begin_array();
  w.value(std::int64_t{1}).begin_object().field("x", true).end_object().null();
  w.end_array().field("s", "t").end_object();
  EXPECT_EQ(w.text(), R"({"a":1,"list":[1,{"x":true},null],"s":"t"})");
  EXPECT_NO_THROW(boost::json::parse(w.text()));
}

TEST(JsonWriter, NumbersAreShortestRoundTripAndNonFiniteIsNull) {
  JsonWriter w;
  w.begin_array()
      .value(231.5)
      .value(0.1)
      .value(-0.0)
      .value(std::numeric_limits<double>::quiet_NaN())
      .value(std::numeric_limits<double>::infinity())
      .value(std::optional<double>{})
      .value(std::int64_t{-9'007'199'254'740'993})
      .end_array();
  EXPECT_EQ(w.text(), "[231.5,0.1,-0,null,null,null,-9007199254740993]");
}

TEST(JsonWriter, EscapesControlCharactersQuotesAndBackslashes) {
  JsonWriter w;
  w.begin_object().field("k\"ey", std::string_view("a\\b\n\x01\"c")).end_object();
  EXPECT_EQ(w.text(), R"({"k\"ey":"a\\b\n\u0001\"c"})");
  const auto v = boost::json::parse(w.text());
  EXPECT_EQ(v.at("k\"ey").as_string(), "a\\b\n\x01\"c");
}

TEST(JsonWriter, EmptyContainers) {
  JsonWriter w;
  w.begin_object().key("a").begin_array().end_array().key("o").begin_object().end_object();
  w.end_object();
  EXPECT_EQ(w.text(), R"({"a":[],"o":{}})");
}

}  // namespace
}  // namespace sungrow
