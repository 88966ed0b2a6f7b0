// The pipeline of real processes and its oracle (see pipeline.hpp).
#include "pipeline.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <fstream>
#include <map>
#include <stdexcept>
#include <thread>

#include "edge_health.hpp"
#include "http_client.hpp"
#include "pg_session.hpp"
#include "postgres_instance.hpp"
#include "sim_child.hpp"
#include "sungrow/core/time.hpp"
#include "sungrow/edge/spool/spool.hpp"

namespace sungrow::test {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kBinDir = SUNGROW_BIN_DIR;

fs::path make_temp_dir() {
  std::string pattern = (fs::temp_directory_path() / "sungrow-pipeline.XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp " + pattern);
  return pattern;
}

std::string join(const std::vector<std::int64_t>& seqs, std::size_t max = 20) {
  std::string out;
  for (std::size_t i = 0; i < seqs.size() && i < max; ++i) out += fmt::format(" {}", seqs[i]);
  if (seqs.size() > max) out += fmt::format(" … ({} in all)", seqs.size());
  return out;
}

std::string all_logs(const fs::path& dir, const std::string& stem, int count) {
  std::string text;
  for (int i = 1; i <= count; ++i) text += read_text_file(dir / fmt::format("{}-{}.log", stem, i));
  return text;
}

}  // namespace

bool OracleReport::clean() const {
  return missing.empty() && duplicated.empty() && unexpected.empty() && ts_not_rising.empty() &&
         dead_letters == 0 && spool_depth == 0;
}

std::string OracleReport::summary() const {
  return fmt::format(
      "committed {} (seq 1..{}), stored rows {}, lost {}:{}, duplicated {}:{}, unexpected {}:{}, "
      "ts not rising {}:{}, dead letters {}, spool depth {}",
      committed, committed, stored_rows, missing.size(), join(missing), duplicated.size(),
      join(duplicated), unexpected.size(), join(unexpected), ts_not_rising.size(),
      join(ts_not_rising), dead_letters, spool_depth);
}

Pipeline::Pipeline(PipelineOptions options) : options_(std::move(options)), dir_(make_temp_dir()) {
  conninfo_ = shared_postgres().fresh_database("pipe");
  start_server();
  if (options_.via_caddy) {
    caddy_ = std::make_unique<CaddyInstance>(fmt::format("127.0.0.1:{}", server_port_));
  }
  auto sim = start_sim(kBinDir, dir_ / "sim.log", options_.sim_args);
  sim_ = std::move(sim.process);
  sim_port_ = sim.port;
}

Pipeline::~Pipeline() {
  edge_.reset();
  sim_.reset();
  caddy_.reset();
  server_.reset();
  std::error_code ec;
  if (!::getenv("SUNGROW_KEEP_TEST_DIRS")) fs::remove_all(dir_, ec);
}

fs::path Pipeline::spool_path() const {
  return (options_.spool_dir.empty() ? dir_ : options_.spool_dir) / "spool.db";
}

double Pipeline::wall_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - built_).count();
}

void Pipeline::start_server() {
  server_.reset();  // a server that died by itself is reaped here
  std::vector<std::string> args{"--database-url",  conninfo_,
                                "--redis-url",     redis_.url(),
                                "--device-tokens", fmt::format("{}:{}", kToken, kDevice),
                                "--log-level",     "info"};
  if (server_port_ != 0) args.insert(args.end(), {"--port", std::to_string(server_port_)});
  // A restart may find the port still held for a moment by the killed process's sockets.
  for (int attempt = 0;; ++attempt) {
    try {
      ++server_starts_;
      server_ = std::make_unique<ServerProcess>(kBinDir + "/sungrow-server", args,
                                                dir_ / fmt::format("server-{}.log", server_starts_),
                                                options_.server_env);
      break;
    } catch (const std::runtime_error&) {
      if (attempt >= 20) throw;
      std::this_thread::sleep_for(250ms);
    }
  }
  server_port_ = server_->port();
}

void Pipeline::kill_server() {
  if (server_) server_->kill();
}

std::optional<int> Pipeline::server_exit(std::chrono::milliseconds wait) {
  if (!server_) return std::nullopt;
  return server_->process().wait(wait);
}

void Pipeline::restart_postgres_immediate() {
  shared_postgres().restart_immediate();
}

void Pipeline::start_edge() {
  // Flags given in edge_args replace these defaults (CLI11 refuses a repeated option).
  std::vector<std::pair<std::string, std::string>> flags{
      {"--host", "127.0.0.1"},
      {"--port", sim_port_},
      {"--device-id", kDevice},
      {"--ingest-url", ingest_url()},
      {"--token", kToken},
      {"--spool-path", spool_path().string()},
      {"--health-path", (dir_ / "health.json").string()},
      {"--test-poll-interval-ms", "200"},
      {"--modbus-timeout", "500"},
      {"--batch-size", "10"},
      {"--max-batch-size", "200"},
      {"--upload-interval", "1"},
      {"--upload-timeout", "3"},
      {"--log-level", "info"}};
  if (caddy_) flags.emplace_back("--ca-file", caddy_->root_ca().string());
  std::vector<std::string> argv{kBinDir + "/sungrow-edge", "run"};
  for (const auto& [flag, value] : flags) {
    if (std::find(options_.edge_args.begin(), options_.edge_args.end(), flag) ==
        options_.edge_args.end())
      argv.insert(argv.end(), {flag, value});
  }
  argv.insert(argv.end(), options_.edge_args.begin(), options_.edge_args.end());
  ++edge_starts_;
  edge_ = std::make_unique<ChildProcess>(argv, dir_ / fmt::format("edge-{}.log", edge_starts_),
                                         options_.edge_env);
}

void Pipeline::kill_edge() {
  if (!edge_) return;
  edge_->signal(SIGKILL);
  edge_->wait(10s);
  edge_.reset();
}

std::optional<int> Pipeline::stop_edge() {
  if (!edge_) return std::nullopt;
  edge_->signal(SIGTERM);
  auto status = edge_->wait(20s);
  edge_.reset();
  return status;
}

bool Pipeline::edge_running() const {
  return edge_ && edge_->running();
}

void Pipeline::stop_sim() {
  if (!sim_) return;
  sim_->signal(SIGTERM);
  sim_->wait(10s);
  sim_.reset();
  if (!edge_running()) return;
  if (!wait_for_edge_report(health_path(), EdgeLoop::poll, false, now_utc(), 30s))
    throw std::runtime_error("the edge never reported a failed poll after the simulator stopped");
}

std::string Pipeline::ingest_url() const {
  return caddy_ ? caddy_->url("/v1/ingest")
                : fmt::format("http://127.0.0.1:{}/v1/ingest", server_port_);
}

Pipeline::Reply Pipeline::get(const std::string& path_and_query) const {
  HttpRequest request;
  request.url = caddy_ ? caddy_->url(path_and_query)
                       : fmt::format("http://127.0.0.1:{}{}", server_port_, path_and_query);
  request.headers.push_back(fmt::format("Authorization: Bearer {}", kToken));
  if (caddy_) request.ca_file = caddy_->root_ca().string();
  auto reply = http_call(request);
  return Reply{reply.status, std::move(reply.body)};
}

std::optional<boost::json::value> Pipeline::edge_health() const {
  return read_edge_health(health_path());
}

bool Pipeline::wait_until_drained(std::chrono::seconds timeout) const {
  return wait_until_edge_drained(health_path(), timeout);
}

bool Pipeline::wait_for_health(const std::function<bool(const boost::json::value&)>& ready,
                               std::chrono::seconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto h = edge_health(); h && ready(*h)) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

bool Pipeline::wait_for_backlog(std::uint64_t depth, std::chrono::seconds timeout) const {
  return wait_for_health(
      [depth](const boost::json::value& h) {
        const auto& spool = h.at("spool");
        return static_cast<std::uint64_t>(spool.at("depth").as_int64() +
                                          spool.at("pending_in_memory").as_int64()) >= depth;
      },
      timeout);
}

std::string Pipeline::edge_log() const {
  return all_logs(dir_, "edge", edge_starts_);
}

std::string Pipeline::server_log() const {
  return all_logs(dir_, "server", server_starts_);
}

std::string Pipeline::sim_log() const {
  return read_text_file(dir_ / "sim.log");
}

std::int64_t Pipeline::stored_rows() const {
  return std::stoll(PgSession(conninfo_).value("SELECT count(*) FROM samples"));
}

OracleReport Pipeline::oracle() const {
  OracleReport report;
  {
    auto spool = edge::Spool::open(spool_path());
    if (!spool) throw std::runtime_error("oracle: spool: " + spool.error().message);
    const auto stats = spool.value().stats();
    report.committed = stats.last_seq;
    report.dead_letters = stats.dead_letters;
    report.spool_depth = stats.depth;
  }
  const auto rows = PgSession(conninfo_).rows(
      "SELECT seq, (extract(epoch FROM ts) * 1000)::bigint FROM samples WHERE device_id = $1 "
      "ORDER BY seq, ts",
      {kDevice});
  std::map<std::int64_t, std::vector<std::int64_t>> ts_by_seq;
  report.stored_rows = static_cast<std::int64_t>(rows.size());
  for (const auto& row : rows) {
    const auto bar = row.find('|');
    ts_by_seq[std::stoll(row.substr(0, bar))].push_back(std::stoll(row.substr(bar + 1)));
  }
  std::optional<std::int64_t> previous_ts;
  for (std::int64_t seq = 1; seq <= report.committed; ++seq) {
    const auto it = ts_by_seq.find(seq);
    if (it == ts_by_seq.end()) {
      report.missing.push_back(seq);
      continue;
    }
    if (it->second.size() > 1) report.duplicated.push_back(seq);
    if (previous_ts && it->second.front() <= *previous_ts) report.ts_not_rising.push_back(seq);
    previous_ts = it->second.front();
  }
  for (const auto& [seq, ts] : ts_by_seq) {
    if (seq < 1 || seq > report.committed) report.unexpected.push_back(seq);
  }
  return report;
}

std::vector<std::string> lines_after(const std::string& log, const std::string& marker) {
  std::vector<std::string> out;
  for (auto pos = log.find(marker); pos != std::string::npos; pos = log.find(marker, pos + 1)) {
    const auto start = pos + marker.size();
    out.push_back(log.substr(start, log.find('\n', start) - start));
  }
  return out;
}

}  // namespace sungrow::test
