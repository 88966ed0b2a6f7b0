// Poller: one reused connection, pacing, backoff, group splitting, unsupported registers, caching.
#include "sungrow/edge/modbus/poller.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <utility>

#include "sungrow/core/logger.hpp"
#include "sungrow/edge/modbus/modbus_client.hpp"
#include "sungrow/edge/modbus/read_plan.hpp"

namespace sungrow::edge {
namespace {

spdlog::logger& log() {
  return component_logger("modbus");
}

// Exceptions 0x0A (gateway path unavailable) and 0x0B (gateway target failed to respond).
bool is_gateway_exception(int code) {
  return code == 0x0A || code == 0x0B;
}

}  // namespace

struct Poller::Impl {
  std::shared_ptr<ModbusLink> link;
  int unit_id;
  std::uint32_t unsupported_after;
  // A Poller with its own link starts the link's round itself; a shared link's rounds are the
  // host loop's (one round = one cycle over all its units).
  bool owns_link;
  FailureTracker tracker;
  RegisterImage once_cache;             // device facts read on the first good cycle
  std::set<std::uint16_t> once_cached;  // their document numbers
  // Groups read as runs of adjacent map registers (build_read_plan). Learnt per Poller: after a
  // restart the first cycle pays one refused group request to learn it again.
  std::set<std::uint8_t> fragmented;
  PollStats stats;

  Impl(std::shared_ptr<ModbusLink> l, int unit, std::uint32_t after, bool owns)
      : link(std::move(l)),
        unit_id(unit),
        unsupported_after(after),
        owns_link(owns),
        tracker(after) {}

  bool pace(const std::stop_token& stop) { return link->pace(stop); }

  ReadOutcome send(const ReadRequest& r) {
    ++stats.requests;
    return link->send(unit_id, r.table, r.first_wire(), r.count);
  }

  // Connects unless connected already or still inside the backoff window.
  Result<void> ensure_connected() {
    auto opened = link->ensure_connected(unit_id);
    if (!opened) return opened.error();
    if (*opened) stats.reconnected = true;
    return {};
  }

  void store(RegisterImage& image, const ReadRequest& r, const std::vector<std::uint16_t>& words) {
    image.set_block(r.table, r.first_wire(), words);
    for (const auto* def : registers_in(r)) {
      tracker.succeeded(def->doc);
      if (kReadGroups[def->group].once) {
        for (std::uint16_t i = 0; i < def->words; ++i)
          once_cache.set(def->table, static_cast<std::uint16_t>(def->wire() + i),
                         words[static_cast<std::size_t>(def->doc - r.first_doc + i)]);
        once_cached.insert(def->doc);
      }
    }
  }

  void register_failed(const RegisterDef& def, const ReadOutcome& outcome) {
    ++stats.registers_failed;
    if (tracker.failed(def.doc))
      log().warn(
          "register {} ({}) failed with an exception on {} consecutive cycles ({}); "
          "no longer read",
          def.doc, def.name, unsupported_after, outcome.error);
    else
      log().debug("register {} ({}): {}", def.doc, def.name, outcome.error);
  }

  // `r` answered with an exception but each of its registers read alone: the device refuses a
  // word of `r` outside the map, and reading the group whole would fail (plus the singles) on
  // every cycle. A failure of a map register instead is left to the unsupported counting: once
  // it is skipped, the cut requests may read fine, and if not, this catches them then.
  void fragment(const ReadRequest& r, const ReadOutcome& outcome) {
    if (fragmented.contains(r.group)) return;  // a run failed: the singles were its fallback
    const auto runs = register_runs(r);
    if (runs.size() == 1 && runs.front() == r) return;  // no word outside the map to leave out
    fragmented.insert(r.group);
    log().warn(
        "group {} (registers {}–{}) answered with an exception ({}) although each of its "
        "registers reads alone: a word outside the map is refused, so from now on the group is "
        "read as runs of adjacent registers ({} requests for these words)",
        kReadGroups[r.group].name, r.first_doc, r.last_doc(), outcome.error, runs.size());
  }

  std::set<std::uint16_t> skip() const {
    auto s = tracker.unsupported();
    s.insert(once_cached.begin(), once_cached.end());
    return s;
  }

  Result<RegisterImage> poll(const std::stop_token& stop) {
    stats = {};
    if (owns_link) link->begin_round();
    if (auto c = ensure_connected(); !c) return c.error();

    RegisterImage image = once_cache;
    bool any = false;
    std::optional<std::string> transport_error;
    std::optional<std::string> gateway_error;
    const auto plan = build_read_plan(skip(), fragmented);

    // Reads one request; on an exception, retries its map registers one by one. Returns false
    // when the connection broke (transport_error set) or stop was requested.
    const auto read_request = [&](const ReadRequest& r) -> bool {
      if (!pace(stop)) return false;
      auto outcome = send(r);
      if (outcome.ok()) {
        ++stats.groups_read;
        store(image, r, outcome.words);
        any = true;
        return true;
      }
      if (outcome.kind == ReadOutcome::Kind::transport) {
        transport_error = std::move(outcome.error);
        return false;
      }
      if (is_gateway_exception(outcome.exception_code)) {
        // The gateway (a WiNet-S) answers for a unit behind it that did not: the unit is away,
        // not its registers unsupported. One request per cycle, the link kept for the others.
        gateway_error = std::move(outcome.error);
        return false;
      }
      log().debug("request {}×{} ({}): {}", r.first_doc, r.count, kReadGroups[r.group].name,
                  outcome.error);
      const auto singles = split(r);
      // A request holding one register already was that register's own read.
      if (singles.size() == 1 && singles.front() == r) {
        register_failed(*registers_in(r).front(), outcome);
        return true;
      }
      bool all_singles_read = true;
      for (const auto& single : singles) {
        if (!pace(stop)) return false;
        auto one = send(single);
        const auto& def = *registers_in(single).front();
        if (one.ok()) {
          ++stats.registers_read;
          store(image, single, one.words);
          any = true;
        } else if (one.kind == ReadOutcome::Kind::exception) {
          all_singles_read = false;
          register_failed(def, one);
        } else {
          transport_error = std::move(one.error);
          return false;
        }
      }
      if (all_singles_read) fragment(r, outcome);
      return true;
    };

    for (const auto& r : plan)
      if (!read_request(r)) break;

    if (transport_error) {
      if (any) {
        // The link worked this cycle; reconnect on the next one (a WiNet-S drops sessions).
        link->close();
        link->reset_backoff();
        log().warn("{}; connection closed after a partial read, reconnecting next cycle",
                   *transport_error);
      } else {
        link->broken(fmt::format("{} (unit {})", *transport_error, unit_id));
      }
    } else if (any) {
      link->reset_backoff();
    }
    if (any) return image;
    if (stop.stop_requested()) return fail("modbus: poll stopped");
    if (transport_error) return fail(*transport_error);
    if (gateway_error)
      return fail(fmt::format("modbus: unit {} did not answer through the gateway: {}", unit_id,
                              *gateway_error));
    if (plan.empty()) return fail("modbus: every register of the map is unsupported");
    return fail("modbus: no register could be read (every request answered with an exception)");
  }

  Result<std::vector<std::uint16_t>> read_extra(RegisterTable table, std::uint16_t first_doc,
                                                std::uint16_t count, const std::stop_token& stop) {
    if (auto c = ensure_connected(); !c) return c.error();
    if (!pace(stop)) return fail("modbus: read stopped");
    ++stats.requests;
    auto outcome = link->send(unit_id, table, static_cast<std::uint16_t>(first_doc - 1), count);
    if (outcome.ok()) return std::move(outcome.words);
    if (outcome.kind == ReadOutcome::Kind::transport) {
      link->close();
      log().warn("{} (reading {} from {}); connection closed, reconnecting on the next poll",
                 outcome.error, count, first_doc);
    }
    return fail(fmt::format("modbus: {} {}×{}: {}",
                            table == RegisterTable::holding ? "holding" : "input", first_doc, count,
                            outcome.error));
  }

  Result<std::vector<ScannedRegister>> scan(const std::stop_token& stop) {
    stats = {};
    if (auto c = ensure_connected(); !c) return c.error();
    std::vector<ScannedRegister> out;
    bool any = false;
    for (const auto& def : kRegisters) {
      if (!pace(stop)) return fail("modbus: scan stopped");
      ScannedRegister entry{def.doc, std::nullopt, {}, false};
      const ReadRequest r{def.table, def.doc, def.words, def.group};
      // One reconnect per broken connection, so a WiNet-S dropping the session mid-scan
      // costs a retry, not the rest of the scan; inside the backoff window this fails at once.
      const auto attempt = [&] {
        if (auto c = ensure_connected(); !c) return ReadOutcome::transport_error(c.error().message);
        auto o = send(r);
        if (o.kind == ReadOutcome::Kind::transport) {
          link->close();
          log().warn("{}; connection closed during scan", o.error);
        }
        return o;
      };
      auto outcome = attempt();
      if (outcome.kind == ReadOutcome::Kind::transport && pace(stop)) outcome = attempt();
      if (outcome.ok()) {
        entry.words = std::move(outcome.words);
        any = true;
        ++stats.registers_read;
      } else {
        entry.error = outcome.error;
        entry.unsupported = outcome.kind == ReadOutcome::Kind::exception;
        ++stats.registers_failed;
      }
      out.push_back(std::move(entry));
    }
    if (!any) return fail(fmt::format("modbus: scan read nothing: {}", out.front().error));
    link->reset_backoff();
    return out;
  }
};

Poller::Poller(ModbusSettings settings, std::uint64_t seed)
    : Poller(std::move(settings), seed, Now{}) {}
Poller::Poller(ModbusSettings settings, std::uint64_t seed, Now now)
    : impl_(std::make_unique<Impl>(
          std::make_shared<ModbusLink>(LinkSettings{.host = settings.host,
                                                    .port = settings.port,
                                                    .inter_read_delay = settings.inter_read_delay,
                                                    .response_timeout = settings.response_timeout,
                                                    .backoff_base = settings.backoff_base,
                                                    .backoff_cap = settings.backoff_cap},
                                       seed, std::move(now)),
          settings.unit_id, settings.unsupported_after, true)) {}
Poller::Poller(std::shared_ptr<ModbusLink> link, int unit_id, std::uint32_t unsupported_after)
    : impl_(std::make_unique<Impl>(std::move(link), unit_id, unsupported_after, false)) {}
Poller::Poller(Poller&&) noexcept = default;
Poller& Poller::operator=(Poller&&) noexcept = default;
Poller::~Poller() = default;

Result<RegisterImage> Poller::poll(std::stop_token stop) {
  return impl_->poll(stop);
}
Result<std::vector<std::uint16_t>> Poller::read_extra(RegisterTable table, std::uint16_t first_doc,
                                                      std::uint16_t count, std::stop_token stop) {
  return impl_->read_extra(table, first_doc, count, stop);
}
Result<std::vector<ScannedRegister>> Poller::scan(std::stop_token stop) {
  return impl_->scan(stop);
}
const PollStats& Poller::last_stats() const {
  return impl_->stats;
}
const std::set<std::uint16_t>& Poller::unsupported() const {
  return impl_->tracker.unsupported();
}
const std::set<std::uint8_t>& Poller::fragmented_groups() const {
  return impl_->fragmented;
}
bool Poller::connected() const {
  return impl_->link->connected();
}

}  // namespace sungrow::edge
