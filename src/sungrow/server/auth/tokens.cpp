// Token table parsing and constant-time bearer-token checks over SHA-256 digests.
#include "sungrow/server/auth/tokens.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "sungrow/core/sample.hpp"

namespace sungrow {

void throw_exception_from_error(const std::vector<Error>& e, const boost::source_location&) {
  throw ErrorException(e.empty() ? fail("token table: unknown error") : e.front());
}

}  // namespace sungrow

namespace sungrow::auth {

namespace {

using Digest = std::array<unsigned char, 32>;

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

std::string_view trim(std::string_view s) {
  const auto b = s.find_first_not_of(kWhitespace);
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(kWhitespace);
  return s.substr(b, e - b + 1);
}

bool token_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         std::string_view("-._~+/=").find(c) != std::string_view::npos;
}

// Collects entries and problems; `where` names the entry ("DEVICE_TOKENS entry 3").
class TableBuilder {
 public:
  void entry(std::string_view raw, const std::string& where) {
    const auto colon = raw.find(':');
    if (colon == std::string_view::npos) {
      problem(where, "missing ':' between token and device id (expected token:device_id)");
      return;
    }
    const auto token = trim(raw.substr(0, colon));
    const auto device = trim(raw.substr(colon + 1));
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
    if (device.empty()) {
      problem(where, "empty device id");
      ok = false;
    } else if (!is_valid_device_id(device)) {
      problem(where, "device id must match [A-Za-z0-9._:-]{1,64}");
      ok = false;
    }
    if (!ok) return;
    const auto digest = sha256(token);
    const auto& entries = table_.entries();
    const auto same = std::find_if(entries.begin(), entries.end(),
                                   [&digest](const auto& e) { return e.digest == digest; });
    if (same != entries.end()) {
      problem(where, fmt::format("the same token as {}",
                                 names_[static_cast<std::size_t>(same - entries.begin())]));
      return;
    }
    table_.add(token, std::string(device));
    names_.push_back(where);
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

bool TokenTable::add(std::string_view token, std::string device_id) {
  const auto digest = sha256(token);
  for (const auto& e : entries_) {
    if (e.digest == digest) return false;
  }
  entries_.push_back(Entry{digest, std::move(device_id)});
  return true;
}

TokenTableResult parse_device_tokens(std::string_view text) {
  TableBuilder b;
  std::size_t index = 0;
  for (std::size_t start = 0; start <= text.size();) {
    const auto comma = std::min(text.find(',', start), text.size());
    ++index;
    const auto raw = trim(text.substr(start, comma - start));
    if (!raw.empty()) b.entry(raw, fmt::format("DEVICE_TOKENS entry {}", index));
    start = comma + 1;
  }
  return std::move(b).finish("DEVICE_TOKENS");
}

TokenTableResult parse_device_tokens_file(std::string_view contents) {
  TableBuilder b;
  std::size_t line_no = 0;
  for (std::size_t start = 0; start < contents.size();) {
    const auto nl = std::min(contents.find('\n', start), contents.size());
    ++line_no;
    const auto line = trim(contents.substr(start, nl - start));
    if (!line.empty() && line.front() != '#') {
      b.entry(line, fmt::format("DEVICE_TOKENS_FILE line {}", line_no));
    }
    start = nl + 1;
  }
  return std::move(b).finish("DEVICE_TOKENS_FILE");
}

TokenTableResult load_device_tokens_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return TokenTableResult(boost::system::in_place_error,
                            std::vector<Error>{fail(fmt::format(
                                "DEVICE_TOKENS_FILE {}: cannot be read", path.string()))});
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_device_tokens_file(text.str());
}

AuthResult check(const TokenTable& table, std::string_view header,
                 std::optional<std::string_view> requested_device) {
  AuthResult r;
  r.code = "unauthorized";
  r.www_authenticate = "Bearer realm=\"sungrow\"";
  const auto invalid = [&r](std::string_view detail, FailureReason reason) {
    r.detail = detail;
    r.reason = reason;
    r.www_authenticate = "Bearer realm=\"sungrow\", error=\"invalid_token\"";
    return r;
  };

  const auto value = trim(header);
  if (value.empty()) {
    r.detail = "missing Authorization header (Bearer token)";
    r.reason = "missing";
    return r;
  }
  const auto space = value.find_first_of(" \t");
  const auto scheme = value.substr(0, space);
  constexpr std::string_view kBearer = "bearer";
  const bool bearer = scheme.size() == kBearer.size() &&
                      std::equal(scheme.begin(), scheme.end(), kBearer.begin(), [](char a, char b) {
                        return (a >= 'A' && a <= 'Z' ? static_cast<char>(a - 'A' + 'a') : a) == b;
                      });
  if (!bearer) {
    r.detail = "the Authorization scheme must be Bearer";
    r.reason = "malformed";
    return r;
  }
  const auto token =
      space == std::string_view::npos ? std::string_view{} : trim(value.substr(space));
  if (token.empty()) return invalid("missing bearer token", "malformed");
  if (token.find_first_of(kWhitespace) != std::string_view::npos ||
      token.size() > kMaxTokenLength) {
    return invalid("malformed bearer token", "malformed");
  }

  // Every entry is compared, and the match index is selected with masks rather than a branch, so
  // the time taken depends on the table size only.
  const auto presented = sha256(token);
  std::size_t match = 0;
  std::size_t found = 0;
  const auto entries = table.entries();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const int diff = CRYPTO_memcmp(entries[i].digest.data(), presented.data(), presented.size());
    const std::size_t equal = static_cast<std::size_t>(diff == 0);
    const std::size_t mask = std::size_t{0} - equal;
    match = (match & ~mask) | (i & mask);
    found |= equal;
  }
  if (found == 0) return invalid("unknown token", "unknown_token");

  r.device_id = entries[match].device_id;
  if (requested_device && *requested_device != r.device_id) {
    r.status = 403;
    r.code = "forbidden";
    r.detail = "this token does not grant access to the requested device";
    r.www_authenticate.clear();
    r.reason = "forbidden";
    return r;
  }
  r.status = 200;
  r.code.clear();
  r.detail.clear();
  r.www_authenticate.clear();
  return r;
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
