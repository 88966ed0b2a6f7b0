// Whether the kernel says the system clock is synchronized (by NTP, chrony or timesyncd).
#pragma once

namespace sungrow::edge {

// Asks the kernel (ntp_adjtime, read only: no privilege needed). False when it reports
// TIME_ERROR or STA_UNSYNC, and when it cannot be asked: an unknown clock is not a synchronized
// one. A Raspberry Pi after a boot without network stays false until its NTP client syncs.
bool system_clock_synchronized();

}  // namespace sungrow::edge
