// normalize() cost per sample on a full image, next to the cost of copying and raw-decoding it.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <utility>

#include "sungrow/core/words.hpp"
#include "sungrow/edge/normalize/normalizer.hpp"

namespace {

using namespace sungrow;
using enum RegisterId;

// Every read group filled as one poll would (sunny afternoon, exporting, battery charging).
RegisterImage full_image() {
  RegisterImage image;
  for (const auto& g : kReadGroups)
    for (std::uint16_t i = 0; i < g.count; ++i)
      image.set(g.table, static_cast<std::uint16_t>(g.first_wire() + i), 0);
  const std::pair<RegisterId, std::int64_t> values[] = {
      {device_type, 0x0D18},
      {inverter_temperature, 412},
      {mppt1_voltage, 3521},
      {mppt1_current, 52},
      {mppt2_voltage, 3380},
      {mppt2_current, 41},
      {total_dc_power, 3216},
      {phase_a_voltage, 2345},
      {grid_frequency_legacy, 500},
      {battery_power, -1200},
      {grid_frequency, 4998},
      {meter_power, -1466},
      {battery_current, -45},
      {power_flow, 0x13},
      {pv_energy_today, 183},
      {pv_energy_total, 98765},
      {load_power, 550},
      {export_power, 1466},
      {battery_voltage, 2652},
      {battery_soc, 655},
      {battery_soh, 990},
      {battery_temperature, 231},
      {battery_discharge_today, 21},
      {battery_discharge_total, 4321},
      {total_active_power, 2016},
      {grid_import_today, 32},
      {grid_import_total, 12345},
      {battery_charge_today, 45},
      {battery_charge_total, 5432},
      {grid_export_today, 99},
      {grid_export_total, 23456},
  };
  for (const auto& [id, raw] : values) {
    const auto& def = reg(id);
    const auto w = words::from_u32(static_cast<std::uint32_t>(raw));
    image.set(def.table, def.wire(), w[0]);
    if (def.words == 2) image.set(def.table, static_cast<std::uint16_t>(def.wire() + 1), w[1]);
  }
  return image;
}

const Timestamp kTs{std::chrono::milliseconds{1'780'000'000'123}};

void BM_Normalize(benchmark::State& state) {
  const auto image = full_image();
  for (auto _ : state) {
    auto n = edge::normalize(image, kTs, "sh4-bench");
    benchmark::DoNotOptimize(n);
  }
}
BENCHMARK(BM_Normalize);

// Baseline 1: the hash lookups alone — read and decode every numeric register, no Sample.
void BM_DecodeRawWords(benchmark::State& state) {
  const auto image = full_image();
  for (auto _ : state) {
    std::int64_t sum = 0;
    std::array<std::uint16_t, 2> buf{};
    for (const auto& def : kRegisters) {
      if (def.words > buf.size() || !image.read(def, buf)) continue;
      sum += words::raw_value(def.type, buf);
    }
    benchmark::DoNotOptimize(sum);
  }
}
BENCHMARK(BM_DecodeRawWords);

// Baseline 2: what the poller pays anyway to hand over one image by value.
void BM_CopyImage(benchmark::State& state) {
  const auto image = full_image();
  for (auto _ : state) {
    auto copy = image;
    benchmark::DoNotOptimize(copy);
  }
}
BENCHMARK(BM_CopyImage);

}  // namespace

BENCHMARK_MAIN();
