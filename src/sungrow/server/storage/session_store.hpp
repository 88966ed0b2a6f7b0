// Browser sessions of the dashboard, kept as digests in the same database as the samples: they
// survive a restart, and several server replicas behind one proxy share them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "sungrow/core/time.hpp"
#include "sungrow/server/storage/store.hpp"

namespace sungrow::storage {

struct SessionRecord {
  std::string viewer_digest;  // hex SHA-256 of the viewer token the session was opened with
  Timestamp expires{};
};

// Implemented by both stores. Every key is the hex SHA-256 of the session id the browser holds:
// the database never holds anything a browser could present.
class SessionStore {
 public:
  SessionStore() = default;
  SessionStore(const SessionStore&) = delete;
  SessionStore& operator=(const SessionStore&) = delete;
  virtual ~SessionStore() = default;

  // Stores a new session; sessions expired before `now` are removed on the way.
  virtual StoreResult<void> save_session(std::string_view id_digest, std::string_view viewer_digest,
                                         Timestamp now, Timestamp expires) = 0;
  // The session when it exists and has not expired at `now`.
  virtual StoreResult<std::optional<SessionRecord>> find_session(std::string_view id_digest,
                                                                 Timestamp now) = 0;
  virtual StoreResult<void> delete_session(std::string_view id_digest) = 0;
};

}  // namespace sungrow::storage
