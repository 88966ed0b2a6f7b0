// BodyBudget: a server-wide cap on the request-body bytes held in memory at once.
#pragma once

#include <atomic>
#include <cstddef>
#include <optional>
#include <utility>

namespace sungrow::http::detail {

// Each body reserves its size (its Content-Length, or the body limit when chunked) before the
// first byte is read, and gives it back when the request is done. A request that does not fit
// is answered 503 instead: however many clients send at once, bodies never take more than the
// budget.
class BodyBudget {
 public:
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& other) noexcept
        : budget_(std::exchange(other.budget_, nullptr)), bytes_(other.bytes_) {}
    Reservation& operator=(Reservation&& other) noexcept {
      if (this != &other) {
        release();
        budget_ = std::exchange(other.budget_, nullptr);
        bytes_ = other.bytes_;
      }
      return *this;
    }
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    ~Reservation() { release(); }

   private:
    friend class BodyBudget;
    Reservation(BodyBudget* budget, std::size_t bytes) : budget_(budget), bytes_(bytes) {}
    void release() {
      if (budget_ != nullptr) budget_->in_use_.fetch_sub(bytes_);
      budget_ = nullptr;
    }
    BodyBudget* budget_ = nullptr;
    std::size_t bytes_ = 0;
  };

  explicit BodyBudget(std::size_t limit) : limit_(limit) {}

  // nullopt when `bytes` more would pass the limit.
  std::optional<Reservation> try_reserve(std::size_t bytes) {
    std::size_t used = in_use_.load();
    do {
      if (bytes > limit_ || used > limit_ - bytes) return std::nullopt;
    } while (!in_use_.compare_exchange_weak(used, used + bytes));
    return Reservation(this, bytes);
  }

  std::size_t in_use() const { return in_use_.load(); }
  std::size_t limit() const { return limit_; }

 private:
  std::size_t limit_;
  std::atomic<std::size_t> in_use_{0};
};

}  // namespace sungrow::http::detail
