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
