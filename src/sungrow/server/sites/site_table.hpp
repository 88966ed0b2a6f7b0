// Sites: which devices make up one household plant, and each device's role in it (SITES_FILE).
#pragma once

#include <boost/system/result.hpp>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "sungrow/core/result.hpp"

namespace sungrow::sites {

// master: owns the plant's grid meter (slaves' plant-level values come from it); slave: no
// meter of its own; standalone: an inverter with its own meter at its own grid connection.
enum class SiteRole { master, slave, standalone };

std::string_view to_string(SiteRole role);
std::optional<SiteRole> site_role_from_string(std::string_view text);

struct SiteDevice {
  std::string device_id;
  SiteRole role = SiteRole::standalone;

  // Whether the device's grid power and grid energy are the site's (a slave's are not).
  bool owns_meter() const { return role != SiteRole::slave; }
};

struct Site {
  std::string id;
  std::vector<SiteDevice> devices;  // in the file's order, at least one
};

class SiteTable {
 public:
  std::span<const Site> sites() const { return sites_; }
  const Site* find(std::string_view id) const;
  // The sites every device of which is in `devices`: what a credential holding them may read.
  std::vector<const Site*> held_by(std::span<const std::string> devices) const;

  // For the parser, which has checked the site against the table already.
  void add(Site site) { sites_.push_back(std::move(site)); }

 private:
  std::vector<Site> sites_;
};

using SiteTableResult = boost::system::result<SiteTable, std::vector<Error>>;

// One site a line: `SITE_ID DEVICE[=ROLE] …`, roles master, slave, standalone (the default);
// blank lines and `#` comments skipped. Every problem is reported, each with its line: an id
// outside [A-Za-z0-9._:-]{1,64}, an unknown role, a site or a device listed twice, two masters in
// a site, a slave without a master.
SiteTableResult parse_sites_file(std::string_view contents);
SiteTableResult load_sites_file(const std::filesystem::path& path);

}  // namespace sungrow::sites
