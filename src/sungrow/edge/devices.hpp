// The devices file (SUNGROW_DEVICES_FILE): several inverters on one edge, one line per device.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sungrow/core/result.hpp"

namespace sungrow::edge {

enum class DeviceRole : std::uint8_t { standalone, master, slave };
std::string_view to_string(DeviceRole role);

// One inverter the edge polls and uploads for.
struct DeviceSpec {
  std::string id;
  std::string host;
  std::uint16_t port = 502;  // as SUNGROW_PORT's default
  int unit = 1;              // as SUNGROW_SLAVE_ID's default
  DeviceRole role = DeviceRole::standalone;
  std::string token_file;  // empty in the single-device mode (the token comes from the env)
  std::string token;       // read from token_file when asked for; never logged
  std::size_t line = 0;    // in the devices file; 0 in the single-device mode

  bool operator==(const DeviceSpec&) const = default;
};

struct DevicesParse {
  std::vector<DeviceSpec> devices;
  std::vector<std::string> problems;  // one per problem, each naming its line
};

// `id host=… [port=…] [unit=…] [role=master|slave|standalone] token_file=…` per line, blank lines
// and '#' comments skipped (the token files' line walk). Pure: token files are not read here.
// A site is the set of devices behind one (host, port) — one WiNet-S or one LAN port — and holds at
// most one master (the meter owner); slaves and standalone devices may share it.
DevicesParse parse_devices(std::string_view contents);

// Reads the file and parses it; with `read_tokens`, also reads each device's token file (a token
// file that is unreadable, empty or holds an unusable token is a problem of its line).
DevicesParse load_devices_file(const std::string& path, bool read_tokens);

// The first line of a token file, without its line end.
Result<std::string> read_token_file(const std::string& path);

}  // namespace sungrow::edge
