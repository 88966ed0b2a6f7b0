// Token table parsing and constant-time bearer-token checks over SHA-256 digests.
#include "sungrow/server/auth/tokens.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "sungrow/core/entry_lines.hpp"
#include "sungrow/core/sample.hpp"

namespace sungrow::auth {

namespace {

Digest sha256(std::string_view text) {
  Digest d{};
  unsigned int len = 0;
  if (EVP_Digest(text.data(), text.size(), d.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != d.size()) {
    throw ErrorException(fail("auth: SHA-256 failed (OpenSSL)"));
  }
  return d;
}

constexpr std::string_view kWhitespace = " \t\r\n";

bool token_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         std::string_view("-._~+/=").find(c) != std::string_view::npos;
}

// Collects entries and problems; `where` names the entry ("DEVICE_TOKENS entry 3").
class TableBuilder {
 public:
  // `several`: the device part may list devices separated by ',' (the file form; in the
  // DEVICE_TOKENS list a comma separates entries).
  void entry(std::string_view raw, const std::string& where, bool several = false) {
    const auto colon = raw.find(':');
    if (colon == std::string_view::npos) {
      problem(where, "missing ':' between token and device id (expected token:device_id)");
      return;
    }
    const auto token = trim_blanks(raw.substr(0, colon));
    const auto device = trim_blanks(raw.substr(colon + 1));
    bool ok = true;
    if (token.empty()) {
      problem(where, "empty token");
      ok = false;
    } else if (!std::all_of(token.begin(), token.end(), token_char)) {
      problem(where, "token has characters outside A-Z a-z 0-9 - . _ ~ + / =");
      ok = false;
    } else if (token.size() < kMinTokenLength || token.size() > kMaxTokenLength) {
      problem(where, fmt::format("token is {} characters; {}..{} are required (make one with "
                                 "`sungrow-server token new DEVICE_ID`)",
                                 token.size(), kMinTokenLength, kMaxTokenLength));
      ok = false;
    }
    auto devices = device_list(device, where, several, ok);
    if (!ok) return;
    const auto digest = sha256(token);
    if (const auto* same = table_.find(digest)) {
      problem(where, fmt::format("the same token as {}",
                                 names_[static_cast<std::size_t>(same - table_.entries().data())]));
      return;
    }
    table_.add_digest(digest, std::move(devices));
    names_.push_back(where);
  }

  // A viewer line: "<64 hex digits> device_id[,device_id…]".
  void viewer_entry(std::string_view raw, const std::string& where) {
    const auto space = raw.find_first_of(" \t");
    const auto digest = digest_from_hex(raw.substr(0, space));
    bool ok = true;
    if (!digest) {
      problem(where, "expected the 64 hex digits of a token's SHA-256, then its devices");
      ok = false;
    }
    const auto rest =
        space == std::string_view::npos ? std::string_view{} : trim_blanks(raw.substr(space));
    auto devices = device_list(rest, where, true, ok);
    if (!ok) return;
    if (!table_.add_digest(*digest, std::move(devices))) {
      problem(where, "the same token as an earlier line");
      return;
    }
    names_.push_back(where);
  }

  std::vector<std::string> device_list(std::string_view text, const std::string& where,
                                       bool several, bool& ok) {
    std::vector<std::string> devices;
    if (text.empty()) {
      problem(where, "empty device id");
      ok = false;
      return devices;
    }
    for (std::size_t start = 0; start <= text.size();) {
      const auto comma = several ? std::min(text.find(',', start), text.size()) : text.size();
      const auto device = trim_blanks(text.substr(start, comma - start));
      if (!is_valid_device_id(device)) {
        problem(where, "device id must match [A-Za-z0-9._:-]{1,64}");
        ok = false;
      } else if (std::find(devices.begin(), devices.end(), device) == devices.end()) {
        devices.emplace_back(device);
      }
      start = comma + 1;
    }
    return devices;
  }

  TokenTableResult finish(std::string_view source) && {
    if (problems_.empty() && table_.empty()) {
      problems_.push_back(fail(fmt::format("{}: no token:device_id pairs", source)));
    }
    if (!problems_.empty()) {
      return TokenTableResult(boost::system::in_place_error, std::move(problems_));
    }
    return TokenTableResult(boost::system::in_place_value, std::move(table_));
  }

 private:
  void problem(const std::string& where, std::string_view what) {
    problems_.push_back(fail(fmt::format("{}: {}", where, what)));
  }

  TokenTable table_;
  std::vector<std::string> names_;  // parallel to table_ entries, for "same token as …"
  std::vector<Error> problems_;
};

}  // namespace

Digest token_digest(std::string_view token) {
  return sha256(token);
}

std::string to_hex(const Digest& digest) {
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  out.reserve(digest.size() * 2);
  for (const unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 0x0f];
  }
  return out;
}

std::optional<Digest> digest_from_hex(std::string_view hex) {
  Digest d{};
  if (hex.size() != d.size() * 2) return std::nullopt;
  const auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < d.size(); ++i) {
    const int hi = nibble(hex[2 * i]);
    const int lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    d[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return d;
}

bool TokenTable::add(std::string_view token, std::vector<std::string> devices) {
  return add_digest(sha256(token), std::move(devices));
}

std::size_t TokenTable::DigestHash::operator()(const Digest& d) const noexcept {
  // The digest is already uniformly distributed: its first bytes are a fine hash.
  std::size_t h = 0;
  std::memcpy(&h, d.data(), sizeof h);
  return h;
}

bool TokenTable::add_digest(const Digest& digest, std::vector<std::string> devices) {
  if (!index_.emplace(digest, entries_.size()).second) return false;
  entries_.push_back(Entry{digest, std::move(devices)});
  return true;
}

const TokenTable::Entry* TokenTable::find(const Digest& digest) const {
  const auto it = index_.find(digest);
  if (it == index_.end()) return nullptr;
  const Entry& candidate = entries_[it->second];
  // The map compared with ==; the final word is a constant-time comparison all the same.
  if (CRYPTO_memcmp(candidate.digest.data(), digest.data(), digest.size()) != 0) return nullptr;
  return &candidate;
}

TokenTableResult parse_device_tokens(std::string_view text) {
  TableBuilder b;
  std::size_t index = 0;
  for (std::size_t start = 0; start <= text.size();) {
    const auto comma = std::min(text.find(',', start), text.size());
    ++index;
    const auto raw = trim_blanks(text.substr(start, comma - start));
    if (!raw.empty()) b.entry(raw, fmt::format("DEVICE_TOKENS entry {}", index));
    start = comma + 1;
  }
  return std::move(b).finish("DEVICE_TOKENS");
}

TokenTableResult parse_device_tokens_file(std::string_view contents) {
  TableBuilder b;
  for_each_entry_line(contents, [&b](std::string_view line, std::size_t line_no) {
    b.entry(line, fmt::format("DEVICE_TOKENS_FILE line {}", line_no), true);
  });
  return std::move(b).finish("DEVICE_TOKENS_FILE");
}

namespace {

TokenTableResult read_file(const std::filesystem::path& path, std::string_view setting,
                           TokenTableResult (*parse)(std::string_view)) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return TokenTableResult(
        boost::system::in_place_error,
        std::vector<Error>{fail(fmt::format("{} {}: cannot be read", setting, path.string()))});
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str());
}

}  // namespace

TokenTableResult load_device_tokens_file(const std::filesystem::path& path) {
  return read_file(path, "DEVICE_TOKENS_FILE", &parse_device_tokens_file);
}

TokenTableResult parse_viewer_tokens_file(std::string_view contents) {
  TableBuilder b;
  for_each_entry_line(contents, [&b](std::string_view line, std::size_t line_no) {
    b.viewer_entry(line, fmt::format("VIEWER_TOKENS_FILE line {}", line_no));
  });
  TokenTableResult out = std::move(b).finish("VIEWER_TOKENS_FILE");
  // No viewer yet is a valid state (the dashboard then only signs in nobody).
  if (!out && out.error().size() == 1 &&
      contents.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return TokenTableResult(boost::system::in_place_value, TokenTable{});
  }
  return out;
}

TokenTableResult load_viewer_tokens_file(const std::filesystem::path& path) {
  return read_file(path, "VIEWER_TOKENS_FILE", &parse_viewer_tokens_file);
}

std::string viewer_tokens_line(std::string_view token, std::span<const std::string> devices) {
  std::string line = to_hex(sha256(token)) + ' ';
  for (std::size_t i = 0; i < devices.size(); ++i) line += (i > 0 ? "," : "") + devices[i];
  return line;
}

bool AuthResult::grants(std::string_view device) const {
  return std::find(devices.begin(), devices.end(), device) != devices.end();
}

BearerToken bearer_token(std::string_view header) {
  AuthResult r;
  r.code = "unauthorized";
  r.www_authenticate = "Bearer realm=\"sungrow\"";
  const auto refuse = [&r](std::string_view detail, FailureReason reason, bool invalid_token) {
    r.detail = detail;
    r.reason = reason;
    if (invalid_token) r.www_authenticate = "Bearer realm=\"sungrow\", error=\"invalid_token\"";
    return BearerToken{{}, r};
  };
  const auto value = trim_blanks(header);
  if (value.empty()) return refuse("missing Authorization header (Bearer token)", "missing", false);
  const auto space = value.find_first_of(" \t");
  const auto scheme = value.substr(0, space);
  constexpr std::string_view kBearer = "bearer";
  const bool bearer = scheme.size() == kBearer.size() &&
                      std::equal(scheme.begin(), scheme.end(), kBearer.begin(), [](char a, char b) {
                        return (a >= 'A' && a <= 'Z' ? static_cast<char>(a - 'A' + 'a') : a) == b;
                      });
  if (!bearer) return refuse("the Authorization scheme must be Bearer", "malformed", false);
  const auto token =
      space == std::string_view::npos ? std::string_view{} : trim_blanks(value.substr(space));
  if (token.empty()) return refuse("missing bearer token", "malformed", true);
  if (token.find_first_of(kWhitespace) != std::string_view::npos ||
      token.size() > kMaxTokenLength) {
    return refuse("malformed bearer token", "malformed", true);
  }
  return BearerToken{token, std::nullopt};
}

AuthResult granted(const TokenTable::Entry& entry, CredentialKind kind,
                   std::optional<std::string_view> requested_device) {
  AuthResult r;
  r.kind = kind;
  r.devices = entry.devices;
  r.device_id = requested_device ? std::string(*requested_device) : entry.devices.front();
  if (requested_device && !r.grants(*requested_device)) {
    r.device_id = entry.devices.front();
    r.status = 403;
    r.code = "forbidden";
    r.detail = "this credential does not grant access to the requested device";
    r.reason = "forbidden";
    return r;
  }
  r.status = 200;
  return r;
}

AuthResult check(const TokenTable& table, std::string_view header,
                 std::optional<std::string_view> requested_device) {
  const auto bearer = bearer_token(header);
  if (bearer.refused) return *bearer.refused;
  const auto* entry = table.find(sha256(bearer.token));
  if (entry == nullptr) {
    AuthResult r;
    r.code = "unauthorized";
    r.detail = "unknown token";
    r.reason = "unknown_token";
    r.www_authenticate = "Bearer realm=\"sungrow\", error=\"invalid_token\"";
    return r;
  }
  return granted(*entry, CredentialKind::device, requested_device);
}

std::string new_token() {
  std::array<unsigned char, 32> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    throw ErrorException(fail("token new: the OpenSSL random generator failed"));
  }
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 0x0f];
  }
  OPENSSL_cleanse(bytes.data(), bytes.size());
  return out;
}

}  // namespace sungrow::auth
