// Parses and checks the devices file: fields, duplicates, one master per site, token files.
#include "sungrow/edge/devices.hpp"

#include <fmt/format.h>

#include <charconv>
#include <fstream>
#include <map>
#include <sstream>
#include <utility>

#include "sungrow/core/entry_lines.hpp"
#include "sungrow/core/sample.hpp"
#include "sungrow/edge/upload/uploader.hpp"

namespace sungrow::edge {

namespace {

constexpr std::string_view kFile = "SUNGROW_DEVICES_FILE";

bool parse_int(std::string_view text, int lo, int hi, int& out) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < lo || value > hi)
    return false;
  out = value;
  return true;
}

// Splits on runs of spaces and tabs.
std::vector<std::string_view> words(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    const auto b = line.find_first_not_of(" \t", i);
    if (b == std::string_view::npos) break;
    const auto e = std::min(line.find_first_of(" \t", b), line.size());
    out.push_back(line.substr(b, e - b));
    i = e;
  }
  return out;
}

// Fills `d` from one line; each problem of the line is reported on its own.
void parse_line(std::string_view line, std::size_t line_no, DeviceSpec& d,
                std::vector<std::string>& problems) {
  const auto at = [line_no](std::string_view what) {
    return fmt::format("{} line {}: {}", kFile, line_no, what);
  };
  const auto fields = words(line);
  d.line = line_no;
  d.id = std::string(fields.front());
  if (!is_valid_device_id(d.id))
    problems.push_back(at(fmt::format("device id '{}' must match [A-Za-z0-9._:-]{{1,64}}", d.id)));
  std::map<std::string_view, std::string_view> seen;
  for (std::size_t i = 1; i < fields.size(); ++i) {
    const auto field = fields[i];
    const auto eq = field.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      problems.push_back(at(fmt::format("'{}' is not a name=value field", field)));
      continue;
    }
    const auto name = field.substr(0, eq);
    const auto value = field.substr(eq + 1);
    if (!seen.emplace(name, value).second) {
      problems.push_back(at(fmt::format("field {} given twice", name)));
      continue;
    }
    if (name == "host") {
      if (value.empty()) problems.push_back(at("host= is empty"));
      d.host = std::string(value);
    } else if (name == "port") {
      int port = 0;
      if (parse_int(value, 1, 65535, port))
        d.port = static_cast<std::uint16_t>(port);
      else
        problems.push_back(
            at(fmt::format("port must be a number from 1 to 65535 (got '{}')", value)));
    } else if (name == "unit") {
      if (!parse_int(value, 1, 247, d.unit))
        problems.push_back(
            at(fmt::format("unit must be a number from 1 to 247 (got '{}')", value)));
    } else if (name == "role") {
      if (value == "master") {
        d.role = DeviceRole::master;
      } else if (value == "slave") {
        d.role = DeviceRole::slave;
      } else if (value == "standalone") {
        d.role = DeviceRole::standalone;
      } else {
        problems.push_back(
            at(fmt::format("role must be master, slave or standalone (got '{}')", value)));
      }
    } else if (name == "token_file") {
      if (value.empty()) problems.push_back(at("token_file= is empty"));
      d.token_file = std::string(value);
    } else {
      problems.push_back(
          at(fmt::format("unknown field '{}' (known: host, port, unit, role, token_file)", name)));
    }
  }
  if (!seen.contains("host")) problems.push_back(at("host= is missing"));
  if (!seen.contains("token_file")) problems.push_back(at("token_file= is missing"));
}

}  // namespace

std::string_view to_string(DeviceRole role) {
  switch (role) {
    case DeviceRole::master:
      return "master";
    case DeviceRole::slave:
      return "slave";
    case DeviceRole::standalone:
      break;
  }
  return "standalone";
}

DevicesParse parse_devices(std::string_view contents) {
  DevicesParse out;
  std::map<std::string, std::size_t> ids;  // id → line
  std::map<std::tuple<std::string, std::uint16_t, int>, std::size_t> addresses;
  std::map<std::pair<std::string, std::uint16_t>, std::size_t> masters;  // site → line
  for_each_entry_line(contents, [&](std::string_view line, std::size_t line_no) {
    DeviceSpec d;
    parse_line(line, line_no, d, out.problems);
    const auto at = [line_no](std::string_view what) {
      return fmt::format("{} line {}: {}", kFile, line_no, what);
    };
    if (auto [it, fresh] = ids.emplace(d.id, line_no); !fresh)
      out.problems.push_back(
          at(fmt::format("device id '{}' repeats (first on line {})", d.id, it->second)));
    if (!d.host.empty()) {
      if (auto [it, fresh] = addresses.emplace(std::tuple{d.host, d.port, d.unit}, line_no); !fresh)
        out.problems.push_back(at(fmt::format("{}:{} unit {} repeats (first on line {})", d.host,
                                              d.port, d.unit, it->second)));
      if (d.role == DeviceRole::master) {
        if (auto [it, fresh] = masters.emplace(std::pair{d.host, d.port}, line_no); !fresh)
          out.problems.push_back(at(fmt::format(
              "a second master at {}:{} (first on line {}): a site has one master, the meter "
              "owner",
              d.host, d.port, it->second)));
      }
    }
    out.devices.push_back(std::move(d));
  });
  if (out.devices.empty() && out.problems.empty())
    out.problems.push_back(fmt::format("{} lists no device", kFile));
  return out;
}

Result<std::string> read_token_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(fmt::format("token_file {} is not readable", path));
  std::string token;
  std::getline(in, token);
  if (!token.empty() && token.back() == '\r') token.pop_back();
  if (token.empty()) return fail(fmt::format("token_file {} is empty", path));
  if (auto ok = validate_token(token); !ok)
    return fail(fmt::format("token_file {}: {}", path, ok.error().message));
  return Result<std::string>{boost::system::in_place_value, std::move(token)};
}

DevicesParse load_devices_file(const std::string& path, bool read_tokens) {
  std::ifstream in(path);
  if (!in) return DevicesParse{{}, {fmt::format("{} {} is not readable", kFile, path)}};
  std::stringstream text;
  text << in.rdbuf();
  auto out = parse_devices(text.str());
  if (!read_tokens) return out;
  for (auto& d : out.devices) {
    if (d.token_file.empty()) continue;
    if (auto token = read_token_file(d.token_file); token)
      d.token = std::move(*token);
    else
      out.problems.push_back(fmt::format("{} line {}: {}", kFile, d.line, token.error().message));
  }
  return out;
}

}  // namespace sungrow::edge
