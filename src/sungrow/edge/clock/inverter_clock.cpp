// Decoding and checking the inverter's clock registers.
#include "sungrow/edge/clock/inverter_clock.hpp"

#include <fmt/format.h>

#include "sungrow/core/registers.hpp"

namespace sungrow::edge {

namespace {

constexpr unsigned kFirstYear = 2000;
constexpr unsigned kLastYear = 2099;

}  // namespace

Result<std::chrono::local_seconds> decode_inverter_clock(std::span<const std::uint16_t> words) {
  using namespace std::chrono;
  if (words.size() != kInverterClockRegisters.count)
    return fail(fmt::format("inverter clock: {} words instead of {}", words.size(),
                            kInverterClockRegisters.count));
  const unsigned y = words[0], mo = words[1], d = words[2], h = words[3], mi = words[4],
                 s = words[5];
  const auto garbage = [&](std::string_view what) {
    return fail(
        fmt::format("inverter clock registers 5000–5005 hold no valid time ({}): {} {} {} {} {} {}",
                    what, y, mo, d, h, mi, s));
  };
  if (y < kFirstYear || y > kLastYear) return garbage("year");
  if (mo < 1 || mo > 12) return garbage("month");
  const year_month_day date{year{static_cast<int>(y)}, month{mo}, day{d}};
  if (!date.ok()) return garbage("day");
  if (h > 23) return garbage("hour");
  if (mi > 59) return garbage("minute");
  if (s > 59) return garbage("second");
  return local_days{date} + hours{h} + minutes{mi} + seconds{s};
}

std::string format_local(std::chrono::local_seconds t) {
  using namespace std::chrono;
  const auto day = floor<days>(t);
  const year_month_day date{day};
  const hh_mm_ss time{t - day};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     time.hours().count(), time.minutes().count(), time.seconds().count());
}

}  // namespace sungrow::edge
