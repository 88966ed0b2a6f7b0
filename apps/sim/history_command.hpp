// `sungrow-sim history`: its flags, and running it (the work itself is in sungrow::sim_history).
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <string>

#include "sungrow/sim/history.hpp"
#include "sungrow/sim/history_load.hpp"

namespace sungrow::sim {

// Raw flag values, checked and completed by run_history.
struct HistoryArgs {
  HistoryOptions history;
  HistoryLoadOptions load;
  std::string end;  // RFC 3339; empty = now
  std::string ca_file;
  unsigned step_s = 60;
  unsigned timeout_s = 30;
};

// Adds the subcommand with its flags bound to `args`.
CLI::App* add_history_command(CLI::App& app, HistoryArgs& args);

// Generates and uploads; prints progress to stderr and the summary line to stdout. Returns the
// process exit code: 0 done, 1 the server refused or could not be reached, 2 bad flags.
int run_history(HistoryArgs& args);

}  // namespace sungrow::sim
