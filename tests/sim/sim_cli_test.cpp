// Integration tests of the sungrow-sim executable: ready line, flags, signals and exit codes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <modbus.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace std::chrono_literals;

// How long to wait for the child to print, exit or close stderr. Every wait returns as soon as
// the event happens, so this only bounds a hang: it is generous because CI runs these tests on a
// loaded 2-core machine and under ASan+UBSan (slow start-up, leak check at exit).
constexpr std::chrono::milliseconds kHang = 20s;

// A child sungrow-sim with its stdout (and stderr) on pipes; killed if still running at the end.
class SimProcess {
 public:
  explicit SimProcess(std::vector<std::string> args) {
    std::array<int, 2> out{}, err{};
    EXPECT_EQ(::pipe2(out.data(), O_CLOEXEC), 0);
    EXPECT_EQ(::pipe2(err.data(), O_CLOEXEC), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
    static char exe[] = SUNGROW_SIM_EXE;
    std::vector<char*> argv{exe};
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, exe, &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    ::close(err[1]);
    stdout_ = out[0];
    stderr_ = err[0];
  }
  ~SimProcess() {
    if (pid_ > 0 && !exit_code_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(stdout_);
    ::close(stderr_);
  }
  SimProcess(const SimProcess&) = delete;
  SimProcess& operator=(const SimProcess&) = delete;

  // The first line on stdout, or "" if none arrives in time.
  std::string first_line(std::chrono::milliseconds wait = kHang) {
    return read_line(stdout_, wait);
  }
  std::string all_stderr() { return read_line(stderr_, kHang, true); }  // returns at EOF

  void signal(int sig) const { ::kill(pid_, sig); }

  // The exit code, or nullopt if the process is still running after `wait`.
  std::optional<int> wait_exit(std::chrono::milliseconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return exit_code_;
      }
      ::usleep(10'000);
    }
    return std::nullopt;
  }

 private:
  static std::string read_line(int fd, std::chrono::milliseconds wait, bool until_eof = false) {
    std::string text;
    const auto deadline = std::chrono::steady_clock::now() + wait;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      pollfd p{fd, POLLIN, 0};
      if (left <= 0ms || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char c = 0;
      if (::read(fd, &c, 1) != 1) break;
      if (c == '\n' && !until_eof) break;
      text.push_back(c);
    }
    return text;
  }

  pid_t pid_ = -1;
  int stdout_ = -1, stderr_ = -1;
  std::optional<int> exit_code_;
};

TEST(SimCli, ServesUntilSigtermThenExitsZero) {
  SimProcess sim{{"--port", "0", "--time-scale", "60", "--seed", "9", "--exception-range",
                  "5000-5001", "--exception-range", "13000", "--start", "2026-06-21T10:00:00Z"}};
  const auto line = sim.first_line();
  const std::string prefix = "sungrow-sim listening on 127.0.0.1:";
  ASSERT_EQ(line.rfind(prefix, 0), 0U) << line;
  const int port = std::stoi(line.substr(prefix.size()));
  ASSERT_GT(port, 0);

  modbus_t* ctx = modbus_new_tcp("127.0.0.1", port);
  ASSERT_NE(ctx, nullptr);
  modbus_set_slave(ctx, 1);  // libmodbus' TCP default is 0xFF, which the simulator ignores
  modbus_set_response_timeout(ctx, 5, 0);  // not libmodbus' 500 ms: the child may be slow (ASan)
  ASSERT_EQ(modbus_connect(ctx), 0);
  std::array<std::uint16_t, 2> w{};
  EXPECT_EQ(modbus_read_input_registers(ctx, 4999, 1, w.data()), -1);  // both ranges applied
  EXPECT_EQ(errno, EMBXILADD);
  EXPECT_EQ(modbus_read_input_registers(ctx, 12999, 1, w.data()), -1);
  EXPECT_EQ(errno, EMBXILADD);
  EXPECT_EQ(modbus_read_input_registers(ctx, 5241, 1, w.data()), 1);
  EXPECT_NEAR(w[0], 5000, 10);
  modbus_close(ctx);
  modbus_free(ctx);

  sim.signal(SIGTERM);
  EXPECT_EQ(sim.wait_exit(kHang), 0);
}

TEST(SimCli, SigintAlsoExitsZero) {
  SimProcess sim{{"--port", "0"}};
  ASSERT_NE(sim.first_line().find("listening"), std::string::npos);
  sim.signal(SIGINT);
  EXPECT_EQ(sim.wait_exit(kHang), 0);
}

TEST(SimCli, BadFlagsExitTwoWithAClearMessage) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--port", "abc"}, "--port"},
      {{"--exception-range", "9-3"}, "--exception-range '9-3'"},
      {{"--tz", "Mars/Base"}, "Mars/Base"},
      {{"--start", "yesterday"}, "--start"},
      {{"--unit-id", "0"}, "unit id"},
      {{"--time-scale", "-1"}, "time scale"},
      {{"--no-such-flag"}, "--no-such-flag"},
      {{"--serial", "has space"}, "serial 'has space'"},
      {{"--counter-glitch-every", "-3"}, "--counter-glitch-every"},
      {{"--clock-fault", "sometimes"}, "--clock-fault 'sometimes'"},
      {{"--clock-offset-s", "soon"}, "--clock-offset-s"},
      {{"--since", "last month"}, "--since 'last month'"},
      {{"--since", "2026-06-02T00:00:00Z", "--start", "2026-06-01T00:00:00Z"},
       "is after the start"},
      {{"--units", "1,1"}, "listed twice"},
      {{"--units", "1,x"}, "--units '1,x'"},
      {{"--units", "1,"}, "--units '1,'"},
      {{"--units", "1,300"}, "1–247"},
      {{"--unit-id", "3", "--units", "1,2"}, "excludes"},
      {{"--units", "1,2", "--fault-unit", "5"}, "fault unit 5"},
      {{"--fault-unit", "2"}, "fault unit 2"},
  };
  for (const auto& [args, message] : cases) {
    SimProcess sim{args};
    EXPECT_EQ(sim.wait_exit(kHang), 2) << args.front();
    EXPECT_NE(sim.all_stderr().find(message), std::string::npos) << args.front();
  }
}

TEST(SimCli, PortInUseExitsOne) {
  SimProcess first{{"--port", "0"}};
  const auto line = first.first_line();
  const auto port = line.substr(line.rfind(':') + 1);
  ASSERT_FALSE(port.empty());
  SimProcess second{{"--port", port}};
  EXPECT_EQ(second.wait_exit(kHang), 1);
  EXPECT_NE(second.all_stderr().find("bind"), std::string::npos);
}

// Modbus client on the child's port with the given unit id; reads one input register (doc number).
std::optional<std::uint16_t> read_one(int port, int unit, std::uint16_t doc) {
  modbus_t* ctx = modbus_new_tcp("127.0.0.1", port);
  if (ctx == nullptr) return std::nullopt;
  modbus_set_slave(ctx, unit);
  modbus_set_response_timeout(ctx, 1, 0);
  std::optional<std::uint16_t> out;
  std::uint16_t w = 0;
  if (modbus_connect(ctx) == 0 && modbus_read_input_registers(ctx, doc - 1, 1, &w) == 1) out = w;
  modbus_close(ctx);
  modbus_free(ctx);
  return out;
}

TEST(SimCli, UnitsServesMasterAndSlaveAndFaultUnitSelectsOne) {
  SimProcess sim{{"--port", "0", "--units", "1,2", "--fault-unit", "2", "--no-reply", "--start",
                  "2026-06-21T10:00:00Z"}};
  const auto line = sim.first_line();
  ASSERT_NE(line.find("listening"), std::string::npos) << line;
  const int port = std::stoi(line.substr(line.rfind(':') + 1));
  EXPECT_EQ(read_one(port, 1, 13039), 96);            // the master's 9.6 kWh battery
  EXPECT_EQ(read_one(port, 2, 13039), std::nullopt);  // the fault unit never answers
  EXPECT_EQ(read_one(port, 1, 5000), 0x0D18);
  sim.signal(SIGTERM);
  EXPECT_EQ(sim.wait_exit(kHang), 0);

  SimProcess plain{{"--port", "0", "--units", "1,2", "--time-scale", "60"}};
  const auto plain_line = plain.first_line();
  ASSERT_NE(plain_line.find("listening"), std::string::npos) << plain_line;
  const int plain_port = std::stoi(plain_line.substr(plain_line.rfind(':') + 1));
  EXPECT_EQ(read_one(plain_port, 2, 13039), 160);    // the slave's 16.0 kWh battery
  EXPECT_EQ(read_one(plain_port, 2, 5602), 0x7FFF);  // and no meter
}

}  // namespace
