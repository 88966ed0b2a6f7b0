// UploadRotation: one Uploader per device, taking turns on the uplink so that no device's
// backlog starves another's live samples.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <vector>

#include "sungrow/edge/upload/uploader.hpp"

namespace sungrow::edge {

// Not thread-safe: owned by the upload thread.
class UploadRotation {
 public:
  using Clock = std::chrono::steady_clock;
  // Told about every step that posted (or failed), with the index of its device.
  using OnStep = std::function<void(std::size_t device, const UploadStep& step)>;

  UploadRotation(std::vector<Uploader> uploaders, OnStep on_step);

  // One pass: every device whose wait is over takes one step (at most one batch), in turn,
  // starting one further on than the previous pass. A device catching up has no wait after a
  // full batch, so it is due again on the next pass — after every other due device had its
  // batch. Returns when the next device will be due.
  Clock::time_point pass(Clock::time_point now);

  std::size_t size() const { return slots_.size(); }

 private:
  struct Slot {
    Uploader uploader;
    Clock::time_point due;
  };
  std::vector<Slot> slots_;
  OnStep on_step_;
  std::size_t first_ = 0;  // where the next pass starts
};

}  // namespace sungrow::edge
