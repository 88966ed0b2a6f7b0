// Spool throughput on the real disk: what one durable commit per sample costs, and draining 1,000.
#include <benchmark/benchmark.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "sungrow/edge/spool/spool.hpp"

namespace sungrow::edge {
namespace {

std::filesystem::path fresh_spool_path(const std::string& name) {
  const auto path = std::filesystem::path(SPOOL_BENCH_DIR) / (name + ".db");
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
  return path;
}

Spool open_or_throw(const std::filesystem::path& path, SpoolSync mode) {
  auto spool = Spool::open(path, SpoolOptions{.synchronous = mode});
  if (!spool) throw std::runtime_error(spool.error().message);
  return std::move(*spool);
}

// A realistic sample: every measurement set, so the body is as long as in production.
Sample full_sample(std::int64_t i) {
  Sample s;
  s.device_id = "sh4.0rs-bench";
  s.ts = Timestamp{std::chrono::milliseconds{1'795'694'400'000 + i * 5000}};
  for (std::size_t f = 0; f < kMeasurementFields.size(); ++f) {
    s.*kMeasurementFields[f].member = static_cast<double>(f) * 12.25 + static_cast<double>(i % 100);
  }
  s.grid_power_source = GridPowerSource::meter;
  s.running_state = 0x0002;
  s.power_flow = PowerFlow::from_bits(0x0B);
  return s;
}

const char* mode_name(SpoolSync mode) {
  switch (mode) {
    case SpoolSync::off:
      return "OFF (baseline, not durable)";
    case SpoolSync::normal:
      return "NORMAL";
    case SpoolSync::full:
      return "FULL (production)";
  }
  return "?";
}

void BM_EnqueueOneTransactionPerSample(benchmark::State& state) {
  const auto mode = static_cast<SpoolSync>(state.range(0));
  auto spool = open_or_throw(fresh_spool_path("enqueue"), mode);
  std::int64_t i = 0;
  for (auto _ : state) {
    const auto out = spool.enqueue(full_sample(i++));
    if (!out.durable) state.SkipWithError("enqueue not durable");
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(mode_name(mode));
}
BENCHMARK(BM_EnqueueOneTransactionPerSample)
    ->Arg(static_cast<int>(SpoolSync::full))
    ->Arg(static_cast<int>(SpoolSync::normal))
    ->Arg(static_cast<int>(SpoolSync::off))
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();  // the cost is waiting for the disk, which CPU time does not see

// The uploader's drain step: read the 1,000 oldest, then delete them in one transaction (FULL).
void BM_PeekAndAck1000(benchmark::State& state) {
  constexpr std::int64_t kBatch = 1000;
  const auto iterations = static_cast<std::int64_t>(state.max_iterations);
  const auto path = fresh_spool_path("drain");
  {
    // Filled without fsync: only the drain is measured, and it reopens with FULL.
    auto filler = open_or_throw(path, SpoolSync::off);
    for (std::int64_t i = 0; i < iterations * kBatch; ++i) filler.enqueue(full_sample(i));
  }
  auto spool = open_or_throw(path, SpoolSync::full);
  std::vector<std::int64_t> seqs;
  for (auto _ : state) {
    auto rows = spool.peek(kBatch);
    if (!rows || rows->size() != static_cast<std::size_t>(kBatch)) {
      state.SkipWithError("peek did not return a full batch");
      break;
    }
    seqs.clear();
    for (const auto& row : *rows) seqs.push_back(row.seq);
    if (!spool.ack(seqs)) state.SkipWithError("ack failed");
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
}
BENCHMARK(BM_PeekAndAck1000)->Iterations(60)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace sungrow::edge

BENCHMARK_MAIN();
