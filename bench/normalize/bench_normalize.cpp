// normalize() cost per sample on a full image, next to the cost of copying and raw-decoding it.
#include <benchmark/benchmark.h>

#include <array>
#include <cstdint>
#include <utility>

#include "register_image_builder.hpp"
#include "sungrow/core/words.hpp"
#include "sungrow/edge/normalize/normalizer.hpp"

namespace {

using namespace sungrow;

// Every read group filled as one poll would (zeros where the register map has no value), under
// the sunny afternoon of register_image_builder.hpp (exporting, battery charging).
RegisterImage full_image() {
  RegisterImage image;
  for (const auto& g : kReadGroups)
    for (std::uint16_t i = 0; i < g.count; ++i)
      image.set(g.table, static_cast<std::uint16_t>(g.first_wire() + i), 0);
  return test::full_image(std::move(image));
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
