// UploadRotation::pass: one batch per due device, round-robin.
#include "sungrow/edge/upload/rotation.hpp"

#include <algorithm>
#include <utility>

namespace sungrow::edge {

UploadRotation::UploadRotation(std::vector<Uploader> uploaders, OnStep on_step)
    : on_step_(std::move(on_step)) {
  slots_.reserve(uploaders.size());
  for (auto& u : uploaders) slots_.push_back(Slot{std::move(u), Clock::time_point{}});
}

UploadRotation::Clock::time_point UploadRotation::pass(Clock::time_point now) {
  const auto n = slots_.size();
  for (std::size_t k = 0; k < n; ++k) {
    const auto i = (first_ + k) % n;
    auto& slot = slots_[i];
    if (slot.due > now) continue;
    const auto step = slot.uploader.step();
    if (on_step_ && (step.sent > 0 || step.dead_lettered > 0 || !step.ok)) on_step_(i, step);
    slot.due = Clock::now() + step.wait;
  }
  if (n > 0) first_ = (first_ + 1) % n;
  auto next = Clock::time_point::max();
  for (const auto& slot : slots_) next = std::min(next, slot.due);
  return next;
}

}  // namespace sungrow::edge
