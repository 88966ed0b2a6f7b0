// Read plan building and failure counting: pure functions over kReadGroups/kRegisters.
#include "sungrow/edge/modbus/read_plan.hpp"

#include <algorithm>

namespace sungrow::edge {
namespace {

bool in_group(const RegisterDef& def, std::uint8_t group) {
  return def.group == group;
}

}  // namespace

std::vector<ReadRequest> build_read_plan(const std::set<std::uint16_t>& skip,
                                         const std::set<std::uint8_t>& fragmented) {
  std::vector<ReadRequest> plan;
  for (std::uint8_t g = 0; g < kReadGroups.size(); ++g) {
    const auto& group = kReadGroups[g];
    const auto end = static_cast<std::uint16_t>(group.first_doc + group.count);
    // Words of skipped registers are holes; everything else of the group stays as the group
    // defined it, so an untouched group is requested exactly as in kReadGroups.
    std::vector<bool> hole(group.count, false);
    const auto at = [&](std::uint32_t doc) { return hole[doc - group.first_doc]; };
    for (const auto& def : kRegisters) {
      if (!in_group(def, g) || !skip.contains(def.doc)) continue;
      for (std::uint16_t i = 0; i < def.words; ++i) at(std::uint32_t{def.doc} + i) = true;
    }
    std::uint16_t doc = group.first_doc;
    while (doc < end) {
      if (at(doc)) {
        ++doc;
        continue;
      }
      const std::uint16_t run_start = doc;
      while (doc < end && !at(doc)) ++doc;
      const ReadRequest run{group.table, run_start, static_cast<std::uint16_t>(doc - run_start), g};
      if (fragmented.contains(g)) {
        const auto runs = register_runs(run);
        plan.insert(plan.end(), runs.begin(), runs.end());
      } else if (!registers_in(run).empty()) {
        plan.push_back(run);
      }
    }
  }
  return plan;
}

std::vector<ReadRequest> register_runs(const ReadRequest& request) {
  auto regs = registers_in(request);
  std::sort(regs.begin(), regs.end(),
            [](const RegisterDef* a, const RegisterDef* b) { return a->doc < b->doc; });
  std::vector<ReadRequest> runs;
  for (const auto* def : regs) {
    // Greedy extension gives the fewest runs: a run only ends at a gap or at the size limit.
    if (!runs.empty()) {
      auto& last = runs.back();
      if (std::uint32_t{last.first_doc} + last.count == def->doc &&
          std::uint32_t{last.count} + def->words <= kMaxRegistersPerRead) {
        last.count = static_cast<std::uint16_t>(last.count + def->words);
        continue;
      }
    }
    runs.push_back(ReadRequest{def->table, def->doc, def->words, request.group});
  }
  return runs;
}

ReadRequest group_request(std::uint8_t group) {
  const auto& g = kReadGroups[group];
  return ReadRequest{g.table, g.first_doc, g.count, group};
}

std::vector<ReadRequest> split(const ReadRequest& request) {
  std::vector<ReadRequest> requests;
  for (const auto* def : registers_in(request))
    requests.push_back(ReadRequest{def->table, def->doc, def->words, request.group});
  return requests;
}

std::vector<const RegisterDef*> registers_in(const ReadRequest& request) {
  std::vector<const RegisterDef*> out;
  for (const auto& def : kRegisters) {
    if (def.table == request.table && def.doc >= request.first_doc &&
        def.doc + def.words <= request.first_doc + request.count)
      out.push_back(&def);
  }
  return out;
}

std::set<std::uint16_t> once_registers() {
  std::set<std::uint16_t> out;
  for (const auto& def : kRegisters)
    if (kReadGroups[def.group].once) out.insert(def.doc);
  return out;
}

bool FailureTracker::failed(std::uint16_t doc) {
  if (unsupported_.contains(doc)) return false;
  if (++failures_[doc] < threshold_) return false;
  failures_.erase(doc);
  unsupported_.insert(doc);
  return true;
}

std::uint32_t FailureTracker::failures(std::uint16_t doc) const {
  const auto it = failures_.find(doc);
  return it == failures_.end() ? 0 : it->second;
}

}  // namespace sungrow::edge
