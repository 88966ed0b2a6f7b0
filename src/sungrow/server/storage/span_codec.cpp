// Encoding spans as fixed-layout little-endian records, and the bytea hex form.
#include "sungrow/server/storage/span_codec.hpp"

#include <bit>
#include <cstdint>
#include <cstring>
#include <utility>

namespace sungrow::storage {

using rollup::Reading;
using rollup::Span;

namespace {

// Version 2: counters carry their first two and last two readings and both chain outcomes
// (rollup::CounterSpan); version 1 records are rebuilt by the stores' migrations, never read.
constexpr unsigned char kVersion = 2;
constexpr std::size_t kReadingBytes = 16;
constexpr std::size_t kAfterHeadBytes = 16;
constexpr std::size_t kSize = 1 + 3 * 8 + rollup::kPowerFieldCount * 32 + 1 + 16 + kReadingBytes +
                              rollup::kCounterCount * (1 + 4 * kReadingBytes + 2 * kAfterHeadBytes);
// Counter flags: which readings are present, and each chain outcome's ends_pending.
constexpr unsigned kFirst = 1U;
constexpr unsigned kSecond = 2U;
constexpr unsigned kPenultimate = 4U;
constexpr unsigned kLast = 8U;
constexpr unsigned kPendingAfterTaken = 16U;
constexpr unsigned kPendingAfterHeld = 32U;

class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}
  void byte(unsigned char b) { out_.push_back(static_cast<char>(b)); }
  void u64(std::uint64_t v) {
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xffU));
  }
  void i64(std::int64_t v) { u64(static_cast<std::uint64_t>(v)); }
  void f64(double v) { u64(std::bit_cast<std::uint64_t>(v)); }
  void ts(Timestamp t) { i64(t.time_since_epoch().count()); }
  void reading(const std::optional<Reading>& r) {
    ts(r ? r->ts : Timestamp{});
    f64(r ? r->value : 0.0);
  }

 private:
  std::string& out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  unsigned char byte() { return static_cast<unsigned char>(in_[at_++]); }
  std::uint64_t u64() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
      v |= static_cast<std::uint64_t>(static_cast<unsigned char>(in_[at_++])) << (8 * i);
    }
    return v;
  }
  std::int64_t i64() { return static_cast<std::int64_t>(u64()); }
  double f64() { return std::bit_cast<double>(u64()); }
  Timestamp ts() { return Timestamp{std::chrono::milliseconds{i64()}}; }
  std::optional<Reading> reading(bool present) {
    const Timestamp t = ts();
    const double v = f64();
    if (!present) return std::nullopt;
    return Reading{t, v};
  }

 private:
  std::string_view in_;
  std::size_t at_ = 0;
};

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string span_to_bytes(const Span& s) {
  std::string out;
  out.reserve(kSize);
  Writer w(out);
  w.byte(kVersion);
  w.ts(s.start);
  w.ts(s.end);
  w.i64(s.samples);
  for (const auto& p : s.power) {
    w.i64(p.count);
    w.i64(p.sum_mw);
    w.f64(p.min);
    w.f64(p.max);
  }
  w.byte(static_cast<unsigned char>((s.soc.min ? 1U : 0U) | (s.soc.max ? 2U : 0U) |
                                    (s.soc.last ? 4U : 0U)));
  w.f64(s.soc.min.value_or(0.0));
  w.f64(s.soc.max.value_or(0.0));
  w.reading(s.soc.last);
  for (const auto& c : s.counters) {
    w.byte(static_cast<unsigned char>((c.first ? kFirst : 0U) | (c.second ? kSecond : 0U) |
                                      (c.penultimate ? kPenultimate : 0U) | (c.last ? kLast : 0U) |
                                      (c.after_head[0].ends_pending ? kPendingAfterTaken : 0U) |
                                      (c.after_head[1].ends_pending ? kPendingAfterHeld : 0U)));
    w.reading(c.first);
    w.reading(c.second);
    w.reading(c.penultimate);
    w.reading(c.last);
    for (const auto& after : c.after_head) {
      w.f64(after.kwh);
      w.i64(after.anomalies);
    }
  }
  return out;
}

Result<Span> span_from_bytes(std::string_view bytes) {
  if (bytes.size() != kSize) {
    return fail("span: " + std::to_string(bytes.size()) + " bytes, expected " +
                std::to_string(kSize));
  }
  Reader r(bytes);
  if (r.byte() != kVersion) return fail("span: unknown encoding version");
  Span s;
  s.start = r.ts();
  s.end = r.ts();
  s.samples = r.i64();
  for (auto& p : s.power) {
    p.count = r.i64();
    p.sum_mw = r.i64();
    p.min = r.f64();
    p.max = r.f64();
  }
  const unsigned soc_flags = r.byte();
  if (soc_flags > 7U) return fail("span: bad soc flags");
  const double soc_min = r.f64();
  const double soc_max = r.f64();
  if ((soc_flags & 1U) != 0) s.soc.min = soc_min;
  if ((soc_flags & 2U) != 0) s.soc.max = soc_max;
  s.soc.last = r.reading((soc_flags & 4U) != 0);
  for (auto& c : s.counters) {
    const unsigned flags = r.byte();
    if (flags > 63U) return fail("span: bad counter flags");
    c.first = r.reading((flags & kFirst) != 0);
    c.second = r.reading((flags & kSecond) != 0);
    c.penultimate = r.reading((flags & kPenultimate) != 0);
    c.last = r.reading((flags & kLast) != 0);
    for (auto& after : c.after_head) {
      after.kwh = r.f64();
      after.anomalies = r.i64();
    }
    c.after_head[0].ends_pending = (flags & kPendingAfterTaken) != 0;
    c.after_head[1].ends_pending = (flags & kPendingAfterHeld) != 0;
  }
  if (s.end <= s.start) return fail("span: end not after start");
  return s;
}

std::string to_bytea_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 + 2 * bytes.size());
  out += "\\x";
  for (const char c : bytes) {
    const auto b = static_cast<unsigned char>(c);
    out += kDigits[b >> 4U];
    out += kDigits[b & 0xfU];
  }
  return out;
}

Result<std::string> from_bytea_hex(std::string_view text) {
  if (text.size() < 2 || text[0] != '\\' || text[1] != 'x' || text.size() % 2 != 0) {
    return fail("bytea: not in hex form");
  }
  std::string out;
  out.resize((text.size() - 2) / 2);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const int hi = hex_value(text[2 + 2 * i]);
    const int lo = hex_value(text[3 + 2 * i]);
    if (hi < 0 || lo < 0) return fail("bytea: bad hex digit");
    out[i] = static_cast<char>(hi * 16 + lo);
  }
  return Result<std::string>{boost::system::in_place_value, std::move(out)};
}

}  // namespace sungrow::storage
