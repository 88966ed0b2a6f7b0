// parse_ingest: bounded JSON parsing, then ownership and validation through the shared sample
// codec.
#include "sungrow/server/ingest/ingest.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <new>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "sungrow/core/sample_json.hpp"

namespace sungrow::ingest {

namespace json = boost::json;

void throw_exception_from_error(const IngestError& e, const boost::source_location&) {
  throw std::runtime_error(fmt::format("ingest refused ({}): {}", e.status, e.code));
}

namespace {

// Refuses allocations beyond a fixed total, so the document of one body has a hard memory ceiling
// whatever its shape; the parse turns the refusal into a 413.
class BudgetResource final : public json::memory_resource {
 public:
  explicit BudgetResource(std::size_t budget) : left_(budget) {}

 private:
  void* do_allocate(std::size_t bytes, std::size_t alignment) override {
    if (bytes > left_) throw std::bad_alloc();
    void* p = ::operator new(bytes, std::align_val_t(alignment));
    left_ -= bytes;
    return p;
  }
  void do_deallocate(void* p, std::size_t bytes, std::size_t alignment) override {
    ::operator delete(p, std::align_val_t(alignment));
    left_ += bytes;
  }
  bool do_is_equal(const json::memory_resource& other) const noexcept override {
    return this == &other;
  }

  std::size_t left_;
};

IngestParse refuse(int status, std::string_view code, json::object extra_and_detail) {
  json::object o;
  o.reserve(extra_and_detail.size() + 1);
  o["error"] = code;
  for (auto& kv : extra_and_detail) o[kv.key()] = std::move(kv.value());
  return IngestParse(boost::system::in_place_error,
                     IngestError{status, std::string(code), json::serialize(o)});
}

IngestParse refuse(int status, std::string_view code, std::string_view detail) {
  return refuse(status, code, json::object{{"detail", detail}});
}

// 1-based line and column of a byte offset, for a human looking at the body in an editor.
std::pair<std::size_t, std::size_t> line_column(std::string_view text, std::size_t offset) {
  const auto head = text.substr(0, std::min(offset, text.size()));
  const auto line = static_cast<std::size_t>(std::count(head.begin(), head.end(), '\n')) + 1;
  const auto last_nl = head.rfind('\n');
  const std::size_t column =
      last_nl == std::string_view::npos ? head.size() + 1 : head.size() - last_nl;
  return {line, column};
}

IngestParse malformed(std::string_view text, std::size_t offset, std::string_view why) {
  const auto [line, column] = line_column(text, offset);
  return refuse(400, "malformed_json",
                json::object{{"detail", fmt::format("{} at line {}, column {} (offset {})", why,
                                                    line, column, offset)},
                             {"offset", offset},
                             {"line", line},
                             {"column", column}});
}

}  // namespace

IngestParse parse_ingest(std::string_view text, std::string_view token_device_id,
                         const IngestLimits& limits, Timestamp now) {
  const std::string device(token_device_id);
  return parse_ingest(text, std::span<const std::string>(&device, 1), limits, now);
}

IngestParse parse_ingest(std::string_view text, std::span<const std::string> token_devices,
                         const IngestLimits& limits, Timestamp now) {
  if (text.size() > limits.max_json_bytes) {
    return refuse(413, "body_too_large",
                  fmt::format("JSON body of {} bytes exceeds the limit of {} bytes", text.size(),
                              limits.max_json_bytes));
  }
  if (text.starts_with("\xEF\xBB\xBF")) {
    // RFC 8259 §8.1 lets a parser refuse a BOM; the edge never sends one, so say what it is.
    return malformed(text, 0, "UTF-8 byte order mark before the JSON text (send none)");
  }

  // Both the parser's work stack and the document draw on one budget; the document lives in a
  // monotonic arena released in one go when this function returns.
  BudgetResource budget(limits.max_document_bytes);
  json::monotonic_resource arena(64 * 1024, json::storage_ptr(&budget));
  json::parse_options opts;
  opts.max_depth = limits.max_depth;
  opts.allow_comments = false;
  opts.allow_trailing_commas = false;
  opts.allow_invalid_utf8 = false;

  // On the arena too: assigning the parser's result to a value on another resource would copy
  // the whole document out of the budget.
  const json::storage_ptr on_arena(&arena);
  json::value doc(on_arena);
  try {
    json::parser parser(json::storage_ptr(&budget), opts);
    parser.reset(on_arena);
    boost::system::error_code ec;
    const std::size_t used = parser.write(text.data(), text.size(), ec);
    if (ec) return malformed(text, used, ec.message());
    doc = parser.release();
  } catch (const std::bad_alloc&) {
    return refuse(413, "body_too_complex",
                  fmt::format("the JSON document needs more than {} bytes of memory",
                              limits.max_document_bytes));
  }

  const auto* top = doc.if_object();
  const auto* samples_value = top != nullptr ? top->if_contains("samples") : nullptr;
  const auto* samples = samples_value != nullptr ? samples_value->if_array() : nullptr;
  if (samples == nullptr) {
    return refuse(400, "invalid_body",
                  top == nullptr             ? "the body must be a JSON object {\"samples\":[...]}"
                  : samples_value == nullptr ? "the body has no \"samples\" array"
                                             : "\"samples\" must be an array");
  }
  if (samples->size() > limits.max_samples) {
    return refuse(413, "too_many_samples",
                  fmt::format("{} samples in one batch; at most {} are accepted", samples->size(),
                              limits.max_samples));
  }

  // Ownership before validation: a token reaching for another device is refused as such, even when
  // that sample has other problems too.
  for (std::size_t i = 0; i < samples->size(); ++i) {
    const auto* obj = (*samples)[i].if_object();
    const auto* id = obj != nullptr ? obj->if_contains("device_id") : nullptr;
    if (id == nullptr || !id->is_string()) continue;
    const std::string_view device = id->get_string();
    // An id outside the pattern is a 422 below; echoing only valid ids keeps the reply clean.
    if (is_valid_device_id(device) &&
        std::find(token_devices.begin(), token_devices.end(), device) == token_devices.end()) {
      return refuse(
          403, "device_mismatch",
          json::object{{"detail", fmt::format("samples[{}].device_id \"{}\" is not a device of "
                                              "this token ({})",
                                              i, device, fmt::join(token_devices, ", "))},
                       {"index", i}});
    }
  }

  IngestBatch batch;
  batch.received = samples->size();
  batch.samples.reserve(samples->size());
  json::array listed;
  std::size_t problem_count = 0;
  std::size_t bad_samples = 0;
  std::string first_problem;
  std::size_t ts_problems = 0;
  const Timestamp latest_ts = now + limits.max_clock_skew;
  for (std::size_t i = 0; i < samples->size(); ++i) {
    auto decoded = sample_from_json((*samples)[i]);
    if (decoded.sample) {
      for (auto& p : range_problems(*decoded.sample)) decoded.problems.push_back(std::move(p));
    }
    if (decoded.sample &&
        (decoded.sample->ts < limits.earliest_ts || decoded.sample->ts > latest_ts)) {
      decoded.problems.push_back(
          {"ts",
           fmt::format(
               "{} is outside the accepted window [{}, {}] (the server's clock plus {} s "
               "of allowed skew); check the sender's clock",
               format_rfc3339(decoded.sample->ts), format_rfc3339(limits.earliest_ts),
               format_rfc3339(latest_ts),
               std::chrono::duration_cast<std::chrono::seconds>(limits.max_clock_skew).count()),
           "ts_out_of_range"});
    }
    if (decoded.problems.empty()) {
      if (problem_count == 0) batch.samples.push_back(std::move(*decoded.sample));
      continue;
    }
    ++bad_samples;
    for (auto& p : decoded.problems) {
      if (problem_count == 0) {
        first_problem = fmt::format("samples[{}].{}: {}", i, p.field, p.reason);
      }
      ++problem_count;
      if (p.code == "ts_out_of_range") ++ts_problems;
      if (listed.size() < limits.max_problems) {
        listed.push_back(
            json::object{{"index", i}, {"field", p.field}, {"reason", p.reason}, {"code", p.code}});
      }
    }
  }
  if (problem_count > 0) {
    return refuse(
        422, ts_problems == problem_count ? "ts_out_of_range" : "invalid_samples",
        json::object{
            {"detail", fmt::format("{} problem(s) in {} of {} samples; first: {}", problem_count,
                                   bad_samples, samples->size(), first_problem)},
            {"problems", std::move(listed)},
            {"problem_count", problem_count}});
  }

  // The store would ignore (device_id, ts) repeats anyway (ON CONFLICT DO NOTHING); dropping them
  // here keeps the first, as it would. A token usually has one device: one set of ts per device.
  std::vector<bool> keep(batch.samples.size(), false);
  {
    std::unordered_map<std::string_view, std::unordered_set<std::int64_t>> seen;
    for (std::size_t i = 0; i < batch.samples.size(); ++i) {
      const auto& s = batch.samples[i];
      auto& times = seen[s.device_id];
      if (times.empty()) times.reserve(batch.samples.size());
      keep[i] = times.insert(s.ts.time_since_epoch().count()).second;
    }
  }
  std::vector<Sample> unique;
  unique.reserve(batch.samples.size());
  for (std::size_t i = 0; i < batch.samples.size(); ++i) {
    if (keep[i]) unique.push_back(std::move(batch.samples[i]));
  }
  batch.samples = std::move(unique);
  batch.duplicates = batch.received - batch.samples.size();
  return IngestParse(boost::system::in_place_value, std::move(batch));
}

}  // namespace sungrow::ingest
