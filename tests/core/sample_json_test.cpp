// The sample codec: round trip, nulls, and field-precise rejection of bad input.
#include "sungrow/core/sample_json.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>

namespace sungrow {
namespace {

Sample full_sample() {
  Sample s;
  s.device_id = "sh4.0rs-home";
  s.ts = *parse_rfc3339("2026-11-26T12:00:05.123Z");
  s.seq = 42;
  for (std::size_t i = 0; i < kMeasurementFields.size(); ++i)
    s.*kMeasurementFields[i].member = static_cast<double>(i) * 1.5 - 3;
  s.grid_power_source = GridPowerSource::meter;
  s.running_state = 0x0040;
  s.power_flow = PowerFlow::from_bits(0x2B);
  s.power_flow_raw = 0x2B;
  s.ts_source = TsSource::inverter;
  s.ts_adjust_ms = 3'600'500;
  return s;
}

TEST(SampleJson, RoundTripsEveryField) {
  const auto s = full_sample();
  const auto decoded = sample_from_json(boost::json::parse(to_json_text(s)));
  ASSERT_TRUE(decoded.problems.empty());
  EXPECT_EQ(*decoded.sample, s);
}

// The text the edge uploads, byte for byte: a refactoring of the codec must not change it.
TEST(SampleJson, WireTextIsByteStable) {
  EXPECT_EQ(
      to_json_text(full_sample()),
      R"({"device_id":"sh4.0rs-home","ts":"2026-11-26T12:00:05.123Z","seq":42,"pv_power_w":-3,)"
      R"("mppt1_voltage_v":-1.5,"mppt1_current_a":0,"mppt2_voltage_v":1.5,"mppt2_current_a":3,)"
      R"("load_power_w":4.5,"grid_power_w":6,"battery_power_w":7.5,"grid_voltage_v":9,)"
      R"("grid_frequency_hz":10.5,"inverter_temperature_c":12,"battery_soc_pct":13.5,)"
      R"("battery_soh_pct":15,"battery_voltage_v":16.5,"battery_current_a":18,)"
      R"("battery_temperature_c":19.5,"battery_capacity_kwh":21,"pv_energy_today_kwh":22.5,)"
      R"("pv_energy_total_kwh":24,"grid_import_today_kwh":25.5,"grid_import_total_kwh":27,)"
      R"("grid_export_today_kwh":28.5,"grid_export_total_kwh":30,)"
      R"("battery_charge_today_kwh":31.5,"battery_charge_total_kwh":33,)"
      R"("battery_discharge_today_kwh":34.5,"battery_discharge_total_kwh":36,)"
      R"("load_energy_today_kwh":37.5,)"
      R"("grid_power_source":"meter","running_state":64,"running_state_text":"Running",)"
      R"("power_flow":{"pv":true,"charging":true,"discharging":false,"load":true,)"
      R"("exporting":false,"importing":true,"negative_load":false},"power_flow_raw":43,)"
      R"("ts_source":"inverter","ts_adjust_ms":3600500})");
}

// How ts was obtained travels with every sample: the four sources round-trip, the adjustment only
// with a corrected or bumped ts, and a sample from an edge that does not say is still accepted.
TEST(SampleJson, TsSourceAndAdjustmentRoundTripAndAreChecked) {
  for (const auto source :
       {TsSource::ntp, TsSource::inverter, TsSource::unsynced, TsSource::bumped}) {
    Sample s = full_sample();
    s.ts_source = source;
    const bool adjusted = source == TsSource::inverter || source == TsSource::bumped;
    s.ts_adjust_ms = adjusted ? std::optional<std::int64_t>{-12} : std::nullopt;
    const auto back = sample_from_json(boost::json::parse(to_json_text(s)));
    ASSERT_TRUE(back.sample) << to_string(source);
    EXPECT_EQ(*back.sample, s);
    EXPECT_EQ(ts_source_from_string(to_string(source)), source);
  }
  const auto problem_of = [](boost::json::object o) {
    const auto decoded = sample_from_json(o);
    EXPECT_FALSE(decoded.sample);
    return decoded.problems.empty() ? FieldProblem{} : decoded.problems.front();
  };
  auto o = to_json(full_sample());
  o["ts_source"] = "gps";
  EXPECT_EQ(problem_of(o).field, "ts_source");
  o["ts_source"] = 1;
  EXPECT_EQ(problem_of(o).field, "ts_source");
  o["ts_source"] = "inverter";
  o["ts_adjust_ms"] = 1.5;
  EXPECT_EQ(problem_of(o).field, "ts_adjust_ms");
  o["ts_adjust_ms"] = "100";
  EXPECT_EQ(problem_of(o).field, "ts_adjust_ms");
  o["ts_adjust_ms"] = kMaxTsAdjustMs + 1;
  EXPECT_EQ(problem_of(o).field, "ts_adjust_ms");
  o["ts_adjust_ms"] = -kMaxTsAdjustMs;
  EXPECT_TRUE(sample_from_json(o).sample);
  // A synchronized or unchecked clock's reading is ts itself: an adjustment there is a
  // contradiction.
  o["ts_source"] = "ntp";
  const auto contradiction = problem_of(o);
  EXPECT_EQ(contradiction.field, "ts_adjust_ms");
  EXPECT_NE(contradiction.reason.find("inverter or bumped"), std::string::npos);
  o.erase("ts_source");
  EXPECT_EQ(problem_of(o).field, "ts_adjust_ms");
  // An edge from before these fields sends neither: still accepted, and they read back as unset.
  o.erase("ts_adjust_ms");
  const auto old = sample_from_json(o);
  ASSERT_TRUE(old.sample);
  EXPECT_FALSE(old.sample->ts_source);
  EXPECT_FALSE(old.sample->ts_adjust_ms);
  o["ts_source"] = nullptr;
  o["ts_adjust_ms"] = nullptr;
  EXPECT_TRUE(sample_from_json(o).sample);
}

// Register 13001 keeps every bit: bit 7 (negative load power) is decoded, and the raw word travels
// with the flags (real captures: 0x91 PV + export + bit 7, 0xA3 PV + charging + import + bit 7).
TEST(SampleJson, PowerFlowKeepsBit7AndTheRawWord) {
  for (const int bits : {0x80, 0x91, 0xA3, 0xC0}) {
    const auto word = static_cast<std::uint16_t>(bits);
    Sample s = full_sample();
    s.power_flow = PowerFlow::from_bits(word);
    s.power_flow_raw = word;
    const auto back = sample_from_json(boost::json::parse(to_json_text(s)));
    ASSERT_TRUE(back.sample) << word;
    EXPECT_EQ(*back.sample, s);
    EXPECT_TRUE(back.sample->power_flow->negative_load) << word;
    EXPECT_EQ(back.sample->power_flow_raw, word);  // 0x40 (reserved) survives in the raw word
  }
  // Flags and word come from one register: a sample carrying both must carry them in step.
  auto o = to_json(full_sample());
  o["power_flow_raw"] = 0x2B | 0x80;
  const auto mismatch = sample_from_json(o);
  ASSERT_FALSE(mismatch.sample);
  EXPECT_EQ(mismatch.problems.front().field, "power_flow");
  o["power_flow_raw"] = 70000;
  EXPECT_EQ(sample_from_json(o).problems.front().field, "power_flow_raw");
  // An edge from before the raw word sends only the flags: still accepted.
  o.erase("power_flow_raw");
  EXPECT_TRUE(sample_from_json(o).sample);
}

TEST(SampleJson, PowerFlowBitsDecodeByTheirMasks) {
  for (const auto& bit : kPowerFlowBits) {
    const auto flow = PowerFlow::from_bits(bit.mask);
    for (const auto& other : kPowerFlowBits)
      EXPECT_EQ(flow.*other.member, other.mask == bit.mask) << bit.key << " / " << other.key;
  }
  EXPECT_EQ(PowerFlow::from_bits(0x00), PowerFlow{});
}

TEST(SampleJson, RunningStateTextsAreTheDistinctListedTexts) {
  const auto texts = running_state_texts();
  EXPECT_EQ(std::count(texts.begin(), texts.end(), "Running"), 1);
  EXPECT_NE(std::find(texts.begin(), texts.end(), running_state_text(0x5500)), texts.end());
  EXPECT_EQ(std::find(texts.begin(), texts.end(), running_state_text(0x1234)), texts.end());
}

TEST(SampleJson, NullMeasurementsStayNull) {
  Sample s;
  s.device_id = "d";
  s.ts = *parse_rfc3339("2026-01-01T00:00:00Z");
  s.seq = 1;
  const auto o = to_json(s);
  EXPECT_TRUE(o.at("pv_power_w").is_null());
  EXPECT_TRUE(o.at("power_flow").is_null());
  EXPECT_EQ(o.at("ts").as_string(), "2026-01-01T00:00:00.000Z");
  const auto back = sample_from_json(o);
  ASSERT_TRUE(back.sample);
  EXPECT_EQ(*back.sample, s);
}

TEST(SampleJson, RunningStateCarriesItsText) {
  auto s = full_sample();
  const auto o = to_json(s);
  EXPECT_EQ(o.at("running_state_text").as_string(), "Running");
  EXPECT_EQ(o.at("power_flow").at("charging").as_bool(), true);
  EXPECT_EQ(o.at("power_flow").at("exporting").as_bool(), false);
}

TEST(SampleJson, ReportsEveryProblemWithItsField) {
  const auto v = boost::json::parse(R"({"device_id":"bad id!","ts":"yesterday","seq":-1,
      "pv_power_w":"lots","grid_power_source":"guess","running_state":70000,"power_flow":[1]})");
  const auto d = sample_from_json(v);
  EXPECT_FALSE(d.sample);
  std::vector<std::string> fields;
  for (const auto& p : d.problems) fields.push_back(p.field);
  EXPECT_EQ(fields, (std::vector<std::string>{"device_id", "ts", "seq", "pv_power_w",
                                              "grid_power_source", "running_state", "power_flow"}));
}

TEST(SampleJson, MissingRequiredFieldsAndNonObjects) {
  EXPECT_EQ(sample_from_json(boost::json::parse("{}")).problems.size(), 3U);
  EXPECT_EQ(sample_from_json(boost::json::parse("[]")).problems.size(), 1U);
}

TEST(SampleJson, BatchBodyWrapsSamples) {
  const Sample samples[] = {full_sample(), full_sample()};
  const auto v = boost::json::parse(batch_to_json_text(samples));
  EXPECT_EQ(v.at("samples").as_array().size(), 2U);
}

}  // namespace
}  // namespace sungrow

namespace sungrow {
namespace {

TEST(SampleJson, NumbersArePlainDecimalsNotExponents) {
  Sample s;
  s.device_id = "d";
  s.ts = *parse_rfc3339("2026-01-01T00:00:00Z");
  s.seq = 7;
  s.grid_voltage_v = 231.5;
  s.pv_power_w = 0.0;
  s.load_power_w = 242.0;
  s.battery_current_a = -0.8;
  const auto text = to_json_text(s);
  EXPECT_NE(text.find(R"("grid_voltage_v":231.5,)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("pv_power_w":0,)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("load_power_w":242,)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("battery_current_a":-0.8,)"), std::string::npos) << text;
  EXPECT_NE(text.find(R"("seq":7,)"), std::string::npos) << text;
  // The text decodes back to the same sample.
  EXPECT_EQ(sample_from_json(boost::json::parse(text)).sample, s);
}

}  // namespace
}  // namespace sungrow
