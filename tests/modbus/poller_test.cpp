// Unit tests of Poller against a scripted byte-level device (backoff, pacing, splitting, caching).
#include "sungrow/edge/modbus/poller.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <thread>

#include "poller_settings.hpp"
#include "raw_server.hpp"
#include "sungrow/edge/modbus/read_plan.hpp"

namespace sungrow::edge {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::settings_for;

bool touches(const test::RawRequest& r, std::uint16_t wire) {
  return wire >= r.address && wire < r.address + r.count;
}

// A device answering value(w) = w, with a malformed WiNet-S exception for any read touching a
// wire address in `failing` (or, for `failing_in_blocks`, any read of more than one word touching
// it), and a log of what it was asked and when.
class FakeDevice {
 public:
  explicit FakeDevice(std::set<std::uint16_t> failing,
                      std::set<std::uint16_t> failing_in_blocks = {})
      : failing_(std::move(failing)), failing_in_blocks_(std::move(failing_in_blocks)) {}

  void serve(int fd) {
    for (;;) {
      const auto r = test::read_request(fd);
      if (!r) return;
      bool fail = false;
      {
        std::lock_guard lock(mutex_);
        for (const auto w : failing_) fail = fail || touches(*r, w);
        for (const auto w : failing_in_blocks_) fail = fail || (r->count > 1 && touches(*r, w));
        log_.push_back({Clock::now(), *r});
        ++received_;
      }
      received_cv_.notify_all();
      test::write_all(fd, fail ? test::malformed_exception(*r)
                               : test::reply(*r, [](std::uint16_t w) { return w; }));
    }
  }
  // A firmware change between cycles: from the next request on, these wire addresses fail.
  void set_failing(std::set<std::uint16_t> failing) {
    std::lock_guard lock(mutex_);
    failing_ = std::move(failing);
  }
  struct Entry {
    Clock::time_point at;
    test::RawRequest request;
  };
  std::vector<Entry> take() {
    std::lock_guard lock(mutex_);
    return std::exchange(log_, {});
  }
  // Waits until `n` requests in all have been received (an event, not a sleep); false after
  // `timeout`, which only a hang reaches.
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout = 30'000ms) {
    std::unique_lock lock(mutex_);
    return received_cv_.wait_for(lock, timeout, [&] { return received_ >= n; });
  }

 private:
  std::set<std::uint16_t> failing_;
  std::set<std::uint16_t> failing_in_blocks_;
  std::mutex mutex_;
  std::condition_variable received_cv_;
  std::vector<Entry> log_;
  std::size_t received_ = 0;
};

// A hand-driven clock for the reconnect backoff window, so "inside" and "after" the window are
// decided by the test, not by how promptly the test thread is scheduled.
struct ManualClock {
  Clock::time_point at = Clock::time_point{} + 1'000h;
  Poller::Now source() {
    return [this] { return at; };
  }
};

void expect_identity_image(const RegisterImage& image,
                           const std::set<std::uint16_t>& missing_docs) {
  for (const auto& def : kRegisters) {
    if (missing_docs.contains(def.doc)) {
      EXPECT_FALSE(image.has(def)) << def.name;
      continue;
    }
    ASSERT_TRUE(image.has(def)) << def.name;
    for (std::uint16_t i = 0; i < def.words; ++i)
      EXPECT_EQ(image.get(def.table, static_cast<std::uint16_t>(def.wire() + i)), def.wire() + i)
          << def.name;
  }
}

TEST(Poller, BackoffWindowRefusesWithoutTouchingTheNetworkAndSuccessResetsIt) {
  // Connections 0–2 and 4 are closed at once; 3 answers one full first cycle; 5 answers all.
  const auto first_cycle = static_cast<int>(build_read_plan({}).size());
  test::RawServer server([&](int fd, int index) {
    if (index == 3) test::serve_identity(fd, first_cycle);
    if (index == 5) test::serve_identity(fd);
  });
  auto s = settings_for(server.port());
  s.backoff_base = 100ms;
  // The window is measured on a manual clock: the test moves it to just before the earliest end
  // of a window (must still refuse) and to its latest end (must connect), whatever the scheduler
  // does meanwhile. Every check is on the connections the device saw.
  ManualClock clock;
  Poller poller(s, 42, clock.source());
  const auto refused_in_window = [&](int accepted) {
    const auto r = poller.poll();
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().message.find("backoff"), std::string::npos) << r.error().message;
    EXPECT_EQ(server.accepted(), accepted) << "a poll inside the backoff window connected";
  };

  // Failure k opens a window of [ceiling/2, ceiling], ceiling = 100·2^(k−1) ms:
  // 50–100, 100–200, 200–400 ms.
  ASSERT_FALSE(poller.poll());
  EXPECT_EQ(server.accepted(), 1);
  refused_in_window(1);
  clock.at += 49ms;  // inside 50–100 ms
  refused_in_window(1);
  clock.at += 51ms;  // 100 ms: past the window
  ASSERT_FALSE(poller.poll());
  EXPECT_EQ(server.accepted(), 2);
  clock.at += 99ms;  // inside 100–200 ms
  refused_in_window(2);
  clock.at += 101ms;
  ASSERT_FALSE(poller.poll());
  EXPECT_EQ(server.accepted(), 3);
  refused_in_window(3);
  clock.at += 80ms;
  refused_in_window(3);  // still inside 200–400 ms
  clock.at += 119ms;     // 199 ms
  refused_in_window(3);

  clock.at += 201ms;  // 400 ms
  const auto ok = poller.poll();
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_TRUE(poller.last_stats().reconnected);
  EXPECT_EQ(server.accepted(), 4);

  // Connection 3 is now closed by the device: the next cycle reads nothing → failure 1 again
  // (50–100 ms), not failure 4 (400–800 ms), because the success reset the backoff.
  ASSERT_FALSE(poller.poll());
  EXPECT_FALSE(poller.connected());
  refused_in_window(4);
  clock.at += 100ms;            // would still be inside a failure-4 window
  ASSERT_FALSE(poller.poll());  // connection 4: closed at once → failure 2 (100–200 ms)
  EXPECT_EQ(server.accepted(), 5);
  clock.at += 99ms;
  refused_in_window(5);
  clock.at += 101ms;
  const auto again = poller.poll();
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(server.accepted(), 6);
}

TEST(Poller, InterReadDelayHoldsBetweenEveryTwoRequests) {
  FakeDevice device({reg(RegisterId::battery_current_legacy).wire()});  // forces a split too
  test::RawServer server([&](int fd, int) { device.serve(fd); });
  auto s = settings_for(server.port());
  s.inter_read_delay = 15ms;
  Poller poller(s, 1);
  ASSERT_TRUE(poller.poll());
  ASSERT_TRUE(poller.poll());
  const auto log = device.take();
  ASSERT_GT(log.size(), kReadGroups.size() * 2);  // groups of both cycles plus the split
  auto min_gap = Clock::duration::max();
  for (std::size_t i = 1; i < log.size(); ++i)
    min_gap = std::min(min_gap, log[i].at - log[i - 1].at);
  EXPECT_GE(min_gap, 15ms);
}

// Two unit ids behind one WiNet-S: one connection for both, each request addressed to its unit,
// and the inter-read delay between any two requests, whichever unit they are for.
TEST(Poller, UnitsSharingALinkShareOneConnectionAndItsPacing) {
  FakeDevice device({});
  test::RawServer server([&](int fd, int) { device.serve(fd); });
  const auto s = settings_for(server.port());
  auto link = std::make_shared<ModbusLink>(LinkSettings{.host = s.host,
                                                        .port = s.port,
                                                        .inter_read_delay = 25ms,
                                                        .response_timeout = s.response_timeout,
                                                        .backoff_base = s.backoff_base,
                                                        .backoff_cap = s.backoff_cap},
                                           1);
  Poller master(link, 1);
  Poller slave(link, 2);
  for (int cycle = 0; cycle < 2; ++cycle) {
    link->begin_round();
    ASSERT_TRUE(master.poll());
    ASSERT_TRUE(slave.poll());
  }
  EXPECT_EQ(server.accepted(), 1);
  const auto log = device.take();
  std::set<int> units;
  auto min_gap = Clock::duration::max();
  for (std::size_t i = 0; i < log.size(); ++i) {
    units.insert(log[i].request.unit);
    if (i > 0) min_gap = std::min(min_gap, log[i].at - log[i - 1].at);
  }
  EXPECT_EQ(units, (std::set<int>{1, 2}));
  EXPECT_EQ(log.front().request.unit, 1);
  EXPECT_EQ(log.back().request.unit, 2);
  EXPECT_GE(min_gap, 25ms);
}

TEST(Poller, ExceptionSplitsTheGroupAndRepeatedFailureMakesARegisterUnsupported) {
  const auto& legacy = reg(RegisterId::battery_power_legacy);  // 13022 inside "state"
  const auto& battery = reg(RegisterId::battery_power);        // 5214, a group of its own
  FakeDevice device({legacy.wire(), battery.wire()});
  test::RawServer server([&](int fd, int) { device.serve(fd); });
  Poller poller(settings_for(server.port()), 1);

  for (int cycle = 1; cycle <= 3; ++cycle) {
    const auto image = poller.poll();
    ASSERT_TRUE(image) << image.error().message;
    // The malformed exception frames did not desync anything: every other word is right.
    expect_identity_image(*image, {legacy.doc, battery.doc});
    const auto log = device.take();
    const auto state_singles =
        std::count_if(log.begin(), log.end(), [&](const FakeDevice::Entry& e) {
          return e.request.address >= kReadGroups[legacy.group].first_wire() &&
                 e.request.count <= 2;
        });
    EXPECT_EQ(static_cast<std::size_t>(state_singles),
              split(build_read_plan({})[legacy.group]).size());
    // 5214 is alone in its group: its failed group read is its own read, not repeated.
    EXPECT_EQ(std::count_if(
                  log.begin(), log.end(),
                  [&](const FakeDevice::Entry& e) { return touches(e.request, battery.wire()); }),
              1);
    EXPECT_EQ(poller.last_stats().registers_failed, 2U);
    EXPECT_EQ(poller.unsupported().size(), cycle < 3 ? 0U : 2U);
  }
  EXPECT_EQ(poller.unsupported(), (std::set<std::uint16_t>{battery.doc, legacy.doc}));

  const auto image = poller.poll();
  ASSERT_TRUE(image);
  expect_identity_image(*image, {legacy.doc, battery.doc});
  const auto log = device.take();
  for (const auto& e : log) {
    EXPECT_FALSE(touches(e.request, legacy.wire())) << "unsupported register read again";
    EXPECT_FALSE(touches(e.request, battery.wire())) << "unsupported register read again";
  }
  EXPECT_EQ(log.size(), build_read_plan(poller.unsupported()).size() - 1);  // minus the once group
  EXPECT_EQ(poller.last_stats().registers_failed, 0U);
}

TEST(Poller, GroupRefusedForAWordOutsideTheMapIsReadAsRunsFromTheNextCycle) {
  const std::uint8_t state = reg(RegisterId::running_state).group;
  constexpr std::uint16_t kDrmState = 13043;  // inside "state", not a map register
  const auto drm_wire = static_cast<std::uint16_t>(kDrmState - 1);
  FakeDevice device({drm_wire});
  test::RawServer server([&](int fd, int) { device.serve(fd); });
  Poller poller(settings_for(server.port()), 1);
  const auto state_registers = split(group_request(state)).size();

  ASSERT_TRUE(poller.poll());
  auto log = device.take();
  EXPECT_EQ(log.size(), kReadGroups.size() + state_registers);  // the group, then its singles
  EXPECT_EQ(poller.last_stats().registers_failed, 0U);
  EXPECT_EQ(poller.fragmented_groups(), (std::set<std::uint8_t>{state}));

  const auto runs = build_read_plan(once_registers(), {state});
  for (int cycle = 2; cycle <= 3; ++cycle) {
    const auto image = poller.poll();
    ASSERT_TRUE(image);
    expect_identity_image(*image, {});
    log = device.take();
    ASSERT_EQ(log.size(), runs.size()) << "cycle " << cycle;
    for (std::size_t i = 0; i < log.size(); ++i) {
      EXPECT_EQ(log[i].request.address, runs[i].first_wire());
      EXPECT_EQ(log[i].request.count, runs[i].count);
      EXPECT_FALSE(touches(log[i].request, drm_wire)) << "refused word read again";
    }
    EXPECT_EQ(poller.last_stats().registers_read, 0U);
  }

  // Later a map register inside a run fails too: that run is split into singles as any request
  // is, the register counts toward unsupported, and the other runs are untouched.
  const auto& legacy = reg(RegisterId::battery_power_legacy);  // 13022, in the run 13020×9
  device.set_failing({drm_wire, legacy.wire()});
  for (int cycle = 1; cycle <= 3; ++cycle) {
    const auto image = poller.poll();
    ASSERT_TRUE(image);
    expect_identity_image(*image, {legacy.doc});
    log = device.take();
    EXPECT_EQ(log.size(), runs.size() + 8U);  // the 13020 run holds 8 registers
    EXPECT_EQ(poller.last_stats().registers_failed, 1U);
    for (const auto& e : log) EXPECT_FALSE(touches(e.request, drm_wire));
  }
  EXPECT_EQ(poller.unsupported(), (std::set<std::uint16_t>{legacy.doc}));
  ASSERT_TRUE(poller.poll());
  log = device.take();
  EXPECT_EQ(log.size(), build_read_plan(poller.unsupported(), {state}).size() - 1);  // − once
  for (const auto& e : log) {
    EXPECT_FALSE(touches(e.request, drm_wire));
    EXPECT_FALSE(touches(e.request, legacy.wire()));
  }
}

TEST(Poller, GroupRefusedForAMapRegisterIsNotFragmented) {
  // The failure is the register's own: it becomes unsupported and the group is cut around it,
  // with every other word still read in the group's two remaining requests.
  const auto& legacy = reg(RegisterId::battery_power_legacy);
  FakeDevice device({legacy.wire()});
  test::RawServer server([&](int fd, int) { device.serve(fd); });
  Poller poller(settings_for(server.port()), 1);
  for (int cycle = 0; cycle < 4; ++cycle) ASSERT_TRUE(poller.poll());
  EXPECT_TRUE(poller.fragmented_groups().empty());
  EXPECT_EQ(poller.unsupported(), (std::set<std::uint16_t>{legacy.doc}));
}

TEST(Poller, ContiguousGroupRefusedWholeIsNotFragmented) {
  // "mppt" (5011×4) holds no word outside the map: its runs are the group itself, so there is
  // nothing to leave out and the group is not marked (it is split as before when it fails).
  const auto& mppt = reg(RegisterId::mppt1_voltage);
  ASSERT_EQ(register_runs(group_request(mppt.group)).size(), 1U);
  FakeDevice device({}, {mppt.wire()});
  test::RawServer server([&](int fd, int) { device.serve(fd); });
  Poller poller(settings_for(server.port()), 1);
  for (int cycle = 0; cycle < 2; ++cycle) {
    const auto image = poller.poll();
    ASSERT_TRUE(image);
    expect_identity_image(*image, {});
    EXPECT_EQ(poller.last_stats().registers_read, 4U);  // the group's singles, every cycle
  }
  EXPECT_TRUE(poller.fragmented_groups().empty());
  EXPECT_TRUE(poller.unsupported().empty());
}

TEST(Poller, OnceGroupIsReadOnceAndStaysInEveryImage) {
  FakeDevice device({});
  test::RawServer server([&](int fd, int) { device.serve(fd); });
  Poller poller(settings_for(server.port()), 1);
  const auto once_wire = kReadGroups[0].first_wire();
  ASSERT_TRUE(kReadGroups[0].once);
  for (int cycle = 0; cycle < 3; ++cycle) {
    const auto image = poller.poll();
    ASSERT_TRUE(image);
    expect_identity_image(*image, {});
    const auto log = device.take();
    const auto once_reads = std::count_if(log.begin(), log.end(), [&](const FakeDevice::Entry& e) {
      return e.request.address == once_wire;
    });
    EXPECT_EQ(once_reads, cycle == 0 ? 1 : 0);
    EXPECT_FALSE(poller.last_stats().reconnected && cycle > 0) << "connection not reused";
  }
}

TEST(Poller, ScanReadsEveryRegisterSinglyAndMarksExceptionsUnsupported) {
  const auto& battery = reg(RegisterId::battery_power);
  FakeDevice device({battery.wire()});
  test::RawServer server([&](int fd, int) { device.serve(fd); });
  Poller poller(settings_for(server.port()), 1);
  const auto scanned = poller.scan();
  ASSERT_TRUE(scanned) << scanned.error().message;
  ASSERT_EQ(scanned->size(), kRegisters.size());
  const auto log = device.take();
  ASSERT_EQ(log.size(), kRegisters.size());
  for (std::size_t i = 0; i < kRegisters.size(); ++i) {
    const auto& def = kRegisters[i];
    const auto& s = (*scanned)[i];
    EXPECT_EQ(s.doc, def.doc);
    EXPECT_EQ(log[i].request.address, def.wire());
    EXPECT_EQ(log[i].request.count, def.words);
    if (def.doc == battery.doc) {
      EXPECT_TRUE(s.unsupported);
      EXPECT_FALSE(s.words);
      EXPECT_FALSE(s.error.empty());
    } else {
      ASSERT_TRUE(s.words) << def.name << ": " << s.error;
      EXPECT_EQ(s.words->size(), def.words);
      EXPECT_EQ(s.words->front(), def.wire());
      EXPECT_FALSE(s.unsupported);
    }
  }
}

TEST(Poller, StopTokenEndsTheCycleEarly) {
  FakeDevice device({});
  test::RawServer server([&](int fd, int) { device.serve(fd); });
  auto s = settings_for(server.port());
  s.inter_read_delay = 120s;
  Poller poller(s, 1);
  std::stop_source stop;
  // Stop once the device has seen the first request (an event, not a sleep), so the first group
  // is always read before the stop, however late either thread is scheduled.
  std::thread stopper([&] {
    EXPECT_TRUE(device.wait_for_requests(1));
    stop.request_stop();
  });
  const auto start = Clock::now();
  const auto image = poller.poll(stop.get_token());
  stopper.join();
  // Catches a poll that sat out the 120 s inter-read delay; not a speed assertion.
  EXPECT_LT(Clock::now() - start, 30s);
  ASSERT_TRUE(image);  // the first group was read before the stop
  EXPECT_EQ(device.take().size(), 1U);
}

}  // namespace
}  // namespace sungrow::edge
