// The nameplate: the whole serial (11 characters and more, never cut to 10) and the model name.
#include "sungrow/edge/normalize/nameplate.hpp"

#include <gtest/gtest.h>

#include <string_view>
#include <vector>

#include "register_image_builder.hpp"

namespace sungrow::edge {
namespace {

// The serial's words as the inverter sends them: high byte first, NUL padded to 10 words.
RegisterImage with_serial(std::string_view serial, RegisterImage image = {}) {
  std::vector<std::uint16_t> words(10, 0);
  for (std::size_t i = 0; i < serial.size() && i < 20; ++i) {
    const auto byte = static_cast<std::uint8_t>(serial[i]);
    words[i / 2] = static_cast<std::uint16_t>(words[i / 2] | (i % 2 == 0 ? byte << 8U : byte));
  }
  const auto& def = reg(RegisterId::serial_number);
  image.set_block(def.table, def.wire(), words);
  return image;
}

TEST(Nameplate, KeepsEveryCharacterOfAnElevenCharacterSerial) {
  const auto a = read_nameplate(with_serial("A2350415770", test::full_image()));
  const auto b = read_nameplate(with_serial("A2350415771", test::full_image()));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->serial, "A2350415770");
  EXPECT_EQ(b->serial, "A2350415771");
  EXPECT_NE(a->serial, b->serial);
  EXPECT_EQ(read_nameplate(with_serial("ABCDEFGHIJKLMNOPQRST"))->serial, "ABCDEFGHIJKLMNOPQRST");
}

TEST(Nameplate, ModelFromTheDeviceTypeCode) {
  const auto plate = read_nameplate(with_serial("A2350415770", test::full_image()));
  ASSERT_TRUE(plate);
  EXPECT_EQ(plate->device_type, 0x0D18);
  EXPECT_EQ(plate->model(), "SH4.0RS");
  EXPECT_EQ(model_name(0x0D1B), "SH10RS");
  EXPECT_FALSE(model_name(0x1234));
  EXPECT_EQ((Nameplate{"X1", 0x1234}).model(), "Sungrow 0x1234");
  EXPECT_EQ((Nameplate{"X1", std::nullopt}).model(), "Sungrow inverter");
}

TEST(Nameplate, TrailingSpacesAreTrimmed) {
  EXPECT_EQ(read_nameplate(with_serial("A235041577  "))->serial, "A235041577");
}

TEST(Nameplate, NoneUntilTheSerialIsReadAndVisible) {
  EXPECT_FALSE(read_nameplate(test::full_image()));  // device type without a serial
  EXPECT_FALSE(read_nameplate(with_serial("")));
  EXPECT_FALSE(read_nameplate(with_serial("  ")));
  EXPECT_FALSE(
      read_nameplate(with_serial("A23\x01"
                                 "5")));
}

TEST(Nameplate, WithoutTheTypeRegisterTheModelIsGeneric) {
  const auto plate = read_nameplate(with_serial("A2350415770"));
  ASSERT_TRUE(plate);
  EXPECT_FALSE(plate->device_type);
}

}  // namespace
}  // namespace sungrow::edge
