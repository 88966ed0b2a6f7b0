// The PostgreSQL ceiling for bench/server/side_by_side.sh: the fleet's rows written straight into
// the server's samples table, with no HTTP server in between, by raw COPY or by INSERT … unnest.
//
//   pg_ceiling --url URL --mode copy|unnest --batch N --clients C --seconds S --devices D
//              --first-n N [--prefix bench-]
//
// Each client owns the devices i with i % C == client and writes one device's next batch per
// transaction (COPY: BEGIN, COPY, COMMIT; unnest: one autocommitted statement, ON CONFLICT DO
// NOTHING as the server does). Rows are those fleet.lua sends for the same device and batch, so
// the server and its ceiling store the same rows. Rows are counted in PostgreSQL before and after
// the run; prints "rows=R seconds=S rows_per_s=X".
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "sungrow/server/storage/pg_connection.hpp"
#include "sungrow/server/storage/pg_sample_codec.hpp"
#include "sungrow/server/storage/pg_sql.hpp"

namespace {

using namespace sungrow;
using storage::PgConnection;

struct Options {
  std::string url;
  std::string mode = "copy";
  int batch = 1000;
  int clients = 1;
  double seconds = 10;
  int devices = 1000;
  std::int64_t first_n = 0;  // the number of each device's first sample (fleet.lua's FIRST_N)
  std::string prefix = "bench-";
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "pg_ceiling: %s\nusage: pg_ceiling --url URL --mode copy|unnest --batch N "
               "--clients C --seconds S --devices D --first-n N [--prefix P]\n",
               why.c_str());
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) usage("missing value after " + std::string(flag));
    const std::string value = argv[++i];
    try {
      if (flag == "--url")
        o.url = value;
      else if (flag == "--mode")
        o.mode = value;
      else if (flag == "--batch")
        o.batch = std::stoi(value);
      else if (flag == "--clients")
        o.clients = std::stoi(value);
      else if (flag == "--seconds")
        o.seconds = std::stod(value);
      else if (flag == "--devices")
        o.devices = std::stoi(value);
      else if (flag == "--first-n")
        o.first_n = std::stoll(value);
      else if (flag == "--prefix")
        o.prefix = value;
      else
        usage("unknown option " + std::string(flag));
    } catch (const std::logic_error&) {
      usage("bad value for " + std::string(flag) + ": " + value);
    }
  }
  if (o.url.empty()) usage("--url is required");
  if (o.mode != "copy" && o.mode != "unnest") usage("--mode must be copy or unnest");
  if (o.batch < 1 || o.clients < 1 || o.devices < 1 || o.seconds <= 0) usage("values must be > 0");
  return o;
}

// The device id fleet.lua gives device number `i` (1-based, four digits).
std::string device_name(const std::string& prefix, int i) {
  char digits[16];
  std::snprintf(digits, sizeof digits, "%04d", i);
  return prefix + digits;
}

// 2024-01-01T00:00:00Z, fleet.lua's too: sample n of a device is stamped 5·n s after it.
constexpr std::int64_t kBaseEpoch = 1704067200;

// Sample n of a device: the formulas of fleet.lua's sample_json (a sunny noon on an SH4.0RS).
Sample fleet_sample(const std::string& device, std::int64_t n) {
  Sample s;
  s.device_id = device;
  s.ts = Timestamp{std::chrono::seconds{kBaseEpoch + n * 5}};
  s.seq = n + 1;
  const double pv = 2400 + static_cast<double>((n * 37) % 200);
  const double load = 650 + static_cast<double>((n * 53) % 120);
  const double battery = -(1200 + static_cast<double>((n * 29) % 80));
  s.pv_power_w = pv;
  s.mppt1_voltage_v = 312.5;
  s.mppt1_current_a = pv / 2 / 312.5;
  s.mppt2_voltage_v = 305.2;
  s.mppt2_current_a = pv / 2 / 305.2;
  s.load_power_w = load;
  s.grid_power_w = load - pv - battery;
  s.grid_power_source = GridPowerSource::meter;
  s.battery_power_w = battery;
  s.grid_voltage_v = 231.4;
  s.grid_frequency_hz = 50.01;
  s.inverter_temperature_c = 41.3;
  s.battery_soc_pct = 40 + static_cast<double>(n % 500) * 0.1;
  s.battery_soh_pct = 98.0;
  s.battery_voltage_v = 52.3;
  s.battery_current_a = battery / 52.3;
  s.battery_temperature_c = 24.5;
  s.pv_energy_today_kwh = 7.4 + static_cast<double>(n) * 0.0001;
  s.pv_energy_total_kwh = 12345.6 + static_cast<double>(n) * 0.0034;
  s.grid_import_today_kwh = 3.01;
  s.grid_import_total_kwh = 4321.0 + static_cast<double>(n) * 0.00001;
  s.grid_export_today_kwh = 1.20;
  s.grid_export_total_kwh = 2345.0 + static_cast<double>(n) * 0.0012;
  s.battery_charge_today_kwh = 2.50;
  s.battery_charge_total_kwh = 1500.0 + static_cast<double>(n) * 0.0016;
  s.battery_discharge_today_kwh = 2.40;
  s.battery_discharge_total_kwh = 1400.0 + static_cast<double>(n) * 0.00001;
  s.load_energy_today_kwh = 9.10;
  s.running_state = 2;
  s.power_flow = PowerFlow{.pv = true,
                           .charging = true,
                           .discharging = false,
                           .load = true,
                           .exporting = true,
                           .importing = false,
                           .negative_load = false};
  return s;
}

std::unique_ptr<PgConnection> connect(const std::string& url) {
  auto conn = PgConnection::connect(storage::PgConnectParams{.conninfo = url});
  if (!conn) throw std::runtime_error("connect: " + conn.error().message);
  return std::move(conn).value();
}

void must(const storage::StoreResult<storage::PgResult>& r) {
  if (!r) throw std::runtime_error(r.error().message);
}

std::int64_t count_rows(PgConnection& conn) {
  auto r = conn.exec("count", "SELECT count(*) FROM samples");
  must(r);
  return std::stoll(PQgetvalue(r.value().get(), 0, 0));
}

// One client: its devices round-robin, one batch per transaction, until `stop`.
void client(const Options& o, int index, const std::atomic<bool>& stop) {
  auto conn = connect(o.url);
  static const std::string copy_sql =
      "COPY samples (" + storage::pg_sample_columns() + ") FROM STDIN";
  std::vector<std::string> devices;
  for (int i = index + 1; i <= o.devices; i += o.clients)
    devices.push_back(device_name(o.prefix, i));
  std::vector<Sample> batch(static_cast<std::size_t>(o.batch));
  std::vector<const Sample*> rows;
  for (std::int64_t round = 0; !stop.load(); ++round) {
    for (const auto& device : devices) {
      if (stop.load()) return;
      rows.clear();
      for (int i = 0; i < o.batch; ++i) {
        batch[static_cast<std::size_t>(i)] = fleet_sample(device, o.first_n + round * o.batch + i);
        rows.push_back(&batch[static_cast<std::size_t>(i)]);
      }
      if (o.mode == "copy") {
        must(conn->exec("begin", "BEGIN"));
        if (auto c = conn->copy_in("copy", copy_sql.c_str(), storage::pg_sample_copy_text(rows));
            !c) {
          throw std::runtime_error(c.error().message);
        }
        must(conn->exec("commit", "COMMIT"));
      } else {
        must(conn->exec_prepared("unnest", storage::insert_unnest(),
                                 storage::pg_sample_arrays(rows)));
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    auto counter = connect(o.url);
    const auto before = count_rows(*counter);
    std::atomic<bool> stop{false};
    std::atomic<bool> failed{false};
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::jthread> threads;
    for (int c = 0; c < o.clients; ++c) {
      threads.emplace_back([&, c] {
        try {
          client(o, c, stop);
        } catch (const std::exception& e) {
          std::fprintf(stderr, "pg_ceiling: client %d: %s\n", c, e.what());
          failed = true;
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(o.seconds));
    // Counted the moment the window closes, as the script counts the server's rows when wrk ends:
    // a transaction still in flight is not counted on either side.
    const auto after = count_rows(*counter);
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    stop = true;
    threads.clear();
    if (failed) return 1;
    const auto rows = after - before;
    std::printf("rows=%lld seconds=%.2f rows_per_s=%.0f\n", static_cast<long long>(rows),
                elapsed.count(), static_cast<double>(rows) / elapsed.count());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pg_ceiling: %s\n", e.what());
    return 1;
  }
}
