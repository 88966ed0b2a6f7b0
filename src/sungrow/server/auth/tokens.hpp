// Device tokens: DEVICE_TOKENS / DEVICE_TOKENS_FILE parsing, constant-time bearer checks, new
// tokens.
#pragma once

#include <array>
#include <boost/system/result.hpp>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sungrow/core/result.hpp"

namespace sungrow::auth {

// Tokens need this much entropy to resist guessing over the network; new_token() makes 64.
inline constexpr std::size_t kMinTokenLength = 16;
inline constexpr std::size_t kMaxTokenLength = 512;

using Digest = std::array<unsigned char, 32>;

// SHA-256 of a token: what tables and session stores keep instead of the token itself.
Digest token_digest(std::string_view token);
std::string to_hex(const Digest& digest);
std::optional<Digest> digest_from_hex(std::string_view hex);

// token → the devices it grants. Holds SHA-256 digests only: a heap dump or a debugger never shows
// a credential, and every comparison runs over equal-length digests so token lengths do not leak.
//
// Lookup hashes the digest into an index (one probe, whatever the table size): the time it takes
// can depend only on the digest of the presented token, and learning which digests sit near a
// stored one does not help find a token that hashes to it (SHA-256's preimage resistance). The
// candidate is still compared in constant time.
class TokenTable {
 public:
  struct Entry {
    Digest digest{};
    std::vector<std::string> devices;  // at least one
  };

  std::span<const Entry> entries() const { return entries_; }
  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }

  // False (table unchanged) when the token is already present.
  bool add(std::string_view token, std::vector<std::string> devices);
  bool add_digest(const Digest& digest, std::vector<std::string> devices);

  // The entry whose digest is `digest`; nullptr when none.
  const Entry* find(const Digest& digest) const;

 private:
  struct DigestHash {
    std::size_t operator()(const Digest& d) const noexcept;
  };
  std::vector<Entry> entries_;
  std::unordered_map<Digest, std::size_t, DigestHash> index_;  // digest → position in entries_
};

// Every bad entry has its own Error; none quotes the token or the device part of the entry (a
// swapped "device:token" would otherwise print the token), only the entry number or line.
using TokenTableResult = boost::system::result<TokenTable, std::vector<Error>>;

// DEVICE_TOKENS: "token:device_id" pairs, comma separated, whitespace around each part ignored,
// empty entries (a trailing comma) skipped. Split at the first ':' (device ids may contain ':',
// tokens may not). Tokens: 16..512 characters of the RFC 6750 b64token set A-Z a-z 0-9 -._~+/=.
// A device may have several tokens (rotation); a token may appear only once.
TokenTableResult parse_device_tokens(std::string_view text);

// DEVICE_TOKENS_FILE contents: one "token:device_id[,device_id…]" per line (a token may grant
// several devices, e.g. a master and a slave inverter); blank lines and '#' lines ignored.
TokenTableResult parse_device_tokens_file(std::string_view contents);
TokenTableResult load_device_tokens_file(const std::filesystem::path& path);

// Why a check failed, for metrics and logs: "missing" (no Authorization header), "malformed"
// (another scheme, an empty or malformed token), "unknown_token", "forbidden" (a valid token for
// another device), "throttled" (FailureThrottle's cool-down); empty when it succeeded.
using FailureReason = std::string_view;

// VIEWER_TOKENS_FILE contents: one "<sha-256 of the token, 64 hex digits> device_id[,…]" per
// line, as `sungrow-server viewer new` appends them: the file never holds a usable credential.
TokenTableResult parse_viewer_tokens_file(std::string_view contents);
TokenTableResult load_viewer_tokens_file(const std::filesystem::path& path);

// The line `sungrow-server viewer new` appends for a new viewer token of `devices`.
std::string viewer_tokens_line(std::string_view token, std::span<const std::string> devices);

enum class CredentialKind { device, viewer };

struct AuthResult {
  int status = 401;  // 200 ok, 401 no or unknown token, 403 token valid but not for this device,
                     // 429 the client is cooling down after too many failures
  CredentialKind kind = CredentialKind::device;
  std::vector<std::string> devices;  // what the credential grants (200 and 403)
  std::string device_id;  // 200: the requested device, else the credential's first; 403: its first
  std::string code;       // the reply's "error": "unauthorized", "forbidden", "too_many_failures"
  std::string detail;     // the reply's "detail"; never contains the token
  std::string www_authenticate;  // RFC 6750 §3 challenge for 401 replies
  FailureReason reason;          // see FailureReason
  int retry_after_s = 0;         // for 429

  bool ok() const { return status == 200; }
  bool grants(std::string_view device) const;
};

// `authorization_header` is the header's value ("" when absent). Scheme matched case-insensitively
// (RFC 7235 §2.1), the token exactly. The token's digest is looked up (TokenTable::find), so a
// partial match of the token never shows in the timing.
AuthResult check(const TokenTable& table, std::string_view authorization_header,
                 std::optional<std::string_view> requested_device = std::nullopt);

// The bearer token of an Authorization header, or why there is none (`AuthResult` with status
// 401): the parsing check() does, for callers that look the token up themselves.
struct BearerToken {
  std::string_view token;  // empty when refused
  std::optional<AuthResult> refused;
};
BearerToken bearer_token(std::string_view authorization_header);

// The result for a credential granting `entry`'s devices, `requested_device` checked (403).
AuthResult granted(const TokenTable::Entry& entry, CredentialKind kind,
                   std::optional<std::string_view> requested_device);

// 32 bytes from the OpenSSL CSPRNG as 64 lowercase hex digits. Throws ErrorException if the CSPRNG
// fails (it then has no entropy; no token beats a weak one).
std::string new_token();

}  // namespace sungrow::auth
