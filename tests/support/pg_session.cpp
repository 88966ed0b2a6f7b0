// PgSession over libpq: connect, run, read every row as text.
#include "pg_session.hpp"

#include <libpq-fe.h>

#include <memory>
#include <stdexcept>

namespace sungrow::test {

PgSession::PgSession(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
  if (PQstatus(conn_) != CONNECTION_OK) {
    const std::string why = PQerrorMessage(conn_);
    PQfinish(conn_);
    throw std::runtime_error("PostgreSQL: " + why);
  }
}

PgSession::~PgSession() {
  PQfinish(conn_);
}

std::vector<std::string> PgSession::rows(const std::string& sql,
                                         const std::vector<std::string>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p.c_str());
  const std::unique_ptr<PGresult, decltype(&PQclear)> r(
      PQexecParams(conn_, sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                   nullptr, nullptr, 0),
      &PQclear);
  const auto status = PQresultStatus(r.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    throw std::runtime_error(sql + ": " + PQresultErrorMessage(r.get()));
  }
  std::vector<std::string> out;
  for (int row = 0; row < PQntuples(r.get()); ++row) {
    std::string line;
    for (int c = 0; c < PQnfields(r.get()); ++c) {
      if (c > 0) line += '|';
      line += PQgetisnull(r.get(), row, c) != 0 ? "NULL" : PQgetvalue(r.get(), row, c);
    }
    out.push_back(std::move(line));
  }
  return out;
}

std::string PgSession::value(const std::string& sql, const std::vector<std::string>& params) {
  const auto all = rows(sql, params);
  if (all.size() != 1) throw std::runtime_error(sql + ": expected one row");
  return all.front();
}

}  // namespace sungrow::test
