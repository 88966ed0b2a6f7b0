// The pipeline benchmark's server side and /proc readings (see stack.hpp).
#include "stack.hpp"

#include <dirent.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "http_client.hpp"
#include "pg_session.hpp"

namespace sungrow::bench {

namespace fs = std::filesystem;

std::string bin_dir() {
  return SUNGROW_BIN_DIR;
}

long status_kib(pid_t pid, const std::string& key) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  }
  return -1;
}

double mib(long kib) {
  return static_cast<double>(kib) / 1024.0;
}

int socket_count(pid_t pid) {
  int n = 0;
  std::error_code ec;
  for (fs::directory_iterator it(fmt::format("/proc/{}/fd", pid), ec), end; !ec && it != end;
       it.increment(ec)) {
    std::error_code link_ec;
    if (fs::read_symlink(it->path(), link_ec).string().starts_with("socket:")) ++n;
  }
  return n;
}

namespace {

// Fields of /proc/PID/stat after the "(comm)" part, numbered as in proc(5); empty when gone.
std::vector<std::string> stat_fields(pid_t pid, std::string* comm = nullptr) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string text;
  if (!std::getline(in, text)) return {};
  const auto open = text.find('(');
  const auto close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos) return {};
  if (comm) *comm = text.substr(open + 1, close - open - 1);
  std::vector<std::string> fields{"", text.substr(0, open - 1), ""};  // 1 = pid, 2 = comm
  std::istringstream rest(text.substr(close + 2));
  for (std::string f; rest >> f;) fields.push_back(f);
  return fields;
}

// Every process whose parent is `parent`, read from /proc.
std::vector<pid_t> children_of(pid_t parent, const std::string* comm_filter = nullptr) {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    const auto pid = static_cast<pid_t>(std::stol(name));
    std::string comm;
    const auto f = stat_fields(pid, &comm);
    if (f.size() <= 4 || std::stol(f[4]) != parent) continue;
    if (comm_filter && comm != *comm_filter) continue;
    out.push_back(pid);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

double ticks_to_seconds(long ticks) {
  return static_cast<double>(ticks) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// Busy CPU time of the whole machine: the "cpu" line of /proc/stat minus idle and iowait.
double machine_busy_seconds() {
  std::ifstream in("/proc/stat");
  std::string label;
  long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  in >> label >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  return ticks_to_seconds(user + nice + system + irq + softirq + steal);
}

// Our one child named `comm`; nullopt when there is none or more than one (no guessing).
std::optional<pid_t> only_child(const std::string& comm) {
  const auto pids = children_named(comm);
  if (pids.size() != 1) return std::nullopt;
  return pids.front();
}

double metric_value(const std::string& text, const std::string& name) {
  // A sample line is "name value" with the labels (if any) part of name.
  const auto at = text.find("\n" + name + " ");
  if (at == std::string::npos) return 0;
  return std::stod(text.substr(at + name.size() + 2));
}

}  // namespace

double tree_cpu_seconds(pid_t pid) {
  const auto f = stat_fields(pid);
  if (f.size() <= 17) return 0;
  // utime, stime, cutime, cstime: fields 14..17.
  long ticks = std::stol(f[14]) + std::stol(f[15]) + std::stol(f[16]) + std::stol(f[17]);
  double seconds = ticks_to_seconds(ticks);
  for (const pid_t child : children_of(pid)) seconds += tree_cpu_seconds(child);
  return seconds;
}

double self_cpu_seconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  const auto s = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
  };
  return s(ru.ru_utime) + s(ru.ru_stime);
}

std::vector<pid_t> children_named(const std::string& comm) {
  return children_of(::getpid(), &comm);
}

pid_t postmaster_pid() {
  const auto pid = only_child("postgres");
  if (!pid) throw std::runtime_error("expected exactly one postmaster among our children");
  return pid.value();
}

Stack::Stack(test::PostgresInstance& pg, StackOptions options)
    : pg_statements_(options.pg_statements) {
  conninfo_ = pg.fresh_database("bench");
  if (pg_statements_) test::PgSession(conninfo_).rows("CREATE EXTENSION pg_stat_statements");
  redis_pid_ = only_child("redis-server");
  const auto tokens_file = options.dir / "tokens";
  {
    std::ofstream out(tokens_file);
    for (const auto& [token, device] : options.tokens) out << token << ':' << device << '\n';
    if (!out) throw std::runtime_error("cannot write " + tokens_file.string());
  }
  fs::permissions(tokens_file, fs::perms::owner_read | fs::perms::owner_write);
  // Production log level (info: one access line per request) and every other server default.
  server_ = std::make_unique<test::ServerProcess>(
      bin_dir() + "/sungrow-server",
      std::vector<std::string>{"--database-url", conninfo_, "--redis-url", redis_.url(),
                               "--device-tokens-file", tokens_file.string(), "--log-level", "info"},
      options.dir / "server.log");
  if (options.via_caddy) {
    caddy_ = std::make_unique<test::CaddyInstance>(fmt::format("127.0.0.1:{}", server_->port()));
    caddy_pid_ = only_child("caddy");
  }
}

Stack::~Stack() {
  caddy_.reset();
  server_.reset();
}

std::string Stack::ingest_url() const {
  return caddy_ ? caddy_->url("/v1/ingest") : server_->base_url() + "/v1/ingest";
}

std::string Stack::ca_file() const {
  return caddy_ ? caddy_->root_ca().string() : std::string{};
}

std::int64_t Stack::rows() const {
  return std::stoll(test::PgSession(conninfo_).value("SELECT count(*) FROM samples"));
}

std::size_t Stack::ingest_clients() const {
  std::set<std::string> clients;
  std::istringstream log(server_->log());
  const std::string marker = " \"POST /v1/ingest\"";
  for (std::string line; std::getline(log, line);) {
    const auto at = line.find(marker);
    const auto start = line.rfind(' ', at == std::string::npos ? 0 : at - 1);
    if (at != std::string::npos && start != std::string::npos)
      clients.insert(line.substr(start + 1, at - start - 1));
  }
  return clients.size();
}

void Stack::reset_statements() const {
  if (pg_statements_) test::PgSession(conninfo_).rows("SELECT pg_stat_statements_reset()");
}

std::string Stack::top_statements(int n) const {
  if (!pg_statements_) return {};
  const auto sql = fmt::format(
      "SELECT calls, round(total_exec_time)::bigint, round(mean_exec_time::numeric, 3), rows, "
      "regexp_replace(left(query, 110), '\\s+', ' ', 'g') FROM pg_stat_statements "
      "ORDER BY total_exec_time DESC LIMIT {}",
      n);
  std::string out;
  for (const auto& row : test::PgSession(conninfo_).rows(sql)) {
    std::vector<std::string> cells;
    std::size_t from = 0;
    for (int c = 0; c < 4; ++c) {
      const auto bar = row.find('|', from);
      cells.push_back(row.substr(from, bar - from));
      from = bar + 1;
    }
    cells.push_back(row.substr(from));  // the query text may hold '|' itself
    out += fmt::format("    {:>7} calls {:>7} ms total {:>8} ms/call {:>8} rows  {}\n", cells[0],
                       cells[1], cells[2], cells[3], cells[4]);
  }
  return out;
}

Stack::IngestMetrics Stack::ingest_metrics() const {
  // Straight to the server: /metrics stays off the public proxy in production too.
  const auto reply = test::http_get(server_->base_url() + "/metrics");
  if (reply.status != 200) throw std::runtime_error("GET /metrics: " + reply.error);
  const std::string text = "\n" + reply.body;
  IngestMetrics m;
  m.count =
      metric_value(text, R"(sungrow_http_request_duration_seconds_count{route="/v1/ingest"})");
  m.seconds =
      metric_value(text, R"(sungrow_http_request_duration_seconds_sum{route="/v1/ingest"})");
  m.inserted = metric_value(text, "sungrow_samples_inserted_total");
  m.duplicates = metric_value(text, "sungrow_samples_duplicate_total");
  return m;
}

CpuSnapshot Stack::cpu(pid_t postmaster) const {
  CpuSnapshot s;
  s.at = std::chrono::steady_clock::now();
  s.machine_busy = machine_busy_seconds();
  s.seconds["server"] = tree_cpu_seconds(server_->process().pid());
  s.seconds["postgres"] = tree_cpu_seconds(postmaster);
  if (redis_pid_) s.seconds["redis"] = tree_cpu_seconds(*redis_pid_);
  if (caddy_pid_) s.seconds["caddy"] = tree_cpu_seconds(*caddy_pid_);
  return s;
}

std::optional<int> Stack::stop_server() {
  return server_->terminate();
}

std::string cpu_breakdown(const CpuSnapshot& from, const CpuSnapshot& to, int cores) {
  const double wall = std::chrono::duration<double>(to.at - from.at).count();
  std::string out;
  double total = 0;
  for (const auto& [name, end] : to.seconds) {
    const auto start = from.seconds.find(name);
    const double used = end - (start == from.seconds.end() ? 0.0 : start->second);
    total += used;
    out += fmt::format("{}{} {:.1f} s ({:.0f} %)", out.empty() ? "" : ", ", name, used,
                       100.0 * used / (wall * cores));
  }
  const double others = std::max(0.0, to.machine_busy - from.machine_busy - total);
  out += fmt::format(
      "; all {:.1f} s of {:.1f} s available on {} cores ({:.0f} %); other processes on the "
      "machine {:.1f} s ({:.0f} %)",
      total, wall * cores, cores, 100.0 * total / (wall * cores), others,
      100.0 * others / (wall * cores));
  return out;
}

}  // namespace sungrow::bench
