// The register map's invariants: groups safe for a WiNet-S, no overlaps, every field covered.
#include "sungrow/core/registers.hpp"

#include <gtest/gtest.h>

#include "sungrow/core/words.hpp"

namespace sungrow {
namespace {

bool overlaps(std::uint32_t a_first, std::uint32_t a_last, std::uint32_t b_first,
              std::uint32_t b_last) {
  return a_first <= b_last && b_first <= a_last;
}

TEST(RegisterMap, NoReadGroupTouchesARangeKnownToUpsetTheWinetS) {
  for (const auto& g : kReadGroups) {
    for (const auto& bad : kWinetUnsafeRanges) {
      EXPECT_FALSE(overlaps(g.first_doc, g.first_doc + g.count - 1U, bad.first, bad.last))
          << g.name << " overlaps " << bad.first << "-" << bad.last;
    }
  }
}

TEST(RegisterMap, GroupsAreDisjointAndWithinTheRequestLimit) {
  for (std::size_t i = 0; i < kReadGroups.size(); ++i) {
    EXPECT_LE(kReadGroups[i].count, kMaxRegistersPerRead);
    for (std::size_t j = i + 1; j < kReadGroups.size(); ++j) {
      const auto& a = kReadGroups[i];
      const auto& b = kReadGroups[j];
      if (a.table != b.table) continue;
      EXPECT_FALSE(overlaps(a.first_doc, a.first_doc + a.count - 1U, b.first_doc,
                            b.first_doc + b.count - 1U))
          << a.name << " / " << b.name;
    }
  }
}

TEST(RegisterMap, RegistersDoNotOverlapAndSitInsideTheirGroup) {
  for (std::size_t i = 0; i < kRegisters.size(); ++i) {
    const auto& r = kRegisters[i];
    const auto& g = kReadGroups[r.group];
    EXPECT_GE(r.doc, g.first_doc) << r.name;
    EXPECT_LE(r.doc + r.words, g.first_doc + g.count) << r.name;
    EXPECT_EQ(r.wire(), r.doc - 1) << r.name;
    for (std::size_t j = i + 1; j < kRegisters.size(); ++j) {
      const auto& o = kRegisters[j];
      if (o.table != r.table) continue;
      EXPECT_FALSE(overlaps(r.doc, r.doc + r.words - 1U, o.doc, o.doc + o.words - 1U))
          << r.name << " / " << o.name;
    }
  }
}

TEST(RegisterMap, WidthsMatchTypes) {
  for (const auto& r : kRegisters) {
    switch (r.type) {
      case RegisterType::u16:
      case RegisterType::s16:
        EXPECT_EQ(r.words, 1) << r.name;
        break;
      case RegisterType::u32:
      case RegisterType::s32:
        EXPECT_EQ(r.words, 2) << r.name;
        break;
      case RegisterType::utf8:
        EXPECT_GE(r.words, 1) << r.name;
        break;
    }
    EXPECT_GE(r.divisor, 1) << r.name;
    EXPECT_LE(r.min, r.max) << r.name;
  }
}

TEST(RegisterMap, RecommendedRegistersAreAtTheDocumentedWireAddresses) {
  EXPECT_EQ(reg(RegisterId::battery_power).wire(), 5213);
  EXPECT_EQ(reg(RegisterId::grid_frequency).wire(), 5241);
  EXPECT_EQ(reg(RegisterId::meter_power).wire(), 5600);
  EXPECT_EQ(reg(RegisterId::running_state).wire(), 12999);
  EXPECT_EQ(reg(RegisterId::power_flow).wire(), 13000);
  EXPECT_EQ(reg(RegisterId::export_power).wire(), 13009);
  EXPECT_EQ(reg(RegisterId::device_type).wire(), 4999);
}

TEST(Words, ThirtyTwoBitValuesAreLowWordFirst) {
  // The protocol's example: words 2BF6 000B → 0x000B2BF6 = 732150.
  EXPECT_EQ(words::u32(0x2BF6, 0x000B), 732150U);
  // A real SH8.0RT-20 read over WiNet-S: meter 5601-5602 = [58222, 65535] = −7314 W.
  EXPECT_EQ(words::s32(58222, 65535), -7314);
  EXPECT_EQ(words::from_s32(-7314), (std::array<std::uint16_t, 2>{58222, 65535}));
  EXPECT_EQ(words::s16(0xFFFF), -1);
}

TEST(Words, SentinelsPerType) {
  const std::uint16_t ffff[] = {0xFFFF, 0xFFFF};
  const std::uint16_t s32_na[] = {0xFFFF, 0x7FFF};
  const std::uint16_t s16_na[] = {0x7FFF};
  EXPECT_TRUE(words::is_sentinel(RegisterType::u16, ffff));
  EXPECT_TRUE(words::is_sentinel(RegisterType::u32, ffff));
  EXPECT_FALSE(words::is_sentinel(RegisterType::s32, ffff));  // −1 W is a real value
  EXPECT_TRUE(words::is_sentinel(RegisterType::s32, s32_na));
  EXPECT_TRUE(words::is_sentinel(RegisterType::s16, s16_na));
  EXPECT_FALSE(words::is_sentinel(RegisterType::s16, ffff));
}

TEST(Words, Utf8IsHighByteFirstAndDropsPadding) {
  const std::uint16_t sn[] = {0x4132, 0x3335, 0x3034, 0x3135, 0x3737, 0x3000, 0, 0, 0, 0};
  EXPECT_EQ(words::utf8(sn), "A2350415770");
}

}  // namespace
}  // namespace sungrow
