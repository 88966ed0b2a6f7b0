// Unit tests of the register encoding and the read rules of the simulated unit.
#include "sungrow/sim/register_bank.hpp"

#include <gtest/gtest.h>

#include <cmath>

#include "sungrow/core/words.hpp"

namespace sungrow::sim {
namespace {

Timestamp at(const char* rfc3339) {
  return parse_rfc3339(rfc3339).value();
}

struct Encoded {
  Household household;
  RegisterBank bank;
};

Encoded encode_at(const char* time, const Faults& faults = {}) {
  auto h = Household::create({}, 3, at(time), "Europe/Amsterdam").value();
  auto bank = RegisterBank::encode(h.state(), h.local_time(), {}, DeviceIdentity{}, faults);
  return {std::move(h), std::move(bank)};
}

std::vector<std::uint16_t> words_of(const RegisterBank& bank, const RegisterDef& def) {
  std::vector<std::uint16_t> w;
  for (std::uint16_t i = 0; i < def.words; ++i) {
    const auto word = bank.word(def.table, static_cast<std::uint16_t>(def.doc + i));
    EXPECT_TRUE(word.has_value()) << def.name;
    w.push_back(word.value_or(0));
  }
  return w;
}

// The edge's decoding: raw integer (words.hpp) divided by the map's divisor.
double decode(const RegisterBank& bank, RegisterId id) {
  const auto& def = reg(id);
  const auto w = words_of(bank, def);
  return static_cast<double>(words::raw_value(def.type, w)) / def.divisor;
}

TEST(RegisterBank, EveryMappedRegisterDecodesToTheModelsValue) {
  const auto e = encode_at("2026-06-21T10:30:00Z");
  const auto& s = e.household.state();
  const auto& b = e.bank;
  ASSERT_GT(s.pv_w, 100.0);  // daytime: the checks below see real numbers

  EXPECT_EQ(words::utf8(words_of(b, reg(RegisterId::serial_number))), "A2350415770");
  EXPECT_EQ(decode(b, RegisterId::device_type), 0x0D18);
  EXPECT_EQ(decode(b, RegisterId::nominal_power), 4.0);
  EXPECT_EQ(decode(b, RegisterId::output_type), 0);
  EXPECT_NEAR(decode(b, RegisterId::daily_output_energy), s.today.output / 1000, 0.05);
  EXPECT_NEAR(decode(b, RegisterId::total_output_energy), s.totals.output / 1000, 0.05);
  EXPECT_NEAR(decode(b, RegisterId::inverter_temperature), s.inverter_temp_c, 0.05);
  EXPECT_NEAR(decode(b, RegisterId::mppt1_voltage), s.mppt1_v, 0.05);
  EXPECT_NEAR(decode(b, RegisterId::mppt1_current), s.mppt1_a, 0.05);
  EXPECT_NEAR(decode(b, RegisterId::mppt2_voltage), s.mppt2_v, 0.05);
  EXPECT_NEAR(decode(b, RegisterId::mppt2_current), s.mppt2_a, 0.05);
  EXPECT_NEAR(decode(b, RegisterId::total_dc_power), s.pv_w, 0.5);
  EXPECT_NEAR(decode(b, RegisterId::phase_a_voltage), s.grid_v, 0.05);
  EXPECT_NEAR(decode(b, RegisterId::grid_frequency_legacy), s.grid_hz, 0.05);
  EXPECT_NEAR(decode(b, RegisterId::grid_frequency), s.grid_hz, 0.005);
  EXPECT_NEAR(decode(b, RegisterId::battery_power), s.battery_w, 0.5);
  EXPECT_NEAR(decode(b, RegisterId::meter_power), s.grid_w, 1.5);
  EXPECT_NEAR(decode(b, RegisterId::battery_current), s.battery_a, 0.05);
  EXPECT_EQ(decode(b, RegisterId::running_state), 0x0000);
  EXPECT_EQ(decode(b, RegisterId::power_flow), power_flow_bits(s));
  EXPECT_NEAR(decode(b, RegisterId::pv_energy_today), s.today.pv / 1000, 0.05);
  EXPECT_NEAR(decode(b, RegisterId::pv_energy_total), s.totals.pv / 1000, 0.05);
  EXPECT_NEAR(decode(b, RegisterId::load_power), s.load_w, 0.5);
  EXPECT_NEAR(decode(b, RegisterId::export_power), -s.grid_w, 1.5);
  EXPECT_NEAR(decode(b, RegisterId::battery_voltage), s.battery_v, 0.05);
  EXPECT_NEAR(decode(b, RegisterId::battery_current_legacy), s.battery_a, 0.05);
  EXPECT_NEAR(decode(b, RegisterId::battery_power_legacy), std::abs(s.battery_w), 0.5);
  EXPECT_NEAR(decode(b, RegisterId::battery_soc), s.battery_soc * 100, 0.05);
  EXPECT_NEAR(decode(b, RegisterId::battery_soh), 98.7, 0.05);
  EXPECT_NEAR(decode(b, RegisterId::battery_temperature), s.battery_temp_c, 0.05);
  EXPECT_NEAR(decode(b, RegisterId::battery_discharge_today), s.today.battery_discharge / 1000,
              0.05);
  EXPECT_NEAR(decode(b, RegisterId::battery_discharge_total), s.totals.battery_discharge / 1000,
              0.05);
  EXPECT_NEAR(decode(b, RegisterId::total_active_power), s.ac_w, 1.5);
  EXPECT_NEAR(decode(b, RegisterId::grid_import_today), s.today.grid_import / 1000, 0.05);
  EXPECT_NEAR(decode(b, RegisterId::grid_import_total), s.totals.grid_import / 1000, 0.05);
  EXPECT_EQ(decode(b, RegisterId::battery_capacity), 9.6);
  EXPECT_NEAR(decode(b, RegisterId::battery_charge_today), s.today.battery_charge / 1000, 0.05);
  EXPECT_NEAR(decode(b, RegisterId::battery_charge_total), s.totals.battery_charge / 1000, 0.05);
  EXPECT_NEAR(decode(b, RegisterId::grid_export_today), s.today.grid_export / 1000, 0.05);
  EXPECT_NEAR(decode(b, RegisterId::grid_export_total), s.totals.grid_export / 1000, 0.05);
  static_assert(kRegisters.size() == 40, "a new register needs a check here");
}

TEST(RegisterBank, WirePowersBalanceExactlyAndSignsFollowTheReference) {
  for (const char* t : {"2026-06-21T03:00:00Z", "2026-06-21T09:00:00Z", "2026-06-21T12:00:00Z",
                        "2026-06-21T19:30:00Z", "2026-12-21T12:00:00Z"}) {
    const auto e = encode_at(t);
    const auto& b = e.bank;
    const double pv = decode(b, RegisterId::total_dc_power);
    const double battery = decode(b, RegisterId::battery_power);
    const double load = decode(b, RegisterId::load_power);
    const double meter = decode(b, RegisterId::meter_power);
    EXPECT_EQ(meter, load - pv - battery) << t;
    EXPECT_EQ(decode(b, RegisterId::export_power), -meter) << t;
    EXPECT_EQ(decode(b, RegisterId::total_active_power), pv + battery) << t;
    EXPECT_EQ(decode(b, RegisterId::battery_power_legacy), std::abs(battery)) << t;
    const double current = decode(b, RegisterId::battery_current);
    if (std::abs(battery) > 50) {
      EXPECT_EQ(std::signbit(current), std::signbit(battery)) << t;
    }

    const auto flow = static_cast<unsigned>(decode(b, RegisterId::power_flow));
    EXPECT_EQ((flow & 0x01U) != 0, pv > 0) << t;
    EXPECT_EQ((flow & 0x02U) != 0, battery < 0) << t;
    EXPECT_EQ((flow & 0x04U) != 0, battery > 0) << t;
    EXPECT_EQ((flow & 0x08U) != 0, load > 0) << t;
    EXPECT_EQ((flow & 0x10U) != 0, meter < 0) << t;
    EXPECT_EQ((flow & 0x20U) != 0, meter > 0) << t;
    EXPECT_EQ(decode(b, RegisterId::grid_frequency_legacy) * 10,
              std::round(decode(b, RegisterId::grid_frequency) * 10))
        << t;
  }
}

TEST(RegisterBank, ReservedWordsInsideImplementedRangesReadZero) {
  const auto e = encode_at("2026-06-21T10:30:00Z");
  EXPECT_EQ(e.bank.word(RegisterTable::input, 13030), 0);  // reserved
  EXPECT_EQ(e.bank.word(RegisterTable::input, 13049), 0);
  EXPECT_EQ(e.bank.word(RegisterTable::input, 5006), 0);
  EXPECT_FALSE(e.bank.word(RegisterTable::input, 5009).has_value());  // WiNet-S gap
  EXPECT_FALSE(e.bank.word(RegisterTable::input, 13100).has_value());
  EXPECT_FALSE(e.bank.word(RegisterTable::holding, 5006).has_value());
}

TEST(RegisterBank, HoldingClockIsLocalTimeAndSocWindowIsSet) {
  const auto e = encode_at("2026-01-31T23:30:45Z");  // already 1 February in Amsterdam
  const auto word = [&](std::uint16_t doc) {
    return e.bank.word(RegisterTable::holding, doc).value();
  };
  EXPECT_EQ(word(5000), 2026);
  EXPECT_EQ(word(5001), 2);
  EXPECT_EQ(word(5002), 1);
  EXPECT_EQ(word(5003), 0);
  EXPECT_EQ(word(5004), 30);
  EXPECT_EQ(word(5005), 45);
  EXPECT_EQ(word(13050), 0);
  EXPECT_EQ(word(13058), 1000);
  EXPECT_EQ(word(13059), 50);
}

// The inverter's own clock can be set wrong (it then runs off the simulated time by the offset)
// or read garbage; either way only the six clock words change.
TEST(RegisterBank, ClockOffsetAndGarbageFaultsChangeOnlyTheClockWords) {
  Faults late;
  late.clock_offset = std::chrono::seconds{-3 * 3600 - 61};
  const auto normal = encode_at("2026-01-31T23:30:45Z");
  const auto off = encode_at("2026-01-31T23:30:45Z", late);
  const auto clock = [](const Encoded& e) {
    std::vector<std::uint16_t> w;
    for (std::uint16_t doc = 5000; doc <= 5005; ++doc)
      w.push_back(e.bank.word(RegisterTable::holding, doc).value());
    return w;
  };
  EXPECT_EQ(clock(normal), (std::vector<std::uint16_t>{2026, 2, 1, 0, 30, 45}));
  EXPECT_EQ(clock(off), (std::vector<std::uint16_t>{2026, 1, 31, 21, 29, 44}));
  Faults garbage;
  garbage.clock_fault = ClockFault::garbage;
  EXPECT_EQ(clock(encode_at("2026-01-31T23:30:45Z", garbage)),
            std::vector<std::uint16_t>(6, 0xFFFF));
  for (const auto& def : kRegisters)
    EXPECT_EQ(words_of(off.bank, def), words_of(normal.bank, def)) << def.name;
}

TEST(RegisterBank, FlowBitsStuckFault) {
  Faults faults;
  faults.flow_bits_stuck = true;
  const auto normal = encode_at("2026-06-21T10:30:00Z");
  const auto stuck = encode_at("2026-06-21T10:30:00Z", faults);
  EXPECT_NE(normal.bank.word(RegisterTable::input, 13001), 0);
  EXPECT_EQ(stuck.bank.word(RegisterTable::input, 13001), 0);
}

TEST(EncodeValue, RoundsAndSaturatesPerType) {
  EXPECT_EQ(encode_value(RegisterType::u16, 10, 12.34), std::vector<std::uint16_t>{123});
  EXPECT_EQ(encode_value(RegisterType::u16, 1, -5), std::vector<std::uint16_t>{0});
  EXPECT_EQ(encode_value(RegisterType::s16, 1, 40000), std::vector<std::uint16_t>{0x7FFF});
  EXPECT_EQ(encode_value(RegisterType::s16, 10, -1.5), std::vector<std::uint16_t>{0xFFF1});
  // 32-bit: low word first (the protocol's example: 732150 → 2BF6 000B).
  EXPECT_EQ(encode_value(RegisterType::u32, 10, 73215.0),
            (std::vector<std::uint16_t>{0x2BF6, 0x000B}));
  // Meter −7314 W as captured: [58222, 65535].
  EXPECT_EQ(encode_value(RegisterType::s32, 1, -7314), (std::vector<std::uint16_t>{58222, 65535}));
}

std::vector<std::uint16_t> words_or_fail(const ReadReply& r) {
  const auto* w = std::get_if<std::vector<std::uint16_t>>(&r);
  EXPECT_NE(w, nullptr);
  return w ? *w : std::vector<std::uint16_t>{};
}

ModbusException exception_of(const ReadReply& r) {
  const auto* e = std::get_if<ModbusException>(&r);
  EXPECT_NE(e, nullptr);
  return e ? *e : ModbusException{};
}

TEST(AnswerRead, EveryReadGroupIsServed) {
  const auto e = encode_at("2026-06-21T10:30:00Z");
  for (const auto& g : kReadGroups)
    EXPECT_EQ(words_or_fail(answer_read(e.bank, {}, g.table, g.first_wire(), g.count)).size(),
              g.count)
        << g.name;
}

TEST(AnswerRead, RulesForCountsAddressesAndFaults) {
  const auto e = encode_at("2026-06-21T10:30:00Z");
  const auto in = RegisterTable::input;
  EXPECT_EQ(exception_of(answer_read(e.bank, {}, in, 12999, 126)),
            ModbusException::illegal_data_value);
  EXPECT_EQ(exception_of(answer_read(e.bank, {}, in, 12999, 0)),
            ModbusException::illegal_data_value);
  EXPECT_EQ(words_or_fail(answer_read(e.bank, {}, in, 12999, 100)).size(), 100U);
  EXPECT_EQ(exception_of(answer_read(e.bank, {}, in, 12999, 125)),  // reaches 13100+
            ModbusException::illegal_data_address);
  EXPECT_EQ(exception_of(answer_read(e.bank, {}, in, 5999, 1)),
            ModbusException::illegal_data_address);
  EXPECT_EQ(exception_of(answer_read(e.bank, {}, in, 65535, 1)),
            ModbusException::illegal_data_address);
  // One unimplemented word spoils the block, as on the real unit.
  EXPECT_EQ(exception_of(answer_read(e.bank, {}, in, 5006, 6)),
            ModbusException::illegal_data_address);

  Faults ffff;
  ffff.ffff_unsupported = true;
  const auto w = words_or_fail(answer_read(e.bank, ffff, in, 5006, 6));  // docs 5007..5012
  ASSERT_EQ(w.size(), 6U);
  EXPECT_EQ(w[0], 0);  // 5007 reserved
  EXPECT_EQ(w[1], e.bank.word(in, 5008));
  EXPECT_EQ(w[2], 0xFFFF);
  EXPECT_EQ(w[3], 0xFFFF);
  EXPECT_EQ(w[4], e.bank.word(in, 5011));

  Faults ranges;
  ranges.exception_ranges = {DocRange{5011, 5014}};
  EXPECT_EQ(exception_of(answer_read(e.bank, ranges, in, 5013, 1)),
            ModbusException::illegal_data_address);
  EXPECT_EQ(exception_of(answer_read(e.bank, ranges, in, 5009, 3)),
            ModbusException::illegal_data_address);
  EXPECT_EQ(words_or_fail(answer_read(e.bank, ranges, in, 5016, 3)).size(), 3U);
  EXPECT_EQ(words_or_fail(answer_read(e.bank, ranges, RegisterTable::holding, 4999, 6)).size(), 6U);

  Faults old_firmware;
  old_firmware.no_battery_power_register = true;
  EXPECT_EQ(exception_of(answer_read(e.bank, old_firmware, in, 5213, 2)),
            ModbusException::illegal_data_address);
  EXPECT_EQ(exception_of(answer_read(e.bank, old_firmware, in, 5214, 1)),
            ModbusException::illegal_data_address);
  EXPECT_EQ(words_or_fail(answer_read(e.bank, old_firmware, in, 13021, 1)).size(), 1U);

  Faults no_clock;
  no_clock.clock_fault = ClockFault::unsupported;
  EXPECT_EQ(exception_of(answer_read(e.bank, no_clock, RegisterTable::holding, 4999, 6)),
            ModbusException::illegal_data_address);
  EXPECT_EQ(exception_of(answer_read(e.bank, no_clock, RegisterTable::holding, 5004, 1)),
            ModbusException::illegal_data_address);
  EXPECT_EQ(words_or_fail(answer_read(e.bank, no_clock, RegisterTable::holding, 13057, 2)).size(),
            2U);
  EXPECT_EQ(words_or_fail(answer_read(e.bank, no_clock, RegisterTable::input, 4999, 6)).size(), 6U);
  EXPECT_EQ(exception_of(answer_read(e.bank, {}, RegisterTable::holding, 5005, 1)),
            ModbusException::illegal_data_address);
}

// The counter glitches rewrite exactly the five lifetime counters a reply covers, and nothing else.
TEST(RegisterBank, CounterGlitchesRewriteOnlyTheLifetimeCounters) {
  const auto e = encode_at("2026-06-21T10:30:00Z");
  std::vector<std::uint16_t> state;
  for (std::uint16_t doc = 13000; doc < 13050; ++doc)
    state.push_back(*e.bank.word(RegisterTable::input, doc));
  const auto total = [](const std::vector<std::uint16_t>& w, RegisterId id) {
    const auto at = static_cast<std::size_t>(reg(id).doc - 13000);
    return static_cast<double>(words::u32(w[at], w[at + 1])) / reg(id).divisor;
  };
  const RegisterId counters[] = {RegisterId::pv_energy_total, RegisterId::grid_import_total,
                                 RegisterId::grid_export_total, RegisterId::battery_charge_total,
                                 RegisterId::battery_discharge_total};
  ASSERT_TRUE(covers_lifetime_counter(13000, state.size()));
  EXPECT_FALSE(covers_lifetime_counter(13000, 4));  // ends inside 13003–13004
  EXPECT_FALSE(covers_lifetime_counter(5003, 6));

  for (std::size_t k = 0; k < kCounterGlitchKinds; ++k) {
    const auto kind = static_cast<CounterGlitch>(k);
    auto glitched = state;
    glitch_lifetime_counters(glitched, 13000, kind);
    std::size_t changed_words = 0;
    for (std::size_t i = 0; i < state.size(); ++i) changed_words += glitched[i] != state[i];
    EXPECT_GE(changed_words, 5U) << k;
    EXPECT_LE(changed_words, 10U) << k;
    for (const auto id : counters) {
      const double before = total(state, id);
      const double after = total(glitched, id);
      switch (kind) {
        case CounterGlitch::zero:
          EXPECT_EQ(after, 0) << reg(id).name;
          break;
        case CounterGlitch::low_word_ffff:
          EXPECT_EQ(after, 6553.5) << reg(id).name;
          break;
        case CounterGlitch::high_word_ffff:
          EXPECT_GT(after, reg(id).max) << reg(id).name;  // the edge's range check nulls it
          break;
        case CounterGlitch::spike:
          EXPECT_NEAR(after - before, 1000.0, 1e-6) << reg(id).name;
          break;
      }
    }
  }
}

TEST(RegisterBank, TheSerialIsTheIdentitysWholeSerial) {
  auto h = Household::create({}, 3, at("2026-06-21T10:30:00Z"), "Europe/Amsterdam").value();
  DeviceIdentity identity;
  identity.serial = "B1234567890XYZ";
  const auto bank = RegisterBank::encode(h.state(), h.local_time(), {}, identity, {});
  EXPECT_EQ(words::utf8(words_of(bank, reg(RegisterId::serial_number))), "B1234567890XYZ");
}

}  // namespace
}  // namespace sungrow::sim
