// A fixed-size pool of PostgreSQL connections, opened lazily and replaced when they break.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <vector>

#include "sungrow/server/storage/pg_connection.hpp"

namespace sungrow::storage {

// Thread-safe. At most `size` connections exist; a caller waits up to `wait` for one, then gets
// `unavailable` (the HTTP layer answers 503 and the client retries). A connection that failed is
// never handed out again: the slot reconnects at its next use, so after a server restart the
// pool heals itself without a restart of ours.
class PgPool {
 public:
  PgPool(PgConnectParams params, std::size_t size, std::chrono::milliseconds wait);
  PgPool(const PgPool&) = delete;
  PgPool& operator=(const PgPool&) = delete;
  ~PgPool();

  // Exclusive use of one connection; gives it back (or drops it when broken) on destruction.
  class Lease {
   public:
    Lease(PgPool* pool, std::unique_ptr<PgConnection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&&) = delete;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease();

    PgConnection& operator*() const { return *conn_; }
    PgConnection* operator->() const { return conn_.get(); }

   private:
    PgPool* pool_;
    std::unique_ptr<PgConnection> conn_;
  };

  StoreResult<Lease> acquire();

  // Connections currently open (idle or leased); for tests.
  std::size_t open_connections() const;

 private:
  void give_back(std::unique_ptr<PgConnection> conn);

  const PgConnectParams params_;
  const std::size_t size_;
  const std::chrono::milliseconds wait_;
  mutable std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<PgConnection>> idle_;
  std::size_t open_ = 0;  // idle + leased + being connected
};

}  // namespace sungrow::storage
