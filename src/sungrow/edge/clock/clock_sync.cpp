// The kernel's clock discipline status, read without changing anything.
#include "sungrow/edge/clock/clock_sync.hpp"

#include <sys/timex.h>

namespace sungrow::edge {

bool system_clock_synchronized() {
  timex tx{};  // modes = 0: read only
  const int state = ::ntp_adjtime(&tx);
  if (state == -1 || state == TIME_ERROR) return false;
  return (tx.status & STA_UNSYNC) == 0;
}

}  // namespace sungrow::edge
