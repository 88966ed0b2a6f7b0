// Integration tests of Poller over real TCP against the in-process simulator, one per fault.
#include <gtest/gtest.h>

#include <thread>

#include "poller_settings.hpp"
#include "sungrow/core/words.hpp"
#include "sungrow/edge/modbus/poller.hpp"
#include "sungrow/edge/modbus/read_plan.hpp"
#include "sungrow/sim/sim_server.hpp"

namespace sungrow::edge {
namespace {

using namespace std::chrono_literals;
using sim::Faults;
using sim::SimServer;
using test::settings_for;

// Noon in June, with the simulated clock all but frozen (time_scale is > 0 by contract) so that
// two simulators with the same seed serve the same words and images can be compared word by word.
sim::SimOptions sim_options(Faults faults, std::uint16_t port = 0) {
  sim::SimOptions o;
  o.port = port;
  o.time_scale = 1e-9;
  o.start = parse_rfc3339("2026-06-21T10:00:00Z");
  o.seed = 7;
  o.faults = std::move(faults);
  return o;
}

std::unique_ptr<SimServer> start_sim(Faults faults = {}, std::uint16_t port = 0) {
  auto s = SimServer::start(sim_options(std::move(faults), port));
  if (!s) throw std::runtime_error(s.error().message);
  return std::move(*s);
}

// A hand-driven clock for the reconnect backoff window, so "inside" and "after" the window are
// decided by the test, not by how promptly the test thread is scheduled.
struct ManualClock {
  std::chrono::steady_clock::time_point at = std::chrono::steady_clock::time_point{} + 1'000h;
  Poller::Now source() {
    return [this] { return at; };
  }
};

// What a fault-free simulator serves for the same options.
const RegisterImage& reference_image() {
  static const RegisterImage image = [] {
    auto server = start_sim();
    Poller poller(settings_for(server->port()), 1);
    auto r = poller.poll();
    if (!r) throw std::runtime_error(r.error().message);
    return *r;
  }();
  return image;
}

// Every register in `image` is whole and carries exactly the reference words (nothing decoded
// from a shifted or foreign reply); returns how many registers are present.
std::size_t expect_matches_reference(const RegisterImage& image,
                                     const std::set<std::uint16_t>& differing = {}) {
  std::size_t present = 0;
  for (const auto& def : kRegisters) {
    std::size_t words_present = 0;
    for (std::uint16_t i = 0; i < def.words; ++i)
      words_present += image.get(def.table, static_cast<std::uint16_t>(def.wire() + i)) ? 1U : 0U;
    EXPECT_TRUE(words_present == 0 || words_present == def.words) << def.name << " torn";
    if (words_present == 0) continue;
    ++present;
    if (differing.contains(def.doc)) continue;
    for (std::uint16_t i = 0; i < def.words; ++i) {
      const auto wire = static_cast<std::uint16_t>(def.wire() + i);
      EXPECT_EQ(image.get(def.table, wire), reference_image().get(def.table, wire)) << def.name;
    }
  }
  return present;
}

std::size_t requests_per_cycle(const std::set<std::uint16_t>& unsupported) {
  auto skip = unsupported;
  const auto once = once_registers();
  skip.insert(once.begin(), once.end());
  return build_read_plan(skip).size();
}

TEST(PollerSim, NormalPollReadsEveryRegisterOverOneConnection) {
  auto server = start_sim();
  Poller poller(settings_for(server->port()), 1);
  // value() throws (a test failure with the message) when the poll failed.
  const RegisterImage image = poller.poll().value();
  EXPECT_EQ(expect_matches_reference(image), kRegisters.size());
  std::array<std::uint16_t, 10> serial{};
  ASSERT_TRUE(image.read(reg(RegisterId::serial_number), serial));
  EXPECT_EQ(words::utf8(serial), "A2350415770");
  EXPECT_EQ(image.get(RegisterTable::input, reg(RegisterId::device_type).wire()), 0x0D18);
  EXPECT_EQ(server->stats().requests, kReadGroups.size());
  EXPECT_EQ(poller.last_stats().groups_read, kReadGroups.size());

  for (int cycle = 0; cycle < 3; ++cycle) {
    const auto before = server->stats();
    const auto again = poller.poll();
    ASSERT_TRUE(again);
    EXPECT_EQ(expect_matches_reference(*again), kRegisters.size()) << "device info not cached";
    EXPECT_EQ(server->stats().requests - before.requests, requests_per_cycle({}));
  }
  EXPECT_EQ(server->stats().connections, 1U);
  EXPECT_EQ(server->stats().exceptions, 0U);
  EXPECT_TRUE(poller.unsupported().empty());
}

// The inverter's clock is read on the poll's own connection (a WiNet-S serves one client).
TEST(PollerSim, ReadExtraReadsTheInverterClockOnThePollsConnection) {
  auto server = start_sim();
  Poller poller(settings_for(server->port()), 1);
  ASSERT_TRUE(poller.poll());
  const auto& c = kInverterClockRegisters;
  const auto clock = poller.read_extra(c.table, c.first_doc, c.count);
  ASSERT_TRUE(clock) << clock.error().message;
  // 10:00Z on 21 June is noon in Amsterdam (the simulator's zone), and its clock stands still.
  EXPECT_EQ(*clock, (std::vector<std::uint16_t>{2026, 6, 21, 12, 0, 0}));
  EXPECT_EQ(server->stats().connections, 1U);
  EXPECT_EQ(server->stats().requests, kReadGroups.size() + 1);
}

// A dongle that refuses the clock registers (with WiNet-S style exception frames) costs one
// refused request per attempt and nothing else: the connection stays, every poll reads the whole
// map, and no register or group is marked unsupported or fragmented, however often it happens.
TEST(PollerSim, AnUnsupportedClockReadLeavesPollingUndisturbed) {
  Faults f;
  f.clock_fault = sim::ClockFault::unsupported;
  f.malformed_exception = true;
  auto server = start_sim(f);
  Poller poller(settings_for(server->port()), 1);
  const auto& c = kInverterClockRegisters;
  for (int cycle = 1; cycle <= 5; ++cycle) {
    const auto image = poller.poll();
    ASSERT_TRUE(image) << image.error().message;
    EXPECT_EQ(expect_matches_reference(*image), kRegisters.size()) << cycle;
    const auto clock = poller.read_extra(c.table, c.first_doc, c.count);
    ASSERT_FALSE(clock);
    EXPECT_NE(clock.error().message.find("exception 2"), std::string::npos)
        << clock.error().message;
    EXPECT_TRUE(poller.connected());
  }
  EXPECT_TRUE(poller.unsupported().empty());
  EXPECT_TRUE(poller.fragmented_groups().empty());
  EXPECT_EQ(server->stats().connections, 1U);
  EXPECT_EQ(server->stats().exceptions, 5U);
}

// A clock read that breaks the connection closes it; the next poll connects again at once (no
// backoff: the link worked a moment ago) and reads everything.
TEST(PollerSim, AClockReadThatDropsTheConnectionCostsOneReconnect) {
  Faults f;
  f.drop_every = static_cast<std::uint32_t>(kReadGroups.size()) + 1;  // the read after the poll
  auto server = start_sim(f);
  Poller poller(settings_for(server->port()), 1);
  ASSERT_TRUE(poller.poll());
  const auto& c = kInverterClockRegisters;
  EXPECT_FALSE(poller.read_extra(c.table, c.first_doc, c.count));
  EXPECT_FALSE(poller.connected());
  const auto image = poller.poll();
  ASSERT_TRUE(image) << image.error().message;
  EXPECT_EQ(expect_matches_reference(*image), kRegisters.size());
  EXPECT_EQ(server->stats().connections, 2U);
  EXPECT_TRUE(poller.unsupported().empty());
}

TEST(PollerSim, InterReadDelayBoundsTheCycle) {
  auto server = start_sim();
  auto s = settings_for(server->port());
  s.inter_read_delay = 20ms;
  Poller poller(s, 1);
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(poller.poll());
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, (kReadGroups.size() - 1) * 20ms);  // a lower bound, not a speed assertion
}

TEST(PollerSim, DropEveryGivesPartialImagesAndReconnectsNextCycle) {
  Faults f;
  f.drop_every = 4;  // per the sim's request count: three answers, then the connection closes
  auto server = start_sim(f);
  Poller poller(settings_for(server->port()), 1);
  for (int cycle = 0; cycle < 5; ++cycle) {
    const auto image = poller.poll();
    ASSERT_TRUE(image) << "cycle " << cycle << ": " << image.error().message;
    EXPECT_EQ(poller.last_stats().groups_read, 3U);
    EXPECT_EQ(poller.last_stats().reconnected, true);
    EXPECT_FALSE(poller.connected());
    const auto present = expect_matches_reference(*image);
    EXPECT_GT(present, 0U);
    EXPECT_LT(present, kRegisters.size());
  }
  EXPECT_EQ(server->stats().connections, 5U);
  EXPECT_EQ(server->stats().dropped, 5U);
}

TEST(PollerSim, ExceptionRangeSplitsTheGroupThenTheRegisterIsNoLongerRead) {
  const auto& legacy = reg(RegisterId::battery_power_legacy);  // 13022, inside "state"
  Faults f;
  f.exception_ranges = {DocRange{legacy.doc, legacy.doc}};
  auto server = start_sim(f);
  Poller poller(settings_for(server->port()), 1);
  const auto state_registers = split(build_read_plan({})[legacy.group]).size();
  for (int cycle = 1; cycle <= 3; ++cycle) {
    const auto before = server->stats();
    const auto image = poller.poll();
    ASSERT_TRUE(image) << image.error().message;
    EXPECT_EQ(expect_matches_reference(*image), kRegisters.size() - 1);
    EXPECT_FALSE(image->has(legacy));
    EXPECT_EQ(poller.last_stats().registers_read, state_registers - 1);
    EXPECT_EQ(poller.last_stats().registers_failed, 1U);
    EXPECT_EQ(server->stats().exceptions - before.exceptions, 2U);  // group + the register
  }
  EXPECT_EQ(poller.unsupported(), (std::set<std::uint16_t>{legacy.doc}));
  for (int cycle = 0; cycle < 2; ++cycle) {
    const auto before = server->stats();
    const auto image = poller.poll();
    ASSERT_TRUE(image);
    EXPECT_EQ(expect_matches_reference(*image), kRegisters.size() - 1);
    EXPECT_EQ(server->stats().exceptions - before.exceptions, 0U) << "unsupported still read";
    EXPECT_EQ(server->stats().requests - before.requests, requests_per_cycle({legacy.doc}));
  }
  EXPECT_EQ(server->stats().connections, 1U);
}

TEST(PollerSim, GroupRefusedForAWordOutsideTheMapIsReadAsRunsFromTheSecondCycle) {
  // 13043 (DRM state) lies inside "state" but is no register of the map: the device refuses any
  // block holding it, while each map register reads fine alone.
  constexpr std::uint16_t kDrmState = 13043;
  const std::uint8_t state = reg(RegisterId::running_state).group;
  Faults f;
  f.exception_ranges = {DocRange{kDrmState, kDrmState}};
  auto server = start_sim(f);
  Poller poller(settings_for(server->port()), 1);
  const auto state_registers = split(group_request(state)).size();

  auto before = server->stats();
  auto image = poller.poll();
  ASSERT_TRUE(image) << image.error().message;
  EXPECT_EQ(expect_matches_reference(*image), kRegisters.size());
  EXPECT_EQ(server->stats().exceptions - before.exceptions, 1U);  // the state group only
  EXPECT_EQ(server->stats().requests - before.requests, kReadGroups.size() + state_registers);
  EXPECT_EQ(poller.fragmented_groups(), (std::set<std::uint8_t>{state}));

  // From cycle 2 on: the other groups whole, "state" as its 5 runs, nothing refused.
  const auto plan = build_read_plan(once_registers(), {state});
  ASSERT_EQ(plan.size(), kReadGroups.size() - 2 + 5);
  for (const auto& r : plan)
    EXPECT_TRUE(r.last_doc() < kDrmState || r.first_doc > kDrmState) << r.first_doc;
  for (int cycle = 2; cycle <= 4; ++cycle) {
    before = server->stats();
    image = poller.poll();
    ASSERT_TRUE(image) << image.error().message;
    EXPECT_EQ(expect_matches_reference(*image), kRegisters.size()) << "cycle " << cycle;
    EXPECT_EQ(server->stats().exceptions - before.exceptions, 0U) << "13043 read again";
    EXPECT_EQ(server->stats().requests - before.requests, plan.size()) << "cycle " << cycle;
    EXPECT_EQ(poller.last_stats().registers_read, 0U);
    EXPECT_EQ(poller.last_stats().groups_read, plan.size());
  }
  EXPECT_TRUE(poller.unsupported().empty());
  EXPECT_EQ(server->stats().connections, 1U);
}

TEST(PollerSim, MalformedExceptionFrameDoesNotDesync) {
  const auto& legacy = reg(RegisterId::battery_power_legacy);
  Faults f;
  f.malformed_exception = true;
  f.exception_ranges = {DocRange{legacy.doc, legacy.doc}};
  f.no_battery_power_register = true;
  auto server = start_sim(f);
  Poller poller(settings_for(server->port()), 1);
  for (int cycle = 1; cycle <= 4; ++cycle) {
    const auto image = poller.poll();
    ASSERT_TRUE(image) << image.error().message;
    // Every reply after a malformed frame decodes to the reference words.
    EXPECT_EQ(expect_matches_reference(*image), kRegisters.size() - 2);
    EXPECT_TRUE(poller.connected());
  }
  EXPECT_EQ(server->stats().connections, 1U) << "a desync would have forced a reconnect";
  EXPECT_EQ(server->stats().exceptions, 3U * 3U);  // 3 cycles × (group, single, 5214)
  EXPECT_EQ(poller.unsupported(),
            (std::set<std::uint16_t>{legacy.doc, reg(RegisterId::battery_power).doc}));
}

TEST(PollerSim, SlowReplyBeyondTheTimeoutFailsThenRecovers) {
  std::uint16_t port = 0;
  {
    // The reply would come 50× later than the timeout, so a poll that waited for it instead of
    // timing out is told apart by a bound generous enough for any scheduling delay.
    Faults slow;
    slow.slow_reply = 10s;
    auto server = start_sim(slow);
    port = server->port();
    auto s = settings_for(port);
    s.response_timeout = 200ms;
    Poller poller(s, 1);
    const auto start = std::chrono::steady_clock::now();
    const auto r = poller.poll();
    ASSERT_FALSE(r);
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s) << "timeout not honoured";
    EXPECT_FALSE(poller.connected());
    server.reset();  // closes the listener so the port can be bound again

    // Same poller, device fast again on the same address: it reconnects after its backoff.
    auto fast = start_sim({}, port);
    std::this_thread::sleep_for(50ms);
    const auto image = poller.poll();
    ASSERT_TRUE(image) << image.error().message;
    EXPECT_EQ(expect_matches_reference(*image), kRegisters.size());
  }
  // Slow but within the timeout (settings_for: 5 s) is simply slow.
  Faults slowish;
  slowish.slow_reply = 100ms;
  auto server = start_sim(slowish);
  Poller poller(settings_for(server->port()), 1);
  const auto image = poller.poll();
  ASSERT_TRUE(image) << image.error().message;
  EXPECT_EQ(expect_matches_reference(*image), kRegisters.size());
}

TEST(PollerSim, FfffForUnknownRegistersChangesNothingForTheMap) {
  Faults f;
  f.ffff_unsupported = true;
  auto server = start_sim(f);
  Poller poller(settings_for(server->port()), 1);
  for (int cycle = 0; cycle < 2; ++cycle) {
    const auto image = poller.poll();
    ASSERT_TRUE(image) << image.error().message;
    EXPECT_EQ(expect_matches_reference(*image), kRegisters.size());
  }
  EXPECT_EQ(server->stats().exceptions, 0U);
  EXPECT_TRUE(poller.unsupported().empty());
}

TEST(PollerSim, SecondClientIsRefusedAndBacksOffWhileTheFirstKeepsWorking) {
  Faults f;
  f.refuse_second_client = true;
  auto server = start_sim(f);
  Poller first(settings_for(server->port()), 1);
  ASSERT_TRUE(first.poll());

  auto second_settings = settings_for(server->port());
  // A window of 30–60 s: the check below runs inside it however late it is scheduled.
  second_settings.backoff_base = 60s;
  Poller second(second_settings, 2);
  const auto refused = second.poll();
  ASSERT_FALSE(refused);
  EXPECT_FALSE(second.connected());
  const auto after_refusal = server->stats();
  EXPECT_EQ(after_refusal.refused, 1U);
  const auto in_backoff = second.poll();
  ASSERT_FALSE(in_backoff);
  EXPECT_NE(in_backoff.error().message.find("backoff"), std::string::npos);
  EXPECT_EQ(server->stats().refused, 1U) << "connected again inside the backoff window";

  const auto image = first.poll();
  ASSERT_TRUE(image) << image.error().message;
  EXPECT_FALSE(first.last_stats().reconnected);
  EXPECT_EQ(expect_matches_reference(*image), kRegisters.size());
  EXPECT_EQ(server->stats().connections, 1U);
}

TEST(PollerSim, FlowBitsStuckAtZeroAreReadAsTheyAre) {
  Faults f;
  f.flow_bits_stuck = true;
  auto server = start_sim(f);
  Poller poller(settings_for(server->port()), 1);
  const RegisterImage image = poller.poll().value();
  const auto& flow = reg(RegisterId::power_flow);
  EXPECT_EQ(expect_matches_reference(image, {flow.doc}), kRegisters.size());
  EXPECT_EQ(image.get(flow.table, flow.wire()), 0);
  ASSERT_NE(reference_image().get(flow.table, flow.wire()), 0) << "reference should have flow bits";
}

TEST(PollerSim, MissingBatteryPowerRegisterBecomesUnsupported) {
  const auto& battery = reg(RegisterId::battery_power);
  Faults f;
  f.no_battery_power_register = true;
  auto server = start_sim(f);
  Poller poller(settings_for(server->port()), 1);
  for (int cycle = 1; cycle <= 3; ++cycle) {
    const auto before = server->stats();
    const auto image = poller.poll();
    ASSERT_TRUE(image) << image.error().message;
    EXPECT_EQ(expect_matches_reference(*image), kRegisters.size() - 1);
    EXPECT_EQ(server->stats().exceptions - before.exceptions, 1U);  // alone in its group
  }
  EXPECT_EQ(poller.unsupported(), (std::set<std::uint16_t>{battery.doc}));
  const auto before = server->stats();
  const auto image = poller.poll();
  ASSERT_TRUE(image);
  EXPECT_EQ(expect_matches_reference(*image), kRegisters.size() - 1);
  EXPECT_EQ(server->stats().exceptions, before.exceptions);
  EXPECT_EQ(server->stats().requests - before.requests, requests_per_cycle({battery.doc}));
}

TEST(PollerSim, ServerDownBacksOffThenReconnectsWhenItIsUp) {
  std::uint16_t port = 0;
  {
    auto probe = start_sim();
    port = probe->port();
  }  // nothing listens on `port` now
  auto s = settings_for(port);
  s.backoff_base = 100ms;
  ManualClock clock;  // the window ends when the test says so, not when the scheduler allows
  Poller poller(s, 1, clock.source());
  const auto down = poller.poll();
  ASSERT_FALSE(down);
  EXPECT_NE(down.error().message.find("connect"), std::string::npos) << down.error().message;
  const auto in_window = poller.poll();
  ASSERT_FALSE(in_window);
  EXPECT_NE(in_window.error().message.find("backoff"), std::string::npos);

  auto server = start_sim({}, port);
  clock.at += 49ms;  // one failure so far: its window is 50–100 ms
  const auto still_in_window = poller.poll();
  ASSERT_FALSE(still_in_window);
  EXPECT_NE(still_in_window.error().message.find("backoff"), std::string::npos);
  EXPECT_EQ(server->stats().connections, 0U);
  clock.at += 51ms;
  const auto image = poller.poll();
  ASSERT_TRUE(image) << image.error().message;
  EXPECT_EQ(expect_matches_reference(*image), kRegisters.size());
  EXPECT_EQ(server->stats().connections, 1U);
}

TEST(PollerSim, ScanReadsEveryRegisterAndMarksUnsupported) {
  Faults f;
  f.no_battery_power_register = true;
  auto server = start_sim(f);
  Poller poller(settings_for(server->port()), 1);
  const auto scanned = poller.scan().value();
  ASSERT_EQ(scanned.size(), kRegisters.size());
  EXPECT_EQ(server->stats().requests, kRegisters.size());
  for (std::size_t i = 0; i < kRegisters.size(); ++i) {
    const auto& def = kRegisters[i];
    const auto& s = scanned[i];
    EXPECT_EQ(s.doc, def.doc);
    if (def.id == RegisterId::battery_power) {
      EXPECT_TRUE(s.unsupported);
      EXPECT_FALSE(s.words);
      continue;
    }
    ASSERT_TRUE(s.words) << def.name << ": " << s.error;
    ASSERT_EQ(s.words->size(), def.words);
    for (std::uint16_t w = 0; w < def.words; ++w)
      EXPECT_EQ((*s.words)[w],
                reference_image().get(def.table, static_cast<std::uint16_t>(def.wire() + w)))
          << def.name;
  }
}

TEST(PollerSim, ScanSurvivesDroppedConnections) {
  Faults f;
  f.drop_every = 5;
  auto server = start_sim(f);
  Poller poller(settings_for(server->port()), 1);
  const auto scanned = poller.scan().value();
  ASSERT_EQ(scanned.size(), kRegisters.size());
  for (std::size_t i = 0; i < kRegisters.size(); ++i) {
    const auto& def = kRegisters[i];
    ASSERT_TRUE(scanned[i].words) << def.name << ": " << scanned[i].error;
    for (std::uint16_t w = 0; w < def.words; ++w)
      EXPECT_EQ((*scanned[i].words)[w],
                reference_image().get(def.table, static_cast<std::uint16_t>(def.wire() + w)))
          << def.name;
  }
  EXPECT_GT(server->stats().dropped, 0U);
  EXPECT_EQ(server->stats().connections, server->stats().dropped + (poller.connected() ? 1 : 0));
}

}  // namespace
}  // namespace sungrow::edge
