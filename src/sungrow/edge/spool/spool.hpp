// The spool: a durable FIFO of samples in SQLite (WAL) between the poller and the uploader.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sungrow/core/result.hpp"
#include "sungrow/core/sample.hpp"

namespace sungrow::edge {

// How hard each commit waits for the disk. Production uses `full` (see spool.cpp for why); the
// weaker modes exist so the benchmark can show what durability costs, and so tests that are not
// about durability run fast.
enum class SpoolSync { off, normal, full };

struct SpoolOptions {
  // Cap on the database size, in pages, so deletes keep working when inserts hit the cap
  // (a 100 %-full file system blocks even DELETE). 0 = no cap.
  std::uint64_t max_pages = 0;
  // Samples kept in memory while the disk refuses writes, before the oldest in memory is lost.
  std::size_t max_pending_in_memory = 17'280;  // one day at 5 s
  SpoolSync synchronous = SpoolSync::full;
  // How long a statement waits for a lock held by another connection (e.g. `spool status`).
  int busy_timeout_ms = 5'000;
  // PRAGMA quick_check at open: reads the whole file once, so corruption is reported at start-up
  // with a clear message instead of surfacing later as failing writes.
  bool check_integrity_on_open = true;
};

// A sample as stored: its device's seq and its JSON body, ready to upload.
struct SpooledSample {
  SpooledSample() = default;
  // The device may be left out where only the body matters (the body names it too).
  SpooledSample(std::int64_t seq_of_device, Timestamp at, std::string body, std::string device = {})
      : seq(seq_of_device), ts(at), json(std::move(body)), device_id(std::move(device)) {}

  std::int64_t seq = 0;
  Timestamp ts{};
  std::string json;
  std::string device_id;
};

// A sample the server refused on its own, kept with the reason (never silently dropped).
struct DeadLetter {
  std::int64_t seq = 0;
  Timestamp ts{};
  std::string json;
  std::string reason;
  Timestamp dead_lettered_at{};
  std::string device_id;
};

// One device's share of the spool (SpoolStats::devices).
struct DeviceSpoolStats {
  std::string device_id;
  std::uint64_t depth = 0;
  std::uint64_t pending_in_memory = 0;
  std::optional<Timestamp> oldest_ts;  // oldest unsent (durable or in memory)
  std::optional<Timestamp> newest_ts;
  std::int64_t last_seq = 0;
  std::uint64_t dead_letters = 0;
};

struct SpoolStats {
  std::uint64_t depth = 0;              // rows waiting for upload (durable)
  std::uint64_t pending_in_memory = 0;  // samples not yet durable because writes fail
  std::optional<Timestamp> oldest_ts;   // oldest unsent sample (durable or in memory)
  std::optional<Timestamp> newest_ts;
  std::int64_t last_seq = 0;  // the highest of the devices' last seqs
  std::uint64_t dead_letters = 0;
  std::uint64_t lost_in_memory = 0;  // dropped past max_pending_in_memory (an ERROR each)
  std::optional<std::string> last_write_error;  // most recent failure, kept after recovery
  std::vector<DeviceSpoolStats> devices;        // every device ever spooled, by id
};

struct EnqueueOutcome {
  Sample stored;        // with seq assigned and ts made strictly increasing
  bool durable = true;  // false: kept in memory, the write is retried on the next enqueue/flush
};

// Thread-safe: the poll thread enqueues while the upload thread peeks and acks. Only one process
// may enqueue into a file at a time (seq is assigned in memory); others may open it to read stats.
// A moved-from Spool may only be destroyed or assigned to. Closing retries samples held in memory
// once; what still fails is logged as lost.
class Spool {
 public:
  static Result<Spool> open(const std::filesystem::path& path, SpoolOptions options = {});
  Spool(Spool&&) noexcept;
  Spool& operator=(Spool&&) noexcept;
  ~Spool();

  // Assigns the device's next seq (1, 2, … per device, across restarts) and bumps ts to last_ts + 1
  // ms if the clock went backwards (saying so: ts_source bumped, ts_adjust_ms grown by the bump),
  // then commits (synchronous=FULL) before returning. On a write failure the sample stays in
  // memory, `durable` is false, and later calls retry it first, in order.
  EnqueueOutcome enqueue(Sample sample);
  // Retries writing samples kept in memory. Ok when nothing is pending any more.
  Result<void> flush_pending();

  // The oldest `max` durable samples of every device, in the order they were spooled.
  Result<std::vector<SpooledSample>> peek(std::size_t max);
  // The oldest `max` durable samples of one device, in seq order.
  Result<std::vector<SpooledSample>> peek(std::string_view device_id, std::size_t max);
  // Deletes exactly these seqs of the device (seqs not present are ignored).
  Result<void> ack(std::string_view device_id, std::span<const std::int64_t> seqs);
  // Moves one sample to the dead-letter table with the server's reason (kept, counted, visible),
  // in one transaction. Fails, changing nothing, when the seq is not in the spool.
  Result<void> dead_letter(std::string_view device_id, std::int64_t seq, std::string_view reason);
  // The same for a spool of one device (the single-inverter edge); an error, changing nothing,
  // when the spool has seen several devices and a seq alone is ambiguous.
  Result<void> ack(std::span<const std::int64_t> seqs);
  Result<void> dead_letter(std::int64_t seq, std::string_view reason);

  // The oldest `limit` dead letters, in the order they were dead-lettered.
  Result<std::vector<DeadLetter>> dead_letters(std::size_t limit);

  // Small durable integers kept with the spool by name (the edge's clock reference), apart from
  // the samples. An unset name reads as nullopt; set_notes writes all in one transaction, nullopt
  // erasing a name.
  using Note = std::pair<std::string_view, std::optional<std::int64_t>>;
  Result<std::optional<std::int64_t>> note(std::string_view name);
  Result<void> set_notes(std::span<const Note> notes);

  // Changes the page cap at run time (0 = the SQLite maximum), e.g. after an operator freed space.
  Result<void> set_max_pages(std::uint64_t max_pages);
  // PRAGMA integrity_check: Ok, or the problems SQLite found.
  Result<void> verify_integrity();

  // Depth and counters; on a read failure the durable figures stay 0 and the error is logged.
  SpoolStats stats() const;

 private:
  struct Impl;
  explicit Spool(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sungrow::edge
