// Unit tests of the read plan (groups, skipping, once groups, WiNet-S limits) and failure counting.
#include "sungrow/edge/modbus/read_plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace sungrow::edge {
namespace {

using Skip = std::set<std::uint16_t>;

// Each map register not skipped is read by exactly one request; skipped ones by none.
void expect_covers_exactly(const std::vector<ReadRequest>& plan, const Skip& skip) {
  for (const auto& def : kRegisters) {
    int covering = 0;
    for (const auto& r : plan)
      for (const auto* d : registers_in(r)) covering += d == &def ? 1 : 0;
    EXPECT_EQ(covering, skip.contains(def.doc) ? 0 : 1) << def.name;
  }
}

void expect_safe(const std::vector<ReadRequest>& plan, const Skip& skip) {
  for (const auto& r : plan) {
    EXPECT_GE(r.count, 1);
    EXPECT_LE(r.count, kMaxRegistersPerRead);
    const auto& g = kReadGroups[r.group];
    EXPECT_EQ(r.table, g.table);
    EXPECT_GE(r.first_doc, g.first_doc);
    EXPECT_LE(r.last_doc(), g.first_doc + g.count - 1) << "request leaves its group";
    for (const auto& unsafe : kWinetUnsafeRanges)
      EXPECT_TRUE(r.table != RegisterTable::input || r.last_doc() < unsafe.first ||
                  r.first_doc > unsafe.last)
          << r.first_doc << "×" << r.count << " touches unsafe " << unsafe.first;
    for (const auto& def : kRegisters) {
      if (skip.contains(def.doc) && def.table == r.table) {
        EXPECT_TRUE(def.doc + def.words - 1 < r.first_doc || def.doc > r.last_doc())
            << "skipped " << def.name << " is still requested";
      }
    }
  }
}

TEST(ReadPlan, NothingSkippedIsExactlyTheGroups) {
  const auto plan = build_read_plan({});
  ASSERT_EQ(plan.size(), kReadGroups.size());
  for (std::size_t i = 0; i < plan.size(); ++i) {
    EXPECT_EQ(plan[i].first_doc, kReadGroups[i].first_doc);
    EXPECT_EQ(plan[i].count, kReadGroups[i].count);
    EXPECT_EQ(plan[i].table, kReadGroups[i].table);
    EXPECT_EQ(plan[i].first_wire(), kReadGroups[i].first_wire());
  }
  expect_covers_exactly(plan, {});
  expect_safe(plan, {});
}

TEST(ReadPlan, OnceGroupsDropOutOnceCached) {
  const auto once = once_registers();
  ASSERT_FALSE(once.empty());
  EXPECT_TRUE(once.contains(reg(RegisterId::serial_number).doc));
  EXPECT_TRUE(once.contains(reg(RegisterId::device_type).doc));
  EXPECT_FALSE(once.contains(reg(RegisterId::battery_power).doc));
  const auto plan = build_read_plan(once);
  for (const auto& r : plan) EXPECT_FALSE(kReadGroups[r.group].once) << r.first_doc;
  EXPECT_EQ(plan.size(), kReadGroups.size() - 1);
  expect_covers_exactly(plan, once);
}

TEST(ReadPlan, PartlyCachedOnceGroupReadsOnlyWhatIsMissing) {
  auto skip = once_registers();
  skip.erase(reg(RegisterId::device_type).doc);
  const auto plan = build_read_plan(skip);
  const auto it = std::find_if(plan.begin(), plan.end(),
                               [](const ReadRequest& r) { return kReadGroups[r.group].once; });
  ASSERT_NE(it, plan.end());
  const auto regs = registers_in(*it);
  ASSERT_EQ(regs.size(), 1U);
  EXPECT_EQ(regs.front()->id, RegisterId::device_type);
}

TEST(ReadPlan, UnsupportedRegisterCutsItsGroupAroundIt) {
  const auto& legacy = reg(RegisterId::battery_power_legacy);  // 13022, middle of "state"
  const Skip skip{legacy.doc};
  const auto plan = build_read_plan(skip);
  std::vector<ReadRequest> state;
  for (const auto& r : plan)
    if (r.group == legacy.group) state.push_back(r);
  ASSERT_EQ(state.size(), 2U);
  EXPECT_EQ(state[0].first_doc, kReadGroups[legacy.group].first_doc);
  EXPECT_EQ(state[0].last_doc(), legacy.doc - 1);
  EXPECT_EQ(state[1].first_doc, legacy.doc + legacy.words);
  expect_covers_exactly(plan, skip);
  expect_safe(plan, skip);
}

TEST(ReadPlan, GroupWithNothingLeftIsNotRequested) {
  const auto& battery = reg(RegisterId::battery_power);  // alone in its group
  const auto plan = build_read_plan({battery.doc});
  EXPECT_EQ(plan.size(), kReadGroups.size() - 1);
  for (const auto& r : plan) EXPECT_NE(r.group, battery.group);
}

TEST(ReadPlan, AnySkipSetStaysSafeAndCoversTheRest) {
  for (const auto& def : kRegisters) {
    const Skip skip{def.doc};
    const auto plan = build_read_plan(skip);
    expect_covers_exactly(plan, skip);
    expect_safe(plan, skip);
  }
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    Skip skip;
    for (const auto& def : kRegisters)
      if (rng() % 3 == 0) skip.insert(def.doc);
    const auto plan = build_read_plan(skip);
    expect_covers_exactly(plan, skip);
    expect_safe(plan, skip);
  }
  Skip all;
  for (const auto& def : kRegisters) all.insert(def.doc);
  EXPECT_TRUE(build_read_plan(all).empty());
}

TEST(ReadPlan, SplitReadsEachMapRegisterWithAllItsWords) {
  const auto plan = build_read_plan({});
  for (const auto& r : plan) {
    const auto singles = split(r);
    const auto regs = registers_in(r);
    ASSERT_EQ(singles.size(), regs.size());
    for (std::size_t i = 0; i < singles.size(); ++i) {
      EXPECT_EQ(singles[i].first_doc, regs[i]->doc);
      EXPECT_EQ(singles[i].count, regs[i]->words);
      EXPECT_EQ(singles[i].group, r.group);
    }
  }
  const auto& state = plan[reg(RegisterId::load_power).group];
  const auto singles = split(state);
  const auto load = std::find_if(singles.begin(), singles.end(), [](const ReadRequest& s) {
    return s.first_doc == reg(RegisterId::load_power).doc;
  });
  ASSERT_NE(load, singles.end());
  EXPECT_EQ(load->count, 2);  // S32: both words in one request
  EXPECT_EQ(split(plan[reg(RegisterId::serial_number).group]).front().count, 10);
}

// Every word of `r` belongs to a map register of its table.
void expect_only_map_words(const ReadRequest& r) {
  for (std::uint32_t doc = r.first_doc; doc <= r.last_doc(); ++doc) {
    const bool mapped = std::any_of(kRegisters.begin(), kRegisters.end(), [&](const auto& def) {
      return def.table == r.table && doc >= def.doc && doc < std::uint32_t{def.doc} + def.words;
    });
    EXPECT_TRUE(mapped) << "word " << doc << " of " << r.first_doc << "×" << r.count
                        << " is not in the map";
  }
}

TEST(RegisterRuns, StateGroupIsFiveRunsAroundTheWordsOutsideTheMap) {
  const std::uint8_t state = reg(RegisterId::running_state).group;
  ASSERT_EQ(kReadGroups[state].first_doc, 13000);
  const auto runs = register_runs(group_request(state));
  const std::vector<ReadRequest> expected{
      {RegisterTable::input, 13000, 5, state},  // running state … PV total (U32)
      {RegisterTable::input, 13008, 4, state},  // load, export power (S32 each)
      {RegisterTable::input, 13020, 9, state},  // battery voltage … discharge total (U32)
      {RegisterTable::input, 13034, 9, state},  // active power … charge total (U32)
      {RegisterTable::input, 13045, 3, state},  // export today, total (U32)
  };
  EXPECT_EQ(runs, expected);
  for (const auto& r : runs) {
    EXPECT_TRUE(r.last_doc() < 13029 || r.first_doc > 13029);
    EXPECT_TRUE(r.last_doc() < 13043 || r.first_doc > 13043);
  }
}

TEST(RegisterRuns, EveryGroupsRunsAreMinimalMapOnlyAndSafe) {
  for (std::uint8_t g = 0; g < kReadGroups.size(); ++g) {
    const auto runs = register_runs(group_request(g));
    ASSERT_FALSE(runs.empty()) << kReadGroups[g].name;
    expect_safe(runs, {});
    for (const auto& r : runs) {
      EXPECT_EQ(r.group, g);
      expect_only_map_words(r);
    }
    for (std::size_t i = 1; i < runs.size(); ++i)
      // Minimal: two runs only touch where the first reached the request size limit.
      EXPECT_TRUE(runs[i].first_doc > runs[i - 1].last_doc() + 1 ||
                  runs[i - 1].count + registers_in(runs[i]).front()->words > kMaxRegistersPerRead)
          << kReadGroups[g].name << ": runs " << i - 1 << " and " << i << " could be one";
    std::size_t registers = 0;
    for (const auto& r : runs) registers += registers_in(r).size();
    EXPECT_EQ(registers, registers_in(group_request(g)).size()) << kReadGroups[g].name;
  }
  // A request over several groups' worth of words still never crosses a non-map word or the limit.
  const ReadRequest wide{RegisterTable::input, 4990, 60, 0};
  for (const auto& r : register_runs(wide)) {
    EXPECT_LE(r.count, kMaxRegistersPerRead);
    expect_only_map_words(r);
  }
}

TEST(ReadPlan, FragmentedGroupIsReadAsItsRunsAndTheOthersStayWhole) {
  const std::uint8_t state = reg(RegisterId::running_state).group;
  const auto plan = build_read_plan({}, {state});
  const auto whole = build_read_plan({});
  const auto runs = register_runs(group_request(state));
  ASSERT_EQ(plan.size(), whole.size() - 1 + runs.size());
  std::vector<ReadRequest> state_part;
  for (const auto& r : plan) {
    if (r.group == state) {
      state_part.push_back(r);
      expect_only_map_words(r);
    } else {
      EXPECT_EQ(r, whole[r.group]) << "an unfragmented group changed";
    }
  }
  EXPECT_EQ(state_part, runs);
  expect_covers_exactly(plan, {});
  expect_safe(plan, {});
}

TEST(ReadPlan, FragmentedGroupWithSkippedRegistersLeavesThemOut) {
  const auto& legacy = reg(RegisterId::battery_power_legacy);  // 13022, inside the 13020 run
  const Skip skip{legacy.doc};
  const auto plan = build_read_plan(skip, {legacy.group});
  std::vector<ReadRequest> state;
  for (const auto& r : plan)
    if (r.group == legacy.group) state.push_back(r);
  ASSERT_EQ(state.size(), 6U);
  EXPECT_EQ(state[2], (ReadRequest{RegisterTable::input, 13020, 2, legacy.group}));
  EXPECT_EQ(state[3], (ReadRequest{RegisterTable::input, 13023, 6, legacy.group}));
  expect_covers_exactly(plan, skip);
  expect_safe(plan, skip);

  std::mt19937 rng(11);
  for (int round = 0; round < 200; ++round) {
    Skip random_skip;
    std::set<std::uint8_t> fragmented;
    for (const auto& def : kRegisters)
      if (rng() % 3 == 0) random_skip.insert(def.doc);
    for (std::uint8_t g = 0; g < kReadGroups.size(); ++g)
      if (rng() % 2 == 0) fragmented.insert(g);
    const auto p = build_read_plan(random_skip, fragmented);
    expect_covers_exactly(p, random_skip);
    expect_safe(p, random_skip);
    for (const auto& r : p)
      if (fragmented.contains(r.group)) expect_only_map_words(r);
  }
}

TEST(FailureTracker, UnsupportedAfterThreeConsecutiveFailures) {
  FailureTracker t;
  EXPECT_FALSE(t.failed(5214));
  EXPECT_FALSE(t.failed(5214));
  EXPECT_FALSE(t.is_unsupported(5214));
  EXPECT_EQ(t.failures(5214), 2U);
  EXPECT_TRUE(t.failed(5214));  // third: now unsupported, reported exactly once
  EXPECT_TRUE(t.is_unsupported(5214));
  EXPECT_FALSE(t.failed(5214));
  EXPECT_EQ(t.unsupported(), (Skip{5214}));
}

TEST(FailureTracker, SuccessResetsTheCount) {
  FailureTracker t(3);
  EXPECT_FALSE(t.failed(13022));
  EXPECT_FALSE(t.failed(13022));
  t.succeeded(13022);
  EXPECT_EQ(t.failures(13022), 0U);
  EXPECT_FALSE(t.failed(13022));
  EXPECT_FALSE(t.failed(13022));
  EXPECT_FALSE(t.is_unsupported(13022));
  EXPECT_TRUE(t.failed(13022));
}

TEST(FailureTracker, ThresholdIsConfigurableAndCountsPerRegister) {
  FailureTracker t(1);
  EXPECT_TRUE(t.failed(5631));
  EXPECT_FALSE(t.is_unsupported(5242));
  FailureTracker five(5);
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(five.failed(5242));
  EXPECT_FALSE(five.failed(5631));
  EXPECT_TRUE(five.failed(5242));
  EXPECT_FALSE(five.is_unsupported(5631));
}

}  // namespace
}  // namespace sungrow::edge
