// Test builds only: a SampleStore decorator injecting the server-side faults of the fault
// campaigns.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "sungrow/core/result.hpp"
#include "sungrow/server/storage/store.hpp"

namespace sungrow::app {

struct StoreFault {
  enum class Kind {
    // SIGKILL right after the Nth batch that inserted something committed: the reply is lost
    // and the edge must re-send a batch the database already holds.
    kill_after_commit,
    // Every Nth batch is answered as stored without touching the store: the broken server of
    // the negative control, so an oracle can be shown to see a loss.
    ack_without_commit,
  };
  Kind kind = Kind::kill_after_commit;
  std::uint64_t every = 1;
};

// "kill_after_commit:N" or "ack_without_commit:N" (N >= 1), from SUNGROW_TEST_STORE_FAULT.
Result<StoreFault> parse_store_fault(std::string_view text);

// Wraps `inner`; each batch the fault drops is logged at warn by the "test-fault" logger as "acked
// without storing device=D seqs=a,b,…" so a test knows exactly what was lost.
std::unique_ptr<storage::SampleStore> with_store_fault(std::unique_ptr<storage::SampleStore> inner,
                                                       StoreFault fault);

}  // namespace sungrow::app
