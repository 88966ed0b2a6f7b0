// Poller: one reused connection, pacing, backoff, group splitting, unsupported registers, caching.
#include "sungrow/edge/modbus/poller.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <mutex>
#include <utility>

#include "sungrow/core/backoff.hpp"
#include "sungrow/core/logger.hpp"
#include "sungrow/edge/modbus/modbus_client.hpp"
#include "sungrow/edge/modbus/read_plan.hpp"

namespace sungrow::edge {
namespace {

spdlog::logger& log() {
  return component_logger("modbus");
}

using Clock = std::chrono::steady_clock;

}  // namespace

struct Poller::Impl {
  ModbusSettings settings;
  Poller::Now now;  // the backoff window's clock
  Backoff backoff;
  std::optional<ModbusClient> client;
  Clock::time_point retry_at{};  // no connect attempt before this (backoff window)
  std::string last_connect_error;
  std::optional<Clock::time_point> last_request_end;
  FailureTracker tracker;
  RegisterImage once_cache;             // device facts read on the first good cycle
  std::set<std::uint16_t> once_cached;  // their document numbers
  // Groups read as runs of adjacent map registers (build_read_plan). Learnt per Poller: after a
  // restart the first cycle pays one refused group request to learn it again.
  std::set<std::uint8_t> fragmented;
  PollStats stats;
  std::mutex wait_mutex;
  std::condition_variable_any wait_cv;  // only ever woken by stop requests

  Impl(ModbusSettings s, std::uint64_t seed, Poller::Now n)
      : settings(std::move(s)),
        now(n ? std::move(n) : Poller::Now{[] { return Clock::now(); }}),
        backoff(settings.backoff_base, settings.backoff_cap, seed),
        tracker(settings.unsupported_after) {}

  // Sleeps until the inter-read delay since the previous reply has passed; false when stopped.
  bool pace(const std::stop_token& stop) {
    if (last_request_end) {
      std::unique_lock lock(wait_mutex);
      wait_cv.wait_until(lock, stop, *last_request_end + settings.inter_read_delay,
                         [] { return false; });
    }
    return !stop.stop_requested();
  }

  ReadOutcome send(const ReadRequest& r) {
    ++stats.requests;
    auto outcome = client->read(r.table, r.first_wire(), r.count);
    last_request_end = Clock::now();
    return outcome;
  }

  void enter_backoff(const std::string& why) {
    const auto delay = backoff.next_delay();
    retry_at = now() + delay;
    last_connect_error = why;
    log().warn("{}; next connection attempt in {} ms", why, delay.count());
  }

  // Connects unless connected already or still inside the backoff window.
  Result<void> ensure_connected() {
    if (client) return {};
    const auto at = now();
    if (at < retry_at) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(retry_at - at);
      return fail(fmt::format("modbus: in reconnect backoff ({} ms left) after: {}", left.count(),
                              last_connect_error));
    }
    auto c = ModbusClient::connect(ModbusClient::Options{
        settings.host, settings.port, settings.unit_id, settings.response_timeout});
    if (!c) {
      enter_backoff(c.error().message);
      return c.error();
    }
    client.emplace(std::move(*c));
    stats.reconnected = true;
    // A fresh connection gets no settle delay here: the first request already follows the
    // inter-read pacing of the previous reply, if any.
    log().info("connected to {}:{} (unit {})", settings.host, settings.port, settings.unit_id);
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
          def.doc, def.name, settings.unsupported_after, outcome.error);
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
    if (auto c = ensure_connected(); !c) return c.error();

    RegisterImage image = once_cache;
    bool any = false;
    std::optional<std::string> transport_error;
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
      client.reset();
      if (any) {
        // The link worked this cycle; reconnect on the next one (a WiNet-S drops sessions).
        backoff.reset();
        log().warn("{}; connection closed after a partial read, reconnecting next cycle",
                   *transport_error);
      } else {
        enter_backoff(*transport_error);
      }
    } else if (any) {
      backoff.reset();
    }
    if (any) return image;
    if (stop.stop_requested()) return fail("modbus: poll stopped");
    if (transport_error) return fail(*transport_error);
    if (plan.empty()) return fail("modbus: every register of the map is unsupported");
    return fail("modbus: no register could be read (every request answered with an exception)");
  }

  Result<std::vector<std::uint16_t>> read_extra(RegisterTable table, std::uint16_t first_doc,
                                                std::uint16_t count, const std::stop_token& stop) {
    if (auto c = ensure_connected(); !c) return c.error();
    if (!pace(stop)) return fail("modbus: read stopped");
    ++stats.requests;
    auto outcome = client->read(table, static_cast<std::uint16_t>(first_doc - 1), count);
    last_request_end = Clock::now();
    if (outcome.ok()) return std::move(outcome.words);
    if (outcome.kind == ReadOutcome::Kind::transport) {
      client.reset();
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
          client.reset();
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
    backoff.reset();
    return out;
  }
};

Poller::Poller(ModbusSettings settings, std::uint64_t seed)
    : Poller(std::move(settings), seed, Now{}) {}
Poller::Poller(ModbusSettings settings, std::uint64_t seed, Now now)
    : impl_(std::make_unique<Impl>(std::move(settings), seed, std::move(now))) {}
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
  return impl_->client.has_value();
}

}  // namespace sungrow::edge
