// The read plan: which Modbus requests a poll cycle sends, derived purely from the register map.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "sungrow/core/registers.hpp"

namespace sungrow::edge {

struct ReadRequest {
  RegisterTable table = RegisterTable::input;
  std::uint16_t first_doc = 0;  // 1-based document number
  std::uint16_t count = 0;      // words
  std::uint8_t group = 0;       // index into kReadGroups

  std::uint16_t first_wire() const { return static_cast<std::uint16_t>(first_doc - 1); }
  // Last document number covered (inclusive).
  std::uint16_t last_doc() const { return static_cast<std::uint16_t>(first_doc + count - 1); }
  friend bool operator==(const ReadRequest&, const ReadRequest&) = default;
};

// Document numbers never to read: registers found unsupported, and `once` registers already
// cached. A group losing registers is cut into the runs between them; runs that hold no map
// register are dropped (no point asking for words nobody decodes).
// `fragmented` groups (indexes into kReadGroups) are those a device refused as a block although
// each of their registers reads alone — it refuses a word between them that is not in the map
// (a WiNet-S can refuse a whole block for one unsupported word in it). Their requests are cut
// further into register_runs, so no word outside the map is ever asked for again.
std::vector<ReadRequest> build_read_plan(const std::set<std::uint16_t>& skip,
                                         const std::set<std::uint8_t>& fragmented = {});

// The fewest requests covering the map registers wholly inside `request` and no other word: each
// run is consecutive map registers whose words are contiguous, at most kMaxRegistersPerRead long.
// Map registers never lie in kWinetUnsafeRanges, so neither do the runs.
std::vector<ReadRequest> register_runs(const ReadRequest& request);

// The whole group `group` as one request, exactly as kReadGroups defines it.
ReadRequest group_request(std::uint8_t group);

// How a request that answered with an exception is retried: one request per map register inside
// it, a 32-bit register or string as all its words together (words outside the map are not read).
std::vector<ReadRequest> split(const ReadRequest& request);

// The map registers wholly covered by `request`.
std::vector<const RegisterDef*> registers_in(const ReadRequest& request);

// Document numbers of the registers of `once` groups (read on the first good cycle, then cached).
std::set<std::uint16_t> once_registers();

// Counts consecutive cycles in which a register failed with an exception; after `threshold` of
// them the register is unsupported for good (for this process).
class FailureTracker {
 public:
  explicit FailureTracker(std::uint32_t threshold = 3)
      : threshold_(threshold < 1 ? 1 : threshold) {}
  // True exactly when this failure made `doc` unsupported.
  bool failed(std::uint16_t doc);
  void succeeded(std::uint16_t doc) { failures_.erase(doc); }
  std::uint32_t failures(std::uint16_t doc) const;
  const std::set<std::uint16_t>& unsupported() const { return unsupported_; }
  bool is_unsupported(std::uint16_t doc) const { return unsupported_.contains(doc); }

 private:
  std::uint32_t threshold_;
  std::map<std::uint16_t, std::uint32_t> failures_;
  std::set<std::uint16_t> unsupported_;
};

}  // namespace sungrow::edge
