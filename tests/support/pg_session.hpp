// PgSession: a plain libpq session for tests and benchmarks — the database behind a store, read
// (or locked) with PostgreSQL's own client library rather than through the code under test.
#pragma once

#include <memory>
#include <string>
#include <vector>

struct pg_conn;

namespace sungrow::test {

class PgSession {
 public:
  // Throws std::runtime_error with libpq's message when it cannot connect.
  explicit PgSession(const std::string& conninfo);
  PgSession(const PgSession&) = delete;
  PgSession& operator=(const PgSession&) = delete;
  ~PgSession();

  // Every row of `sql`, its columns joined by '|' (NULL as "NULL"); `params` are $1, $2, … as
  // text. Throws std::runtime_error naming the statement when it fails.
  std::vector<std::string> rows(const std::string& sql,
                                const std::vector<std::string>& params = {});

  // The single value of a one-row, one-column query (a count, a setting).
  std::string value(const std::string& sql, const std::vector<std::string>& params = {});

 private:
  pg_conn* conn_ = nullptr;
};

}  // namespace sungrow::test
