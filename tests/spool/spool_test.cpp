// Unit tests of the spool on real SQLite files: FIFO semantics, seq/ts rules, dead letters, disk
// full.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <array>
#include <fstream>
#include <vector>

#include "spool_test_support.hpp"

namespace sungrow::edge {
namespace {

using test::at_ms;
using test::decode_body;
using test::kT0;
using test::make_sample;
using test::open_or_die;

std::vector<std::int64_t> seqs_of(const std::vector<SpooledSample>& rows) {
  std::vector<std::int64_t> out;
  for (const auto& r : rows) out.push_back(r.seq);
  return out;
}

std::vector<SpooledSample> peek_all(Spool& spool) {
  return spool.peek(1'000'000).value();
}

class SpoolTest : public testing::Test {
 protected:
  test::TempDir dir;
  std::filesystem::path path = dir / "spool.db";
};

TEST_F(SpoolTest, EnqueueAssignsSeqAndStoresTheJsonBodyWithIt) {
  auto spool = open_or_die(path);
  const auto out = spool.enqueue(make_sample("inv-1", kT0, 2000));
  EXPECT_TRUE(out.durable);
  EXPECT_EQ(out.stored.seq, 1);
  EXPECT_EQ(out.stored.ts, at_ms(kT0));

  const auto rows = peek_all(spool);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].seq, 1);
  EXPECT_EQ(rows[0].ts, at_ms(kT0));
  EXPECT_EQ(decode_body(rows[0].json), out.stored);
  EXPECT_EQ(rows[0].json, to_json_text(out.stored));
}

TEST_F(SpoolTest, PeekReturnsOldestFirstAndHonoursItsLimit) {
  auto spool = open_or_die(path);
  for (int i = 0; i < 10; ++i) spool.enqueue(make_sample("inv-1", kT0 + i * 5000));
  EXPECT_EQ(seqs_of(spool.peek(3).value()), (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(spool.peek(0).value().size(), 0u);
  EXPECT_EQ(peek_all(spool).size(), 10u);
  // Peek does not consume.
  EXPECT_EQ(seqs_of(spool.peek(2).value()), (std::vector<std::int64_t>{1, 2}));
}

TEST_F(SpoolTest, AckDeletesExactlyTheGivenSeqs) {
  auto spool = open_or_die(path);
  for (int i = 0; i < 6; ++i) spool.enqueue(make_sample("inv-1", kT0 + i * 5000));
  const std::vector<std::int64_t> acked{2, 3, 5};
  ASSERT_TRUE(spool.ack(acked));
  EXPECT_EQ(seqs_of(peek_all(spool)), (std::vector<std::int64_t>{1, 4, 6}));
  EXPECT_EQ(spool.stats().depth, 3u);
}

TEST_F(SpoolTest, AckOfUnknownOrRepeatedSeqsIsHarmless) {
  auto spool = open_or_die(path);
  for (int i = 0; i < 3; ++i) spool.enqueue(make_sample("inv-1", kT0 + i * 5000));
  const std::vector<std::int64_t> unknown{0, -7, 99, 2, 2};
  ASSERT_TRUE(spool.ack(unknown));
  ASSERT_TRUE(spool.ack(unknown));  // an ack repeated after a lost reply
  ASSERT_TRUE(spool.ack(std::span<const std::int64_t>{}));
  EXPECT_EQ(seqs_of(peek_all(spool)), (std::vector<std::int64_t>{1, 3}));
}

TEST_F(SpoolTest, SeqKeepsIncreasingAcrossCloseAndReopen) {
  {
    auto spool = open_or_die(path);
    for (int i = 0; i < 3; ++i) spool.enqueue(make_sample("inv-1", kT0 + i * 5000));
  }
  auto spool = open_or_die(path);
  EXPECT_EQ(spool.stats().last_seq, 3);
  EXPECT_EQ(spool.enqueue(make_sample("inv-1", kT0 + 60'000)).stored.seq, 4);
  EXPECT_EQ(seqs_of(peek_all(spool)), (std::vector<std::int64_t>{1, 2, 3, 4}));
}

TEST_F(SpoolTest, SeqNeverGoesBackEvenAfterEverythingWasAcked) {
  {
    auto spool = open_or_die(path);
    for (int i = 0; i < 5; ++i) spool.enqueue(make_sample("inv-1", kT0 + i * 5000));
    const auto all = seqs_of(peek_all(spool));
    ASSERT_TRUE(spool.ack(all));
    EXPECT_EQ(spool.stats().depth, 0u);
    EXPECT_EQ(spool.enqueue(make_sample("inv-1", kT0 + 30'000)).stored.seq, 6);
    const auto six = seqs_of(peek_all(spool));
    ASSERT_TRUE(spool.ack(six));
  }
  auto spool = open_or_die(path);
  EXPECT_EQ(spool.stats().depth, 0u);
  EXPECT_EQ(spool.enqueue(make_sample("inv-1", kT0 + 35'000)).stored.seq, 7);
}

TEST_F(SpoolTest, TsIsBumpedWhenTheClockGoesBackOrRepeats) {
  auto spool = open_or_die(path);
  EXPECT_EQ(spool.enqueue(make_sample("inv-1", kT0)).stored.ts, at_ms(kT0));
  EXPECT_EQ(spool.enqueue(make_sample("inv-1", kT0)).stored.ts, at_ms(kT0 + 1));
  EXPECT_EQ(spool.enqueue(make_sample("inv-1", kT0 - 3'600'000)).stored.ts, at_ms(kT0 + 2));
  // Once the clock is past the last ts again, samples keep their own time.
  EXPECT_EQ(spool.enqueue(make_sample("inv-1", kT0 + 5000)).stored.ts, at_ms(kT0 + 5000));

  const auto rows = peek_all(spool);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[2].ts, at_ms(kT0 + 2));
  EXPECT_EQ(decode_body(rows[2].json).ts, at_ms(kT0 + 2));  // the body carries the bumped ts
}

// A bumped ts is no clock's reading, and the sample says so: ts_source bumped, and ts_adjust_ms
// grown by the bump (on top of a correction the edge made), so ts − ts_adjust_ms is still what
// the edge's clock said.
TEST_F(SpoolTest, ABumpedSampleSaysSoAndKeepsTheClockReadingRecoverable) {
  auto spool = open_or_die(path);
  auto first = make_sample("inv-1", kT0);
  first.ts_source = TsSource::ntp;
  EXPECT_EQ(spool.enqueue(first).stored.ts_source, TsSource::ntp);

  auto behind = make_sample("inv-1", kT0 - 3'600'000);
  behind.ts_source = TsSource::unsynced;
  const auto bumped = spool.enqueue(behind).stored;
  EXPECT_EQ(bumped.ts, at_ms(kT0 + 1));
  EXPECT_EQ(bumped.ts_source, TsSource::bumped);
  EXPECT_EQ(bumped.ts_adjust_ms, 3'600'001);
  EXPECT_EQ(bumped.ts - std::chrono::milliseconds{*bumped.ts_adjust_ms}, behind.ts);

  auto corrected = make_sample("inv-1", kT0 - 500);  // an inverter-corrected ts, still behind
  corrected.ts_source = TsSource::inverter;
  corrected.ts_adjust_ms = 20'000;
  const auto twice = spool.enqueue(corrected).stored;
  EXPECT_EQ(twice.ts, at_ms(kT0 + 2));
  EXPECT_EQ(twice.ts_source, TsSource::bumped);
  EXPECT_EQ(twice.ts_adjust_ms, 20'000 + 502);

  auto later = make_sample("inv-1", kT0 + 5'000);
  later.ts_source = TsSource::ntp;
  const auto own = spool.enqueue(later).stored;
  EXPECT_EQ(own.ts_source, TsSource::ntp);
  EXPECT_FALSE(own.ts_adjust_ms);

  const auto rows = peek_all(spool);
  ASSERT_EQ(rows.size(), 4u);
  const auto body = decode_body(rows[1].json);  // what the server receives
  EXPECT_EQ(body.ts_source, TsSource::bumped);
  EXPECT_EQ(body.ts_adjust_ms, 3'600'001);
}

// Notes: small integers kept with the spool across restarts, written together, apart from seq.
TEST_F(SpoolTest, NotesSurviveReopenAreWrittenTogetherAndNeverTouchSeq) {
  {
    auto spool = open_or_die(path);
    EXPECT_EQ(spool.note("clock.a").value(), std::nullopt);
    const std::array<Spool::Note, 2> notes{Spool::Note{"clock.a", -7},
                                           Spool::Note{"clock.b", 1'800'000'000'000}};
    ASSERT_TRUE(spool.set_notes(notes));
    const std::array<Spool::Note, 1> seq_like{Spool::Note{"last_seq", 99}};
    ASSERT_TRUE(spool.set_notes(seq_like));
    spool.enqueue(make_sample("inv-1", kT0));
  }
  auto spool = open_or_die(path);
  EXPECT_EQ(spool.note("clock.a").value(), -7);
  EXPECT_EQ(spool.note("clock.b").value(), 1'800'000'000'000);
  EXPECT_EQ(spool.enqueue(make_sample("inv-1", kT0 + 5'000)).stored.seq, 2);
  const std::array<Spool::Note, 1> erase{Spool::Note{"clock.a", std::nullopt}};
  ASSERT_TRUE(spool.set_notes(erase));
  EXPECT_EQ(spool.note("clock.a").value(), std::nullopt);
  EXPECT_EQ(spool.note("clock.b").value(), 1'800'000'000'000);
}

TEST_F(SpoolTest, TsBumpHoldsAcrossReopenAfterEverythingWasAcked) {
  {
    auto spool = open_or_die(path);
    spool.enqueue(make_sample("inv-1", kT0));
    const auto all = seqs_of(peek_all(spool));
    ASSERT_TRUE(spool.ack(all));
  }
  auto spool = open_or_die(path);
  const auto out = spool.enqueue(make_sample("inv-1", kT0 - 60'000));
  EXPECT_EQ(out.stored.ts, at_ms(kT0 + 1));
  EXPECT_EQ(decode_body(peek_all(spool).at(0).json).ts, at_ms(kT0 + 1));
}

TEST_F(SpoolTest, DevicesHaveTheirOwnTsAndTheirOwnSeq) {
  auto spool = open_or_die(path);
  const auto a1 = spool.enqueue(make_sample("inv-a", kT0));
  const auto b1 = spool.enqueue(make_sample("inv-b", kT0 - 10'000));  // behind, but its own clock
  const auto a2 = spool.enqueue(make_sample("inv-a", kT0 - 1));
  const auto b2 = spool.enqueue(make_sample("inv-b", kT0 - 5'000));
  EXPECT_EQ(b1.stored.ts, at_ms(kT0 - 10'000));
  EXPECT_EQ(a2.stored.ts, at_ms(kT0 + 1));
  EXPECT_EQ(b2.stored.ts, at_ms(kT0 - 5'000));
  // DESIGN §3: seq 1..N per device, so the server sees no gaps in any device's sequence.
  EXPECT_EQ((std::vector<std::int64_t>{a1.stored.seq, b1.stored.seq, a2.stored.seq, b2.stored.seq}),
            (std::vector<std::int64_t>{1, 1, 2, 2}));
  const auto rows = peek_all(spool);  // every device, in the order spooled
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[1].device_id, "inv-b");
  EXPECT_EQ(decode_body(rows[1].json).device_id, "inv-b");
  EXPECT_EQ(decode_body(rows[1].json).seq, 1);
}

TEST_F(SpoolTest, PerDevicePeekAckAndDeadLetterTouchOnlyThatDevice) {
  auto spool = open_or_die(path);
  for (int i = 0; i < 3; ++i) {
    spool.enqueue(make_sample("inv-a", kT0 + i * 5000));
    spool.enqueue(make_sample("inv-b", kT0 + i * 5000));
  }
  EXPECT_EQ(seqs_of(spool.peek("inv-b", 2).value()), (std::vector<std::int64_t>{1, 2}));
  const std::vector<std::int64_t> first_two{1, 2};
  ASSERT_TRUE(spool.ack("inv-a", first_two));
  EXPECT_EQ(seqs_of(spool.peek("inv-a", 10).value()), (std::vector<std::int64_t>{3}));
  EXPECT_EQ(seqs_of(spool.peek("inv-b", 10).value()), (std::vector<std::int64_t>{1, 2, 3}));
  ASSERT_TRUE(spool.dead_letter("inv-b", 2, "422: bad"));
  EXPECT_EQ(seqs_of(spool.peek("inv-b", 10).value()), (std::vector<std::int64_t>{1, 3}));
  EXPECT_FALSE(spool.dead_letter("inv-a", 1, "already acked"));
  const auto letters = spool.dead_letters(10).value();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].device_id, "inv-b");
  EXPECT_EQ(letters[0].seq, 2);
  // A seq alone names no row once several devices share the spool.
  const std::vector<std::int64_t> three{3};
  EXPECT_FALSE(spool.ack(three));
  EXPECT_FALSE(spool.dead_letter(3, "ambiguous"));
  EXPECT_EQ(spool.stats().depth, 3u);
}

TEST_F(SpoolTest, StatsPerDevice) {
  auto spool = open_or_die(path);
  for (int i = 0; i < 4; ++i) spool.enqueue(make_sample("inv-a", kT0 + i * 5000));
  spool.enqueue(make_sample("inv-b", kT0 - 60'000));
  ASSERT_TRUE(spool.dead_letter("inv-a", 4, "422"));
  const std::vector<std::int64_t> one{1};
  ASSERT_TRUE(spool.ack("inv-a", one));
  const auto s = spool.stats();
  ASSERT_EQ(s.devices.size(), 2u);
  const auto& a = s.devices[0];
  const auto& b = s.devices[1];
  EXPECT_EQ(a.device_id, "inv-a");
  EXPECT_EQ(a.depth, 2u);
  EXPECT_EQ(a.oldest_ts, at_ms(kT0 + 5000));
  EXPECT_EQ(a.newest_ts, at_ms(kT0 + 10'000));
  EXPECT_EQ(a.last_seq, 4);
  EXPECT_EQ(a.dead_letters, 1u);
  EXPECT_EQ(b.device_id, "inv-b");
  EXPECT_EQ(b.depth, 1u);
  EXPECT_EQ(b.oldest_ts, at_ms(kT0 - 60'000));
  EXPECT_EQ(b.last_seq, 1);
  EXPECT_EQ(s.depth, 3u);
  EXPECT_EQ(s.dead_letters, 1u);
  EXPECT_EQ(s.oldest_ts, at_ms(kT0 - 60'000));  // the oldest of any device
  EXPECT_EQ(s.last_seq, 4);
  // The counts kept in memory agree with a fresh count from the file.
  spool = open_or_die(path);
  const auto again = spool.stats();
  EXPECT_EQ(again.devices[0].depth, 2u);
  EXPECT_EQ(again.devices[0].dead_letters, 1u);
  EXPECT_EQ(again.devices[1].depth, 1u);
}

// A spool written by the previous release (schema 1: one seq across devices) opens, keeps every
// row and dead letter, and each device goes on above the old global seq.
TEST_F(SpoolTest, SchemaOneSpoolIsMigratedAndKeepsItsData) {
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    const char* v1 =
        "PRAGMA journal_mode = WAL;"
        "CREATE TABLE samples(seq INTEGER PRIMARY KEY, device_id TEXT NOT NULL,"
        " ts_ms INTEGER NOT NULL, body TEXT NOT NULL) STRICT;"
        "CREATE TABLE dead_letter(seq INTEGER PRIMARY KEY, device_id TEXT NOT NULL,"
        " ts_ms INTEGER NOT NULL, body TEXT NOT NULL, reason TEXT NOT NULL,"
        " at_ms INTEGER NOT NULL) STRICT;"
        "CREATE TABLE meta(key TEXT PRIMARY KEY, value INTEGER NOT NULL) STRICT;"
        "INSERT INTO meta(key, value) VALUES('last_seq', 7);"
        "INSERT INTO meta(key, value) VALUES('note:clock.inverter_offset_ms', 3600000);"
        "CREATE TABLE device_clock(device_id TEXT PRIMARY KEY, last_ts_ms INTEGER NOT NULL) STRICT;"
        "INSERT INTO device_clock VALUES('inv-1', 1795694430000);"
        "INSERT INTO samples VALUES(5, 'inv-1', 1795694420000, '{\"seq\":5}');"
        "INSERT INTO samples VALUES(6, 'inv-1', 1795694425000, '{\"seq\":6}');"
        "INSERT INTO samples VALUES(7, 'inv-1', 1795694430000, '{\"seq\":7}');"
        "INSERT INTO dead_letter VALUES(3, 'inv-1', 1795694410000, '{\"seq\":3}', '422', 1);"
        "PRAGMA user_version = 1;";
    char* error = nullptr;
    ASSERT_EQ(sqlite3_exec(raw, v1, nullptr, nullptr, &error), SQLITE_OK) << error;
    sqlite3_close(raw);
  }
  auto spool = open_or_die(path);
  const auto rows = peek_all(spool);
  EXPECT_EQ(seqs_of(rows), (std::vector<std::int64_t>{5, 6, 7}));
  EXPECT_EQ(rows.at(0).json, "{\"seq\":5}");
  EXPECT_EQ(rows.at(0).device_id, "inv-1");
  const auto letters = spool.dead_letters(10).value();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters[0].seq, 3);
  EXPECT_EQ(letters[0].device_id, "inv-1");
  EXPECT_EQ(spool.note("clock.inverter_offset_ms").value(), 3'600'000);
  auto s = spool.stats();
  EXPECT_EQ(s.depth, 3u);
  EXPECT_EQ(s.dead_letters, 1u);
  EXPECT_EQ(s.last_seq, 7);
  // The same device continues at 8, ts still strictly after its last one; a new device starts at 1.
  const auto next = spool.enqueue(make_sample("inv-1", kT0));
  EXPECT_EQ(next.stored.seq, 8);
  EXPECT_EQ(next.stored.ts, at_ms(1795694430001));
  EXPECT_EQ(spool.enqueue(make_sample("inv-2", kT0)).stored.seq, 1);
  const std::vector<std::int64_t> five{5};
  ASSERT_TRUE(spool.ack("inv-1", five));
  spool = open_or_die(path);  // reopened: schema 2 now, nothing migrated twice
  EXPECT_EQ(seqs_of(spool.peek("inv-1", 10).value()), (std::vector<std::int64_t>{6, 7, 8}));
  EXPECT_EQ(spool.enqueue(make_sample("inv-1", kT0 + 5000)).stored.seq, 9);
}

TEST_F(SpoolTest, DeadLetterMovesOneRowWithItsReason) {
  auto spool = open_or_die(path);
  for (int i = 0; i < 3; ++i) spool.enqueue(make_sample("inv-1", kT0 + i * 5000));
  const auto before = peek_all(spool);

  ASSERT_TRUE(spool.dead_letter(2, "422: pv_power_w out of range"));
  EXPECT_EQ(seqs_of(peek_all(spool)), (std::vector<std::int64_t>{1, 3}));
  const auto letters = spool.dead_letters(10).value();
  ASSERT_EQ(letters.size(), 1u);
  EXPECT_EQ(letters.at(0).seq, 2);
  EXPECT_EQ(letters.at(0).ts, before[1].ts);
  EXPECT_EQ(letters.at(0).json, before[1].json);
  EXPECT_EQ(letters.at(0).reason, "422: pv_power_w out of range");
  const auto stats = spool.stats();
  EXPECT_EQ(stats.dead_letters, 1u);
  EXPECT_EQ(stats.depth, 2u);
}

TEST_F(SpoolTest, DeadLetterOfAnUnknownSeqFailsAndChangesNothing) {
  auto spool = open_or_die(path);
  spool.enqueue(make_sample("inv-1", kT0));
  const auto result = spool.dead_letter(42, "no such sample");
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("42"), std::string::npos);
  EXPECT_EQ(spool.stats().dead_letters, 0u);
  EXPECT_EQ(peek_all(spool).size(), 1u);
  // The transaction was rolled back: the spool still takes writes.
  EXPECT_TRUE(spool.enqueue(make_sample("inv-1", kT0 + 5000)).durable);
}

TEST_F(SpoolTest, StatsDescribeTheQueue) {
  auto spool = open_or_die(path);
  const auto empty = spool.stats();
  EXPECT_EQ(empty.depth, 0u);
  EXPECT_FALSE(empty.oldest_ts);
  EXPECT_FALSE(empty.last_write_error);
  for (int i = 0; i < 4; ++i) spool.enqueue(make_sample("inv-1", kT0 + i * 5000));
  const auto s = spool.stats();
  EXPECT_EQ(s.depth, 4u);
  EXPECT_EQ(s.pending_in_memory, 0u);
  EXPECT_EQ(s.oldest_ts, at_ms(kT0));
  EXPECT_EQ(s.newest_ts, at_ms(kT0 + 15'000));
  EXPECT_EQ(s.last_seq, 4);
}

// Enqueues until the page cap refuses a write; returns how many were durable before that.
int fill_until_refused(Spool& spool, std::int64_t& ts, int limit = 500) {
  for (int i = 0; i < limit; ++i) {
    ts += 5000;
    if (!spool.enqueue(make_sample("inv-1", ts)).durable) return i;
  }
  ADD_FAILURE() << "the page cap never refused a write";
  return limit;
}

TEST_F(SpoolTest, DiskFullKeepsSamplesInMemoryAndFlushesThemInOrderLater) {
  auto spool = open_or_die(path, SpoolOptions{.max_pages = 12});
  std::int64_t ts = kT0;
  const int durable = fill_until_refused(spool, ts);
  ASSERT_GT(durable, 0);

  // Two more while full: all three are held, in order, with their seqs already assigned.
  const auto second = spool.enqueue(make_sample("inv-1", ts += 5000));
  const auto third = spool.enqueue(make_sample("inv-1", ts += 5000));
  EXPECT_FALSE(second.durable);
  EXPECT_FALSE(third.durable);
  auto s = spool.stats();
  EXPECT_EQ(s.pending_in_memory, 3u);
  EXPECT_EQ(s.depth, static_cast<std::uint64_t>(durable));
  EXPECT_EQ(s.last_seq, durable + 3);
  EXPECT_EQ(s.newest_ts, third.stored.ts);  // in-memory samples count as unsent
  ASSERT_TRUE(s.last_write_error);
  EXPECT_NE(s.last_write_error->find("full"), std::string::npos) << *s.last_write_error;
  EXPECT_FALSE(spool.flush_pending());

  // Only durable rows are offered for upload, and acking still works while inserts fail.
  EXPECT_EQ(peek_all(spool).size(), static_cast<std::size_t>(durable));
  const std::vector<std::int64_t> first_two{1, 2};
  ASSERT_TRUE(spool.ack(first_two));

  ASSERT_TRUE(spool.set_max_pages(0));
  ASSERT_TRUE(spool.flush_pending());
  s = spool.stats();
  EXPECT_EQ(s.pending_in_memory, 0u);
  EXPECT_EQ(s.lost_in_memory, 0u);
  const auto rows = peek_all(spool);
  ASSERT_EQ(rows.size(), static_cast<std::size_t>(durable + 3 - 2));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].seq, static_cast<std::int64_t>(i) + 3);
    EXPECT_EQ(decode_body(rows[i].json).seq, rows[i].seq);
  }
  EXPECT_EQ(rows.back().ts, third.stored.ts);
}

TEST_F(SpoolTest, DiskFullDrainsItselfOnceAcksFreeSpace) {
  auto spool = open_or_die(path, SpoolOptions{.max_pages = 12});
  std::int64_t ts = kT0;
  const int durable = fill_until_refused(spool, ts);
  const auto all = seqs_of(peek_all(spool));
  ASSERT_TRUE(spool.ack(all));  // the uploader delivered everything durable

  // The next poll writes the held sample first, then itself.
  const auto next = spool.enqueue(make_sample("inv-1", ts += 5000));
  EXPECT_TRUE(next.durable);
  EXPECT_EQ(seqs_of(peek_all(spool)), (std::vector<std::int64_t>{durable + 1, durable + 2}));
  EXPECT_EQ(spool.stats().pending_in_memory, 0u);
}

TEST_F(SpoolTest, MemoryCapDropsTheOldestHeldSampleAndCountsIt) {
  auto spool = open_or_die(path, SpoolOptions{.max_pages = 12, .max_pending_in_memory = 2});
  std::int64_t ts = kT0;
  const int durable = fill_until_refused(spool, ts);
  for (int i = 0; i < 3; ++i) spool.enqueue(make_sample("inv-1", ts += 5000));
  auto s = spool.stats();
  EXPECT_EQ(s.pending_in_memory, 2u);
  EXPECT_EQ(s.lost_in_memory, 2u);

  ASSERT_TRUE(spool.set_max_pages(0));
  ASSERT_TRUE(spool.flush_pending());
  const auto rows = peek_all(spool);
  // The two newest survive; the gap in seq shows the loss to the server too.
  EXPECT_EQ(rows.at(rows.size() - 2).seq, durable + 3);
  EXPECT_EQ(rows.back().seq, durable + 4);
  EXPECT_EQ(rows.at(rows.size() - 3).seq, durable);
}

TEST_F(SpoolTest, NothingHeldInMemoryIsDeletedByAck) {
  auto spool = open_or_die(path, SpoolOptions{.max_pages = 12});
  std::int64_t ts = kT0;
  const int durable = fill_until_refused(spool, ts);
  const std::vector<std::int64_t> held{durable + 1};
  ASSERT_TRUE(spool.ack(held));  // not durable yet, so not peeked: such an ack must not drop it
  ASSERT_TRUE(spool.set_max_pages(0));
  ASSERT_TRUE(spool.flush_pending());
  EXPECT_EQ(seqs_of(peek_all(spool)).back(), durable + 1);
}

TEST_F(SpoolTest, OpenFailsClearlyWhenTheDirectoryIsMissing) {
  const auto result = Spool::open(dir / "missing" / "spool.db");
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("does not exist"), std::string::npos)
      << result.error().message;
}

TEST_F(SpoolTest, OpenRejectsAFileThatIsNotSqlite) {
  std::ofstream(path) << "this is a config file, not a database\n" << std::string(8192, 'x');
  const auto result = Spool::open(path);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("not a SQLite database"), std::string::npos)
      << result.error().message;
}

TEST_F(SpoolTest, OpenRejectsACorruptedSpool) {
  {
    auto spool = open_or_die(path);
    for (int i = 0; i < 200; ++i) spool.enqueue(make_sample("inv-1", kT0 + i * 5000));
  }  // the last close checkpoints the WAL into the main file
  ASSERT_FALSE(std::filesystem::exists(path.string() + "-wal"));
  {
    // Scribble over pages 2.. (page 1, the header, stays valid so SQLite opens the file).
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096);
    const std::string garbage(4096 * 8, '\x5a');
    f.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  const auto result = Spool::open(path);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("corrupt"), std::string::npos) << result.error().message;
}

TEST_F(SpoolTest, OpenRejectsAnotherApplicationsDatabase) {
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "CREATE TABLE accounts(id INTEGER)", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  const auto result = Spool::open(path);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("not a spool"), std::string::npos)
      << result.error().message;
}

TEST_F(SpoolTest, OpenRejectsANewerSchemaVersion) {
  { open_or_die(path); }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  const auto result = Spool::open(path);
  ASSERT_FALSE(result);
  EXPECT_NE(result.error().message.find("newer"), std::string::npos) << result.error().message;
}

TEST_F(SpoolTest, IntegrityCheckPassesOnAHealthySpool) {
  auto spool = open_or_die(path);
  for (int i = 0; i < 20; ++i) spool.enqueue(make_sample("inv-1", kT0 + i * 5000));
  EXPECT_TRUE(spool.verify_integrity());
}

}  // namespace
}  // namespace sungrow::edge
