// RLIMIT_NOFILE raised to its hard limit, and the connection cap derived from it.
#include "sungrow/server/http/descriptor_limit.hpp"

#include <sys/resource.h>

#include <algorithm>

namespace sungrow::http {

DescriptorLimit raise_descriptor_limit() {
  DescriptorLimit out;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return out;
  out.soft_before = limit.rlim_cur;
  out.soft = limit.rlim_cur;
  out.hard = limit.rlim_max;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) out.soft = limit.rlim_max;
  }
  return out;
}

std::size_t connection_cap(std::size_t wanted, std::uint64_t descriptor_limit,
                           std::size_t reserve) {
  if (descriptor_limit <= reserve) return 1;
  const std::uint64_t room = descriptor_limit - reserve;
  return std::max<std::size_t>(1, static_cast<std::size_t>(std::min<std::uint64_t>(wanted, room)));
}

}  // namespace sungrow::http
