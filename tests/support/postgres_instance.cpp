// PostgresInstance: initdb, a postmaster child process as an unprivileged user, signals for stops.
#include "postgres_instance.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>

#include "free_port.hpp"

namespace sungrow::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

bool executable(const fs::path& p) {
  return ::access(p.c_str(), X_OK) == 0;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The server binaries: $SUNGROW_PG_BINDIR, Debian's PostgreSQL 15 location, or pg_config.
fs::path find_bindir() {
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("SUNGROW_PG_BINDIR")) candidates.emplace_back(env);
  candidates.emplace_back("/usr/lib/postgresql/15/bin");
  if (FILE* pipe = ::popen("pg_config --bindir 2>/dev/null", "r")) {
    std::array<char, 512> buffer{};
    std::string out;
    while (std::fgets(buffer.data(), static_cast<int>(buffer.size()), pipe) != nullptr) {
      out += buffer.data();
    }
    ::pclose(pipe);
    if (!trim(out).empty()) candidates.emplace_back(trim(out));
  }
  std::string looked;
  for (const auto& dir : candidates) {
    if (executable(dir / "initdb") && executable(dir / "postgres") && executable(dir / "psql") &&
        executable(dir / "pg_isready")) {
      return dir;
    }
    looked += " " + dir.string();
  }
  throw std::runtime_error(
      "PostgreSQL 15 binaries (initdb, postgres, psql, pg_isready) not found; looked in:" + looked +
      ". Install the Debian package postgresql-15 (scripts/install-deps) or set "
      "SUNGROW_PG_BINDIR.");
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string tail(const std::string& text, std::size_t n = 2000) {
  return text.size() <= n ? text : text.substr(text.size() - n);
}

struct Credentials {
  bool switch_user = false;
  unsigned uid = 0;
  unsigned gid = 0;
};

// In a forked child (only async-signal-safe calls: the parent may have other threads): become the
// unprivileged user (groups first, uid last), log to `log_fd`, exec.
[[noreturn]] void exec_child(char* const* argv, int log_fd, const Credentials& creds,
                             bool die_with_parent, pid_t parent) {
  ::dup2(log_fd, STDOUT_FILENO);
  ::dup2(log_fd, STDERR_FILENO);
  const int devnull = ::open("/dev/null", O_RDONLY);
  if (devnull >= 0) ::dup2(devnull, STDIN_FILENO);
  if (creds.switch_user) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(creds.gid) != 0 || ::setuid(creds.uid) != 0) {
      constexpr std::string_view kMessage = "postgres_instance: cannot switch user\n";
      (void)!::write(STDERR_FILENO, kMessage.data(), kMessage.size());
      ::_exit(126);
    }
  }
  if (die_with_parent) {
    // Set after the uid change (which clears it). SIGQUIT = immediate shutdown: the postmaster
    // takes its backends down with it when the test process dies for any reason.
    ::prctl(PR_SET_PDEATHSIG, SIGQUIT);
    if (::getppid() != parent) ::_exit(125);
  }
  ::execv(argv[0], argv);
  constexpr std::string_view kMessage = "postgres_instance: exec failed\n";
  (void)!::write(STDERR_FILENO, kMessage.data(), kMessage.size());
  ::_exit(127);
}

pid_t spawn(const std::vector<std::string>& argv, const fs::path& log, const Credentials& creds,
            bool die_with_parent) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw std::runtime_error("cannot open " + log.string());
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) exec_child(args.data(), log_fd, creds, die_with_parent, parent);
  ::close(log_fd);
  if (pid < 0) throw std::runtime_error("fork failed");
  return pid;
}

// Waits for `pid`; returns its exit status, or nullopt after `timeout`.
std::optional<int> reap(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0) return -1;  // not our child any more
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(10ms);
  }
}

void run_to_completion(const std::vector<std::string>& argv, const fs::path& log,
                       const Credentials& creds) {
  const pid_t pid = spawn(argv, log, creds, false);
  const auto status = reap(pid, 120s);
  if (!status) {
    ::kill(pid, SIGKILL);
    (void)reap(pid, 10s);
    throw std::runtime_error(argv[0] + " timed out:\n" + tail(read_file(log)));
  }
  if (*status != 0) {
    throw std::runtime_error(argv[0] + " failed (exit " + std::to_string(*status) + "):\n" +
                             tail(read_file(log)));
  }
}

// tmpfs when there is a roomy one: initdb and the tests' writes are several times faster there.
// A container's default /dev/shm is 64 MiB, less than a template plus a few clusters (~40 MiB
// each), so a small one is passed over for the temp directory.
fs::path default_base_dir() {
  if (const char* env = std::getenv("SUNGROW_PG_TMPDIR")) return env;
  struct statvfs shm {};
  constexpr unsigned long long kRoomy = 1ULL << 30;
  if (::access("/dev/shm", W_OK | X_OK) == 0 && ::statvfs("/dev/shm", &shm) == 0 &&
      static_cast<unsigned long long>(shm.f_bavail) * shm.f_frsize >= kRoomy) {
    return "/dev/shm";
  }
  return fs::temp_directory_path();
}

// A cluster made by initdb, kept in `base` and shared by every instance (and test process) of
// the same server user and binaries: copying it is much cheaper than initdb. Built once under an
// exclusive file lock; the "ready" marker is written last, so a half-built one is never used.
fs::path ensure_template(const fs::path& base, const Credentials& creds) {
  struct stat initdb_stat {};
  const auto initdb = find_bindir() / "initdb";
  if (::stat(initdb.c_str(), &initdb_stat) != 0) throw std::runtime_error("cannot stat initdb");
  const fs::path templ = base / ("sungrow-pg-template-" + std::to_string(creds.uid) + "-" +
                                 std::to_string(initdb_stat.st_mtime));
  const fs::path lock_path = base / ("sungrow-pg-template-" + std::to_string(creds.uid) + ".lock");
  const int lock_fd = ::open(lock_path.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd < 0) throw std::runtime_error("cannot open " + lock_path.string());
  struct Unlock {
    int fd;
    ~Unlock() { ::close(fd); }  // closing releases the flock
  } unlock{lock_fd};
  if (::flock(lock_fd, LOCK_EX) != 0) throw std::runtime_error("flock failed");
  if (fs::exists(templ / "ready")) return templ;
  const fs::path building = templ.string() + ".building";
  std::error_code ignored;
  fs::remove_all(building, ignored);
  fs::create_directories(building);
  if (creds.switch_user && ::chown(building.c_str(), creds.uid, creds.gid) != 0) {
    throw std::runtime_error("chown failed");
  }
  run_to_completion({initdb.string(), "-D", (building / "data").string(), "-U", "sungrow", "-A",
                     "trust", "-E", "UTF8", "--no-locale", "--no-sync", "--no-instructions"},
                    building / "initdb.log", creds);
  std::ofstream(building / "ready") << "initdb done\n";
  fs::rename(building, templ);
  return templ;
}

}  // namespace

PostgresInstance::PostgresInstance(const PostgresOptions& options) : bin_(find_bindir()) {
  const fs::path base = options.base_dir.empty() ? default_base_dir() : options.base_dir;
  std::string pattern = (base / "sungrow-pg-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp failed in " + base.string());
  }
  dir_ = pattern;
  try {
    if (::geteuid() == 0) {
      // PostgreSQL refuses to run as root: use the postgres system user, else nobody.
      const passwd* user = ::getpwnam("postgres");
      if (user == nullptr) user = ::getpwnam("nobody");
      if (user == nullptr) throw std::runtime_error("running as root, but no postgres/nobody user");
      switch_user_ = true;
      uid_ = user->pw_uid;
      gid_ = user->pw_gid;
      if (::chown(dir_.c_str(), uid_, gid_) != 0) throw std::runtime_error("chown failed");
    } else {
      uid_ = ::geteuid();
      gid_ = ::getegid();
    }
    fs::create_directories(dir_ / "sock");
    if (switch_user_ && ::chown((dir_ / "sock").c_str(), uid_, gid_) != 0) {
      throw std::runtime_error("chown failed");
    }
    const Credentials creds{switch_user_, uid_, gid_};
    // initdb once per machine and user (a second or more under load), then copy per instance.
    const fs::path templ = ensure_template(base, creds);
    run_to_completion({"/bin/cp", "-a", (templ / "data").string(), (dir_ / "data").string()},
                      dir_ / "copy.log", Credentials{});
    port_ = free_loopback_port();
    std::ofstream conf(dir_ / "data" / "postgresql.conf", std::ios::app);
    conf << "\n# sungrow tests\n"
         << "listen_addresses = '127.0.0.1'\n"
         << "port = " << port_ << "\n"
         << "unix_socket_directories = '" << (dir_ / "sock").string()
         << "'\n"
         // A test server's durability only has to survive its own processes dying (immediate
         // stop), which the OS page cache guarantees; synchronous_commit stays on so a commit
         // is in the WAL before the client hears about it.
         << "fsync = off\nfull_page_writes = off\n"
         << "max_connections = 60\n";
    for (const auto& line : options.settings) conf << line << "\n";
    conf.close();
    if (!conf) throw std::runtime_error("cannot write postgresql.conf");
    start();
  } catch (...) {
    if (pid_ > 0) signal_and_reap(SIGQUIT);
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
    throw;
  }
}

PostgresInstance::~PostgresInstance() {
  if (pid_ > 0) signal_and_reap(SIGQUIT);
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

std::string PostgresInstance::conninfo(const std::string& database) const {
  return "host=127.0.0.1 port=" + std::to_string(port_) + " user=sungrow dbname=" + database;
}

void PostgresInstance::create_database(const std::string& name) const {
  // The server's own client binary: the fixture needs nothing but the PostgreSQL installation.
  run_to_completion({(bin_ / "psql").string(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h",
                     "127.0.0.1", "-p", std::to_string(port_), "-U", "sungrow", "-d", "postgres",
                     "-c", "CREATE DATABASE \"" + name + "\""},
                    dir_ / "psql.log", Credentials{});
}

std::string PostgresInstance::fresh_database(const std::string& prefix) {
  const std::string name =
      prefix + "_" + std::to_string(::getpid()) + "_" + std::to_string(next_database_++);
  create_database(name);
  return conninfo(name);
}

void PostgresInstance::spawn_postmaster() {
  pid_ = spawn({(bin_ / "postgres").string(), "-D", (dir_ / "data").string()},
               dir_ / "postgres.log", Credentials{switch_user_, uid_, gid_}, true);
}

void PostgresInstance::wait_ready() {
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  const std::vector<std::string> probe{
      (bin_ / "pg_isready").string(), "-q", "-h", "127.0.0.1", "-p",
      std::to_string(port_),          "-t", "2"};
  for (;;) {
    const pid_t checker = spawn(probe, dir_ / "pg_isready.log", Credentials{}, false);
    const auto status = reap(checker, 10s);
    if (!status) {
      ::kill(checker, SIGKILL);
      (void)reap(checker, 1s);
    }
    if (status == 0) return;
    if (reap(pid_, 0ms)) {
      pid_ = -1;
      throw std::runtime_error("postgres exited during start-up:\n" +
                               tail(read_file(dir_ / "postgres.log")));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      throw std::runtime_error("postgres did not accept connections within 60 s:\n" +
                               tail(read_file(dir_ / "postgres.log")));
    }
    std::this_thread::sleep_for(20ms);
  }
}

void PostgresInstance::signal_and_reap(int signal) {
  ::kill(pid_, signal);
  if (!reap(pid_, 60s)) {
    ::kill(pid_, SIGKILL);
    (void)reap(pid_, 10s);
  }
  pid_ = -1;
}

void PostgresInstance::start() {
  if (pid_ > 0) return;
  spawn_postmaster();
  wait_ready();
}

void PostgresInstance::stop() {
  // SIGINT is the postmaster's fast shutdown (what pg_ctl -m fast sends).
  if (pid_ > 0) signal_and_reap(SIGINT);
}

void PostgresInstance::restart_immediate() {
  // SIGQUIT is the postmaster's immediate shutdown (what pg_ctl -m immediate sends).
  if (pid_ > 0) signal_and_reap(SIGQUIT);
  start();
}

PostgresInstance& shared_postgres() {
  // Constructed on first use from the test's main thread (the parent-death signal follows the
  // thread that forked); destroyed at exit, which stops the server and removes its directory.
  static PostgresInstance instance;
  return instance;
}

}  // namespace sungrow::test
