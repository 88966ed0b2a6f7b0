// How many connections the process can really hold: the descriptor limit, raised as far as the
// hard limit allows, minus what the rest of the server needs.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sungrow::http {

struct DescriptorLimit {
  std::uint64_t soft_before = 0;  // RLIMIT_NOFILE's soft limit at start
  std::uint64_t soft = 0;         // after raising it (equal when it could not be raised)
  std::uint64_t hard = 0;
};

// Raises the soft RLIMIT_NOFILE to the hard one. systemd starts services with a soft limit of
// 1024 whatever the hard limit, which a connection cap of 1024 can never reach: descriptors would
// run out first, and new clients would hang unanswered in the kernel's backlog.
DescriptorLimit raise_descriptor_limit();

// The connection cap the server can keep: `wanted` (MAX_CONNECTIONS), lowered to what the
// descriptor limit leaves after `reserve` (store and cache connections, logs, the listening
// socket, refusals in flight). At least 1.
std::size_t connection_cap(std::size_t wanted, std::uint64_t descriptor_limit, std::size_t reserve);

}  // namespace sungrow::http
