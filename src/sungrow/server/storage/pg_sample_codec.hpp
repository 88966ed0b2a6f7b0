// The samples table's columns and the text forms PostgreSQL reads them in (arrays, COPY, rows).
#pragma once

#include <libpq-fe.h>

#include <span>
#include <string>
#include <string_view>

#include "sungrow/core/sample.hpp"
#include "sungrow/server/storage/pg_connection.hpp"

namespace sungrow::storage {

// "device_id, ts, seq, pv_power_w, …, power_flow_raw, ts_source, ts_adjust_ms": one real column per
// field of the wire contract, so SQL users query samples directly.
const std::string& pg_sample_columns();

// The same list with ts read back as epoch milliseconds, for pg_sample_from_row.
const std::string& pg_sample_select_list();

// "$1::text[], $2::timestamptz[], …": the unnest() arguments matching pg_sample_columns.
const std::string& pg_sample_unnest_args();

// One parameter per column: a PostgreSQL array literal of that column over `samples`. Doubles are
// written in their shortest round-trip form, which float8 input parses back to the same double.
PgParams pg_sample_arrays(std::span<const Sample* const> samples);

// The rows in COPY's text format (tab-separated, \N for NULL, one line per sample).
std::string pg_sample_copy_text(std::span<const Sample* const> samples);

// Row `row` of a result selected with pg_sample_select_list, starting at column `first`.
StoreResult<Sample> pg_sample_from_row(const PGresult* result, int row, int first = 0);

// Appends `text` as a double-quoted array element (backslash-escaping '"' and '\').
void append_array_element(std::string& out, std::string_view text);

}  // namespace sungrow::storage
