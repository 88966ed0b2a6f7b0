// SITES_FILE parsing and the lookups the API needs.
#include "sungrow/server/sites/site_table.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "sungrow/core/entry_lines.hpp"
#include "sungrow/core/sample.hpp"

namespace sungrow::sites {

std::string_view to_string(SiteRole role) {
  switch (role) {
    case SiteRole::master:
      return "master";
    case SiteRole::slave:
      return "slave";
    case SiteRole::standalone:
      break;
  }
  return "standalone";
}

std::optional<SiteRole> site_role_from_string(std::string_view text) {
  for (const auto role : {SiteRole::master, SiteRole::slave, SiteRole::standalone}) {
    if (text == to_string(role)) return role;
  }
  return std::nullopt;
}

const Site* SiteTable::find(std::string_view id) const {
  const auto it =
      std::find_if(sites_.begin(), sites_.end(), [&](const Site& s) { return s.id == id; });
  return it == sites_.end() ? nullptr : &*it;
}

std::vector<const Site*> SiteTable::held_by(std::span<const std::string> devices) const {
  std::vector<const Site*> out;
  for (const auto& site : sites_) {
    const bool all = std::all_of(site.devices.begin(), site.devices.end(), [&](const auto& d) {
      return std::find(devices.begin(), devices.end(), d.device_id) != devices.end();
    });
    if (all) out.push_back(&site);
  }
  return out;
}

SiteTableResult parse_sites_file(std::string_view contents) {
  SiteTable table;
  std::vector<Error> problems;
  std::set<std::string, std::less<>> devices_seen;
  std::set<std::string, std::less<>> sites_seen;
  const auto problem = [&](std::size_t line_no, const std::string& what) {
    problems.push_back(fail(fmt::format("SITES_FILE line {}: {}", line_no, what)));
  };
  for_each_entry_line(contents, [&](std::string_view line, std::size_t line_no) {
    std::istringstream words{std::string(line)};
    Site site;
    words >> site.id;
    if (!is_valid_device_id(site.id)) {
      problem(line_no, "the site id must match [A-Za-z0-9._:-]{1,64}");
      return;
    }
    if (!sites_seen.insert(site.id).second) {
      problem(line_no, fmt::format("site '{}' is listed twice", site.id));
      return;
    }
    bool ok = true;
    for (std::string word; words >> word;) {
      // '=' never occurs in a device id (which may hold ':'), so it can separate the role.
      const auto equals = word.find('=');
      const std::optional<SiteRole> role = equals == std::string::npos
                                               ? SiteRole::standalone
                                               : site_role_from_string(word.substr(equals + 1));
      SiteDevice device{.device_id = word.substr(0, equals),
                        .role = role.value_or(SiteRole::standalone)};
      if (!role || !is_valid_device_id(device.device_id)) {
        problem(line_no, fmt::format("'{}' is not DEVICE_ID or DEVICE_ID=ROLE (an id matching "
                                     "[A-Za-z0-9._:-]{{1,64}}; master, slave or standalone)",
                                     word));
        ok = false;
      } else if (!devices_seen.insert(device.device_id).second) {
        problem(line_no, fmt::format("device '{}' is already in a site", device.device_id));
        ok = false;
      } else {
        site.devices.push_back(std::move(device));
      }
    }
    const auto count = [&](SiteRole r) {
      return std::count_if(site.devices.begin(), site.devices.end(),
                           [r](const SiteDevice& d) { return d.role == r; });
    };
    if (ok && site.devices.empty()) {
      problem(line_no, fmt::format("site '{}' lists no device", site.id));
      ok = false;
    }
    if (count(SiteRole::master) > 1) {
      problem(line_no, fmt::format("site '{}' has {} masters; a plant has one meter owner", site.id,
                                   count(SiteRole::master)));
      ok = false;
    }
    if (count(SiteRole::slave) > 0 && count(SiteRole::master) == 0) {
      problem(line_no,
              fmt::format("site '{}' has a slave but no master to own the meter", site.id));
      ok = false;
    }
    if (ok) table.add(std::move(site));
  });
  if (!problems.empty()) return problems;
  return table;
}

SiteTableResult load_sites_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::vector<Error>{fail(fmt::format("cannot read SITES_FILE {}", path.string()))};
  std::ostringstream text;
  text << in.rdbuf();
  return parse_sites_file(text.str());
}

}  // namespace sungrow::sites
