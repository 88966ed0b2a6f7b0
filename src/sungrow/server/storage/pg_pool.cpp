// PgPool: lazy connects outside the lock, health check before handing out, bounded waits.
#include "sungrow/server/storage/pg_pool.hpp"

#include <fmt/format.h>

#include <utility>

namespace sungrow::storage {

PgPool::PgPool(PgConnectParams params, std::size_t size, std::chrono::milliseconds wait)
    : params_(std::move(params)), size_(size == 0 ? 1 : size), wait_(wait) {}

PgPool::~PgPool() = default;

PgPool::Lease::~Lease() {
  if (conn_) pool_->give_back(std::move(conn_));
}

StoreResult<PgPool::Lease> PgPool::acquire() {
  std::unique_ptr<PgConnection> conn;
  {
    std::unique_lock lock(mutex_);
    const bool got =
        available_.wait_for(lock, wait_, [&] { return !idle_.empty() || open_ < size_; });
    if (!got) {
      return StoreError{
          StoreErrorKind::unavailable,
          fmt::format("postgres: all {} connections busy for {} ms", size_, wait_.count())};
    }
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    } else {
      ++open_;  // reserve the slot; the connect happens without the lock
    }
  }
  if (conn && conn->still_usable()) return Lease(this, std::move(conn));
  // A new slot, or an idle connection the server closed meanwhile (restart): connect afresh.
  conn.reset();
  auto fresh = PgConnection::connect(params_);
  if (!fresh) {
    {
      std::lock_guard lock(mutex_);
      --open_;
    }
    available_.notify_one();
    return fresh.error();
  }
  return Lease(this, std::move(fresh).value());
}

void PgPool::give_back(std::unique_ptr<PgConnection> conn) {
  {
    std::lock_guard lock(mutex_);
    if (conn->usable()) {
      idle_.push_back(std::move(conn));
    } else {
      --open_;  // broken or left inside a transaction: closed below, the slot reconnects later
    }
  }
  available_.notify_one();
  // A dropped connection is closed here, after the lock (PQfinish may send a Terminate).
}

std::size_t PgPool::open_connections() const {
  std::lock_guard lock(mutex_);
  return open_;
}

}  // namespace sungrow::storage
