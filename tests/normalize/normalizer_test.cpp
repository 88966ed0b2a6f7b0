// Unit tests of the normalizer: types, sentinels, ranges, sign rules and fallbacks of the
// reference.
#include "sungrow/edge/normalize/normalizer.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "register_image_builder.hpp"
#include "sungrow/core/words.hpp"

namespace sungrow::edge {
namespace {

using enum RegisterId;
using test::full_image;
using test::image_of;
using test::put;
using testing::HasSubstr;
using testing::IsEmpty;
using testing::Optional;
using testing::SizeIs;

const Timestamp kTs{std::chrono::milliseconds{1'780'000'000'123}};

// Raw words exactly as captured, for the cases where the encoding itself is under test.
void put_words(RegisterImage& image, RegisterId id, const std::vector<std::uint16_t>& w) {
  image.set_block(reg(id).table, reg(id).wire(), w);
}

Normalized run(const RegisterImage& image) {
  return normalize(image, kTs, "sh4-test");
}

// ---- empty and full images -----------------------------------------------------------------

TEST(Normalizer, EmptyImageGivesOnlyIdentityEveryMeasurementNullAndNoWarnings) {
  const auto n = run(RegisterImage{});
  EXPECT_EQ(n.sample.device_id, "sh4-test");
  EXPECT_EQ(n.sample.ts, kTs);
  EXPECT_EQ(n.sample.seq, 0);
  for (const auto& f : kMeasurementFields) EXPECT_FALSE(n.sample.*f.member) << f.name;
  EXPECT_FALSE(n.sample.grid_power_source);
  EXPECT_FALSE(n.sample.running_state);
  EXPECT_FALSE(n.sample.power_flow);
  EXPECT_FALSE(n.sample.power_flow_raw);
  EXPECT_THAT(n.warnings, IsEmpty());
}

TEST(Normalizer, FullRealisticImageFillsEveryMeasurementWithoutWarnings) {
  const auto n = run(full_image());
  for (const auto& f : kMeasurementFields) EXPECT_TRUE(n.sample.*f.member) << f.name;
  EXPECT_THAT(n.warnings, IsEmpty());
  const auto& s = n.sample;
  EXPECT_THAT(s.pv_power_w, Optional(3216.0));
  EXPECT_THAT(s.mppt1_voltage_v, Optional(352.1));
  EXPECT_THAT(s.mppt2_current_a, Optional(4.1));
  EXPECT_THAT(s.load_power_w, Optional(550.0));
  EXPECT_THAT(s.grid_power_w, Optional(-1466.0));
  EXPECT_EQ(s.grid_power_source, GridPowerSource::meter);
  EXPECT_THAT(s.battery_power_w, Optional(-1200.0));
  EXPECT_THAT(s.battery_current_a, Optional(-4.5));
  EXPECT_THAT(s.grid_voltage_v, Optional(234.5));
  EXPECT_THAT(s.grid_frequency_hz, Optional(49.98));
  EXPECT_THAT(s.inverter_temperature_c, Optional(41.2));
  EXPECT_THAT(s.battery_soc_pct, Optional(65.5));
  EXPECT_THAT(s.battery_soh_pct, Optional(99.0));
  EXPECT_THAT(s.battery_voltage_v, Optional(265.2));
  EXPECT_THAT(s.battery_temperature_c, Optional(23.1));
  EXPECT_THAT(s.pv_energy_today_kwh, Optional(18.3));
  EXPECT_THAT(s.pv_energy_total_kwh, Optional(9876.5));
  EXPECT_THAT(s.grid_import_today_kwh, Optional(3.2));
  EXPECT_THAT(s.grid_import_total_kwh, Optional(1234.5));
  EXPECT_THAT(s.grid_export_today_kwh, Optional(9.9));
  EXPECT_THAT(s.grid_export_total_kwh, Optional(2345.6));
  EXPECT_THAT(s.battery_charge_today_kwh, Optional(4.5));
  EXPECT_THAT(s.battery_charge_total_kwh, Optional(543.2));
  EXPECT_THAT(s.battery_discharge_today_kwh, Optional(2.1));
  EXPECT_THAT(s.battery_discharge_total_kwh, Optional(432.1));
  // 18.3 + 3.2 + 2.1 − 9.9 − 4.5
  EXPECT_THAT(s.load_energy_today_kwh, Optional(9.2));
  EXPECT_EQ(s.running_state, 0x0000);
  EXPECT_EQ(s.power_flow, PowerFlow::from_bits(0x13));
}

TEST(Normalizer, HoldingTableWordsAtTheSameNumbersAreIgnored) {
  // Input and holding tables overlap in numbers (13000 = start/stop in holding).
  RegisterImage image;
  image.set(RegisterTable::holding, reg(running_state).wire(), 0xCF);
  image.set(RegisterTable::holding, reg(battery_soc).wire(), 500);
  const auto n = run(image);
  EXPECT_FALSE(n.sample.running_state);
  EXPECT_FALSE(n.sample.battery_soc_pct);
}

// ---- types ---------------------------------------------------------------------------------

TEST(NormalizerTypes, U16IsScaledByDivisionSoValuesAreExactDecimals) {
  const auto n = run(image_of({{phase_a_voltage, 2301}, {mppt1_current, 65535 - 1}}));
  // 2301 × 0.1 would be 230.10000000000002
  EXPECT_THAT(n.sample.grid_voltage_v, Optional(230.1));
  EXPECT_FALSE(n.sample.mppt1_current_a);  // 6553.4 A: a U16, never negative, out of range
}

TEST(NormalizerTypes, S16IsTwosComplement) {
  const auto n = run(image_of({{inverter_temperature, -55}, {battery_temperature, -1}}));
  EXPECT_THAT(n.sample.inverter_temperature_c, Optional(-5.5));
  // 0xFFFF is −1 for an S16, not a sentinel (a decoder that treats it as one loses the value)
  EXPECT_THAT(n.sample.battery_temperature_c, Optional(-0.1));
  EXPECT_THAT(n.warnings, IsEmpty());
}

TEST(NormalizerTypes, U32IsLowWordFirstAsInDocExample4_2) {
  RegisterImage image;
  put_words(image, pv_energy_total, {0x2BF6, 0x000B});  // 0x000B2BF6 = 732150
  EXPECT_THAT(run(image).sample.pv_energy_total_kwh, Optional(73215.0));
}

TEST(NormalizerTypes, S32IsLowWordFirstRealMeterCapture) {
  RegisterImage image;
  put_words(image, meter_power, {58222, 65535});  // a real SH8.0RT-20, afternoon
  EXPECT_THAT(run(image).sample.grid_power_w, Optional(-7314.0));
}

TEST(NormalizerTypes, AThirtyTwoBitRegisterWithOnlyOneWordReadIsNullWithoutWarning) {
  RegisterImage image;
  image.set(RegisterTable::input, reg(pv_energy_total).wire(), 1000);
  image.set(RegisterTable::input, static_cast<std::uint16_t>(reg(meter_power).wire() + 1), 0);
  const auto n = run(image);
  EXPECT_FALSE(n.sample.pv_energy_total_kwh);
  EXPECT_FALSE(n.sample.grid_power_w);
  EXPECT_THAT(n.warnings, IsEmpty());
}

// ---- sentinels -----------------------------------------------------------------------------

struct SentinelCase {
  const char* name;
  RegisterId id;
  std::vector<std::uint16_t> words;  // owned: an initializer_list here would dangle
  std::optional<double> Sample::*field;
};

class NormalizerSentinel : public testing::TestWithParam<SentinelCase> {};

TEST_P(NormalizerSentinel, IsNullWithoutWarning) {
  const auto& c = GetParam();
  RegisterImage image;
  put_words(image, c.id, c.words);
  const auto n = run(image);
  EXPECT_FALSE(n.sample.*c.field);
  EXPECT_THAT(n.warnings, IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(
    EachType, NormalizerSentinel,
    testing::Values(
        SentinelCase{"u16", mppt1_voltage, {0xFFFF}, &Sample::mppt1_voltage_v},
        SentinelCase{"s16", inverter_temperature, {0x7FFF}, &Sample::inverter_temperature_c},
        SentinelCase{"u32", pv_energy_total, {0xFFFF, 0xFFFF}, &Sample::pv_energy_total_kwh},
        SentinelCase{"s32", load_power, {0xFFFF, 0x7FFF}, &Sample::load_power_w},
        SentinelCase{"s32_meter", meter_power, {0xFFFF, 0x7FFF}, &Sample::grid_power_w},
        SentinelCase{"s32_battery", battery_power, {0xFFFF, 0x7FFF}, &Sample::battery_power_w},
        SentinelCase{"u16_frequency", grid_frequency, {0xFFFF}, &Sample::grid_frequency_hz}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(NormalizerSentinelState, RunningStateAndFlowSentinelsAreNull) {
  const auto n = run(image_of({{running_state, 0xFFFF}, {power_flow, 0xFFFF}}));
  EXPECT_FALSE(n.sample.running_state);
  EXPECT_FALSE(n.sample.power_flow);
  EXPECT_FALSE(n.sample.power_flow_raw);
}

// ---- ranges --------------------------------------------------------------------------------

TEST(NormalizerRange, AboveMaxIsNullWithAWarningNamingRegisterRawAndValue) {
  const auto n = run(image_of({{battery_soc, 1500}}));
  EXPECT_FALSE(n.sample.battery_soc_pct);
  ASSERT_THAT(n.warnings, SizeIs(1));
  EXPECT_THAT(n.warnings[0], HasSubstr("battery_soc"));
  EXPECT_THAT(n.warnings[0], HasSubstr("13023"));
  EXPECT_THAT(n.warnings[0], HasSubstr("raw 1500"));
  EXPECT_THAT(n.warnings[0], HasSubstr("= 150 %"));
}

TEST(NormalizerRange, BelowMinIsNullWithAWarning) {
  const auto n = run(image_of({{battery_temperature, -500}}));
  EXPECT_FALSE(n.sample.battery_temperature_c);
  ASSERT_THAT(n.warnings, SizeIs(1));
  EXPECT_THAT(n.warnings[0], HasSubstr("battery_temperature"));
  EXPECT_THAT(n.warnings[0], HasSubstr("raw -500"));
}

TEST(NormalizerRange, BoundsThemselvesAreValid) {
  const auto n = run(image_of({{battery_soc, 1000}, {battery_temperature, -400}}));
  EXPECT_THAT(n.sample.battery_soc_pct, Optional(100.0));
  EXPECT_THAT(n.sample.battery_temperature_c, Optional(-40.0));
  EXPECT_THAT(n.warnings, IsEmpty());
}

// ---- grid power ----------------------------------------------------------------------------

TEST(NormalizerGrid, MeterIsPreferredAndPositiveMeansImport) {
  // A real SH8.0RT-20 in the afternoon: meter −7314 while the export register says +7314.
  const auto n = run(image_of({{meter_power, -7314}, {export_power, 7314}}));
  EXPECT_THAT(n.sample.grid_power_w, Optional(-7314.0));
  EXPECT_EQ(n.sample.grid_power_source, GridPowerSource::meter);
}

TEST(NormalizerGrid, ExportRegisterIsNegatedWhenTheMeterIsMissing) {
  const auto exporting = run(image_of({{export_power, 7314}}));
  EXPECT_THAT(exporting.sample.grid_power_w, Optional(-7314.0));
  EXPECT_EQ(exporting.sample.grid_power_source, GridPowerSource::inverter);
  const auto importing = run(image_of({{export_power, -224}}));  // real: meter +224
  EXPECT_THAT(importing.sample.grid_power_w, Optional(224.0));
  EXPECT_EQ(importing.sample.grid_power_source, GridPowerSource::inverter);
}

TEST(NormalizerGrid, ZeroExportGivesPositiveZero) {
  const auto n = run(image_of({{export_power, 0}}));
  ASSERT_THAT(n.sample.grid_power_w, Optional(0.0));
  EXPECT_FALSE(std::signbit(*n.sample.grid_power_w));
}

TEST(NormalizerGrid, OutOfRangeMeterWarnsAndFallsBackToTheExportRegister) {
  const auto n = run(image_of({{meter_power, 90000}, {export_power, -500}}));
  EXPECT_THAT(n.sample.grid_power_w, Optional(500.0));
  EXPECT_EQ(n.sample.grid_power_source, GridPowerSource::inverter);
  ASSERT_THAT(n.warnings, SizeIs(1));
  EXPECT_THAT(n.warnings[0], HasSubstr("meter_power"));
}

TEST(NormalizerGrid, MeterReadingZeroWhileTheInverterSeesAFlowMeansNoMeter) {
  // Unsupported registers can read 0 inside a block: trust the export register.
  const auto no_meter = run(image_of({{meter_power, 0}, {export_power, 1200}}));
  EXPECT_THAT(no_meter.sample.grid_power_w, Optional(-1200.0));
  EXPECT_EQ(no_meter.sample.grid_power_source, GridPowerSource::inverter);
  // Both zero: a real balanced moment, the meter stays the source.
  const auto balanced = run(image_of({{meter_power, 0}, {export_power, 0}}));
  EXPECT_THAT(balanced.sample.grid_power_w, Optional(0.0));
  EXPECT_EQ(balanced.sample.grid_power_source, GridPowerSource::meter);
}

TEST(NormalizerGrid, EstimateIsLoadMinusPvMinusBattery) {
  // 1200 W load, 3000 W PV, battery charging 500 W → 1300 W exported
  const auto n = run(image_of({{load_power, 1200}, {total_dc_power, 3000}, {battery_power, -500}}));
  EXPECT_THAT(n.sample.grid_power_w, Optional(-1300.0));
  EXPECT_EQ(n.sample.grid_power_source, GridPowerSource::estimate);
}

TEST(NormalizerGrid, EstimateOutsideTheMeterRangeIsNullWithAWarning) {
  const auto n = run(image_of({{load_power, 30000}, {total_dc_power, 0}, {battery_power, -15000}}));
  EXPECT_FALSE(n.sample.grid_power_w);
  EXPECT_FALSE(n.sample.grid_power_source);
  ASSERT_THAT(n.warnings, SizeIs(1));
  EXPECT_THAT(n.warnings[0], HasSubstr("grid_power_w (estimate): 45000"));
}

TEST(NormalizerGrid, NullWithoutSourceWhenAnEstimateInputIsMissing) {
  const auto n = run(image_of({{load_power, 1200}, {total_dc_power, 3000}}));
  EXPECT_FALSE(n.sample.grid_power_w);
  EXPECT_FALSE(n.sample.grid_power_source);
}

// ---- battery power -------------------------------------------------------------------------

TEST(NormalizerBattery, Register5214IsSignedNegativeCharging) {
  // A real SH8.0RT-20: −4985 W with flow 0xA3 (charging) in the morning; +332 W with flow 0x2C
  // at night.
  const auto morning = run(image_of({{battery_power, -4985}, {power_flow, 0xA3}}));
  // Every bit of 13001 is kept: bit 7 decoded, the word itself alongside.
  ASSERT_TRUE(morning.sample.power_flow);
  EXPECT_TRUE(morning.sample.power_flow->negative_load);
  EXPECT_EQ(morning.sample.power_flow_raw, 0xA3);
  EXPECT_THAT(morning.sample.battery_power_w, Optional(-4985.0));
  const auto night = run(image_of({{battery_power, 332}, {power_flow, 0x2C}}));
  EXPECT_THAT(night.sample.battery_power_w, Optional(332.0));
}

TEST(NormalizerBattery, Register5214WinsOverContradictingLegacyAndFlowBits) {
  const auto n =
      run(image_of({{battery_power, 332}, {battery_power_legacy, 900}, {power_flow, 0x02}}));
  EXPECT_THAT(n.sample.battery_power_w, Optional(332.0));
}

TEST(NormalizerBattery, LegacyMagnitudeIsNegatedWhenTheChargingBitIsSet) {
  const auto n = run(image_of({{battery_power_legacy, 4985}, {power_flow, 0xA3}}));
  EXPECT_THAT(n.sample.battery_power_w, Optional(-4985.0));
}

TEST(NormalizerBattery, LegacyMagnitudeStaysPositiveWhenDischarging) {
  const auto n = run(image_of({{battery_power_legacy, 332}, {power_flow, 0x2C}}));
  EXPECT_THAT(n.sample.battery_power_w, Optional(332.0));
}

TEST(NormalizerBattery, LegacyIsUsedWhen5214IsASentinel) {
  RegisterImage image = image_of({{battery_power_legacy, 700}, {power_flow, 0x2B}});
  put_words(image, battery_power, {0xFFFF, 0x7FFF});
  EXPECT_THAT(run(image).sample.battery_power_w, Optional(-700.0));
}

TEST(NormalizerBattery, LegacyIsUsedWhen5214IsOutOfRangeWithAWarning) {
  const auto n =
      run(image_of({{battery_power, 400000}, {battery_power_legacy, 700}, {power_flow, 0x2C}}));
  EXPECT_THAT(n.sample.battery_power_w, Optional(700.0));
  ASSERT_THAT(n.warnings, SizeIs(1));
  EXPECT_THAT(n.warnings[0], HasSubstr("battery_power"));
}

TEST(NormalizerBattery, SignedLegacyFirmwareIsNotNegatedTwice) {
  // Charging bit set and a value already negative (signed firmware): it must stay negative.
  const auto n = run(image_of({{battery_power_legacy, -700}, {power_flow, 0x2B}}));
  EXPECT_THAT(n.sample.battery_power_w, Optional(-700.0));
  const auto with_current =
      run(image_of({{battery_power_legacy, -700}, {battery_current, -30}, {power_flow, 0x2B}}));
  EXPECT_THAT(with_current.sample.battery_power_w, Optional(-700.0));
}

TEST(NormalizerBattery, StuckFlowBitsUseANegativeBatteryCurrent) {
  const auto n =
      run(image_of({{battery_power_legacy, 700}, {battery_current, -30}, {power_flow, 0}}));
  EXPECT_THAT(n.sample.battery_power_w, Optional(-700.0));
}

TEST(NormalizerBattery, NegativeLegacyCurrentIsUsedWhen5631IsMissing) {
  const auto n =
      run(image_of({{battery_power_legacy, 700}, {battery_current_legacy, -30}, {power_flow, 0}}));
  EXPECT_THAT(n.sample.battery_power_w, Optional(-700.0));
  EXPECT_THAT(n.sample.battery_current_a, Optional(-3.0));
}

TEST(NormalizerBattery, StuckFlowBitsWithoutCurrentCompareAcOutputWithPv) {
  // Flow bits stuck at 0: the inverter draws AC (−4667 W, a real morning) → charging.
  const auto charging = run(image_of({{battery_power_legacy, 4985},
                                      {power_flow, 0},
                                      {total_active_power, -4667},
                                      {total_dc_power, 300}}));
  EXPECT_THAT(charging.sample.battery_power_w, Optional(-4985.0));
  // night: AC output 320 W with no PV → discharging
  const auto discharging = run(image_of({{battery_power_legacy, 332},
                                         {power_flow, 0},
                                         {total_active_power, 320},
                                         {total_dc_power, 0}}));
  EXPECT_THAT(discharging.sample.battery_power_w, Optional(332.0));
}

TEST(NormalizerBattery, StuckFlowBitsWithAPositiveCurrentStillCompareAcWithPv) {
  // +2.8 A was observed on 5631 while charging, so a positive current proves nothing.
  const auto n = run(image_of({{battery_power_legacy, 716},
                               {battery_current, 28},
                               {power_flow, 0},
                               {total_active_power, 1500},
                               {total_dc_power, 2300}}));
  EXPECT_THAT(n.sample.battery_power_w, Optional(-716.0));
  EXPECT_THAT(n.sample.battery_current_a, Optional(-2.8));
}

TEST(NormalizerBattery, MissingFlowRegisterAlsoUsesTheAcPvComparison) {
  const auto n = run(
      image_of({{battery_power_legacy, 500}, {total_active_power, 100}, {total_dc_power, 700}}));
  EXPECT_THAT(n.sample.battery_power_w, Optional(-500.0));
}

TEST(NormalizerBattery, NonZeroFlowBitsWithoutChargingAreTrustedOverAcPv) {
  // The bits are alive (PV + load), so AC < PV does not override them.
  const auto n = run(image_of({{battery_power_legacy, 500},
                               {power_flow, 0x09},
                               {total_active_power, 100},
                               {total_dc_power, 700}}));
  EXPECT_THAT(n.sample.battery_power_w, Optional(500.0));
}

TEST(NormalizerBattery, StuckFlowBitsWithNothingElseKeepTheReportedValue) {
  const auto n = run(image_of({{battery_power_legacy, 500}, {power_flow, 0}}));
  EXPECT_THAT(n.sample.battery_power_w, Optional(500.0));
}

TEST(NormalizerBattery, LegacyZeroIsPositiveZero) {
  const auto n = run(image_of({{battery_power_legacy, 0}, {power_flow, 0x02}}));
  ASSERT_THAT(n.sample.battery_power_w, Optional(0.0));
  EXPECT_FALSE(std::signbit(*n.sample.battery_power_w));
}

TEST(NormalizerBattery, LegacyOutOfRangeIsNullWithAWarning) {
  // 0x8000 = −32768 W: the most negative S16 must not be negated into overflow.
  const auto n = run(image_of({{battery_power_legacy, -32768}, {power_flow, 0x02}}));
  EXPECT_FALSE(n.sample.battery_power_w);
  ASSERT_THAT(n.warnings, SizeIs(1));
  EXPECT_THAT(n.warnings[0], HasSubstr("battery_power_legacy"));
}

// ---- battery current -----------------------------------------------------------------------

TEST(NormalizerBatteryCurrent, FollowsTheSignOfBatteryPower) {
  // A real SH8.0RT-20 (2026): −14.5 A with −4985 W
  const auto a = run(image_of({{battery_power, -4985}, {battery_current, -145}}));
  EXPECT_THAT(a.sample.battery_current_a, Optional(-14.5));
  // A real inverter over LAN (Dec 2023): +2.8 A while 5214 = −716 W
  const auto b = run(image_of({{battery_power, -716}, {battery_current, 28}}));
  EXPECT_THAT(b.sample.battery_current_a, Optional(-2.8));
  const auto c = run(image_of({{battery_power, 332}, {battery_current, -30}}));
  EXPECT_THAT(c.sample.battery_current_a, Optional(3.0));
}

TEST(NormalizerBatteryCurrent, KeepsItsOwnSignWhenPowerIsUnknownOrZero) {
  EXPECT_THAT(run(image_of({{battery_current, -145}})).sample.battery_current_a, Optional(-14.5));
  EXPECT_THAT(run(image_of({{battery_current, 28}})).sample.battery_current_a, Optional(2.8));
  EXPECT_THAT(run(image_of({{battery_power, 0}, {battery_current, -3}})).sample.battery_current_a,
              Optional(-0.3));
}

TEST(NormalizerBatteryCurrent, LegacyRegisterIsTheFallback) {
  const auto n = run(image_of({{battery_power, -716}, {battery_current_legacy, 28}}));
  EXPECT_THAT(n.sample.battery_current_a, Optional(-2.8));
  RegisterImage sentinel = image_of({{battery_power, 332}, {battery_current_legacy, -30}});
  put_words(sentinel, battery_current, {0x7FFF});
  EXPECT_THAT(run(sentinel).sample.battery_current_a, Optional(3.0));
}

// ---- frequency -----------------------------------------------------------------------------

TEST(NormalizerFrequency, HighResolutionRegisterIsPreferred) {
  const auto n = run(image_of({{grid_frequency, 4994}, {grid_frequency_legacy, 501}}));
  EXPECT_THAT(n.sample.grid_frequency_hz, Optional(49.94));
}

TEST(NormalizerFrequency, LegacyRegisterWithItsDocumentedResolution) {
  EXPECT_THAT(run(image_of({{grid_frequency_legacy, 499}})).sample.grid_frequency_hz,
              Optional(49.9));
}

TEST(NormalizerFrequency, LegacyRegisterWithTheWinetSHundredthsQuirk) {
  // A real inverter over WiNet-S: 4994 where its LAN port said 499
  const auto n = run(image_of({{grid_frequency_legacy, 4994}}));
  EXPECT_THAT(n.sample.grid_frequency_hz, Optional(49.94));
  EXPECT_THAT(n.warnings, IsEmpty());
}

TEST(NormalizerFrequency, InvalidHighResolutionFallsBackToLegacy) {
  RegisterImage image = image_of({{grid_frequency_legacy, 500}});
  put_words(image, grid_frequency, {0xFFFF});
  EXPECT_THAT(run(image).sample.grid_frequency_hz, Optional(50.0));
  const auto out_of_range = run(image_of({{grid_frequency, 8000}, {grid_frequency_legacy, 500}}));
  EXPECT_THAT(out_of_range.sample.grid_frequency_hz, Optional(50.0));
  ASSERT_THAT(out_of_range.warnings, SizeIs(1));
  EXPECT_THAT(out_of_range.warnings[0], HasSubstr("grid_frequency (doc 5242): raw 8000 = 80 Hz"));
}

TEST(NormalizerFrequency, ImplausibleLegacyValueIsNullWithAWarning) {
  const auto tens = run(image_of({{grid_frequency_legacy, 800}}));  // 80 Hz
  EXPECT_FALSE(tens.sample.grid_frequency_hz);
  ASSERT_THAT(tens.warnings, SizeIs(1));
  EXPECT_THAT(tens.warnings[0], HasSubstr("grid_frequency_legacy (doc 5036): raw 800 = 80 Hz"));
  const auto hundredths = run(image_of({{grid_frequency_legacy, 9000}}));  // 90 Hz after quirk
  EXPECT_FALSE(hundredths.sample.grid_frequency_hz);
  ASSERT_THAT(hundredths.warnings, SizeIs(1));
  EXPECT_THAT(hundredths.warnings[0], HasSubstr("raw 9000 = 90 Hz"));
}

// ---- load energy ---------------------------------------------------------------------------

RegisterImage energy_day(std::int64_t pv, std::int64_t imp, std::int64_t dis, std::int64_t exp,
                         std::int64_t chg) {
  return image_of({{pv_energy_today, pv},
                   {grid_import_today, imp},
                   {battery_discharge_today, dis},
                   {grid_export_today, exp},
                   {battery_charge_today, chg}});
}

TEST(NormalizerLoadEnergy, IsTodaysBalanceAsAnExactDecimal) {
  // 12.3 + 4.5 + 2.1 − 5.6 − 3.2 = 10.1 (plain double arithmetic gives 10.100000000000001)
  EXPECT_THAT(run(energy_day(123, 45, 21, 56, 32)).sample.load_energy_today_kwh, Optional(10.1));
}

TEST(NormalizerLoadEnergy, IsClampedAtZero) {
  const auto n = run(energy_day(0, 1, 0, 5, 3));
  ASSERT_THAT(n.sample.load_energy_today_kwh, Optional(0.0));
  EXPECT_FALSE(std::signbit(*n.sample.load_energy_today_kwh));
}

TEST(NormalizerLoadEnergy, IsNullWhenAnyInputIsNull) {
  RegisterImage image = energy_day(123, 45, 21, 56, 32);
  put_words(image, battery_charge_today, {0xFFFF});
  EXPECT_FALSE(run(image).sample.load_energy_today_kwh);
}

TEST(NormalizerLoadEnergy, AboveTheDailyBoundIsNullWithAWarning) {
  const auto n = run(energy_day(9000, 9000, 0, 0, 0));  // 1800 kWh in a day
  EXPECT_FALSE(n.sample.load_energy_today_kwh);
  ASSERT_THAT(n.warnings, SizeIs(1));
  EXPECT_THAT(n.warnings[0], HasSubstr("load_energy_today_kwh"));
}

// ---- state ---------------------------------------------------------------------------------

TEST(NormalizerState, RunningStateAndFlowBitsOfDocExample4_8) {
  // `01 04 04 40 00 00 0D`: 13000 = 0x4000 (external EMS), 13001 = 0x0D = bits 0, 2, 3
  RegisterImage image;
  image.set_block(RegisterTable::input, reg(running_state).wire(),
                  std::array<std::uint16_t, 2>{0x4000, 0x000D});
  const auto n = run(image);
  EXPECT_EQ(n.sample.running_state, 0x4000);
  ASSERT_TRUE(n.sample.power_flow);
  const auto& f = *n.sample.power_flow;
  EXPECT_TRUE(f.pv);
  EXPECT_FALSE(f.charging);
  EXPECT_TRUE(f.discharging);
  EXPECT_TRUE(f.load);
  EXPECT_FALSE(f.exporting);
  EXPECT_FALSE(f.importing);
}

// ---- field ranges --------------------------------------------------------------------------

TEST(NormalizerFieldRanges, EveryMeasurementHasANonEmptyRange) {
  for (const auto& f : kMeasurementFields) {
    const auto* r = field_range(f.member);
    ASSERT_NE(r, nullptr) << f.name;
    EXPECT_LT(r->min, r->max) << f.name;
  }
}

}  // namespace
}  // namespace sungrow::edge
