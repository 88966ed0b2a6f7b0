// The kernel's pick of a free loopback TCP port, for test servers that need a port up front.
#pragma once

#include <cstdint>

namespace sungrow::test {

// Another process may take the port before the caller binds it; callers that can, retry.
std::uint16_t free_loopback_port();

}  // namespace sungrow::test
