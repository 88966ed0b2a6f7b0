// IngestClient: one kept-alive libcurl handle that POSTs spooled samples and classifies the answer.
#include <curl/curl.h>
#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>
#include <mutex>

#include "sungrow/edge/upload/uploader.hpp"

namespace sungrow::edge {

std::string_view to_string(PostStatus s) {
  switch (s) {
    case PostStatus::delivered:
      return "delivered";
    case PostStatus::retry:
      return "retry";
    case PostStatus::unauthorized:
      return "unauthorized";
    case PostStatus::rejected:
      return "rejected";
    case PostStatus::too_large:
      return "too_large";
  }
  return "unknown";
}

namespace {

// libcurl's global state is not thread-safe to set up; do it exactly once per process and never
// tear it down (other handles may still live during static destruction).
void global_init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw ErrorException(fail("libcurl global initialisation failed"));
    }
  });
}

struct CurlDeleter {
  void operator()(CURL* c) const noexcept { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const noexcept { curl_slist_free_all(l); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

// A hostile or broken server must not make us buffer an unbounded reply.
constexpr std::size_t kMaxResponseBytes = 64 * 1024;
constexpr std::size_t kDetailBytes = 1024;

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  const std::size_t bytes = size * n;
  if (out->size() < kMaxResponseBytes) {
    out->append(data, std::min(bytes, kMaxResponseBytes - out->size()));
  }
  return bytes;
}

SlistPtr append(SlistPtr list, const std::string& header) {
  curl_slist* grown = curl_slist_append(list.get(), header.c_str());
  if (grown == nullptr) throw ErrorException(fail("out of memory building HTTP headers"));
  static_cast<void>(list.release());  // now owned through `grown`
  return SlistPtr(grown);
}

Result<std::string> gzip(std::string_view in) {
  z_stream zs{};
  // windowBits 15 + 16 selects the gzip wrapper that Content-Encoding: gzip means.
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return fail("gzip: deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, static_cast<uLong>(in.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  const auto produced = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return fail(fmt::format("gzip: deflate failed ({})", rc));
  out.resize(produced);
  // Error is an aggregate of one string, so a bare string would be ambiguous: say which side.
  return Result<std::string>(boost::system::in_place_value, std::move(out));
}

bool has_control_chars(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

PostStatus classify(long http) {
  if (http >= 200 && http < 300) return PostStatus::delivered;
  if (http == 401 || http == 403) return PostStatus::unauthorized;
  if (http == 413) return PostStatus::too_large;
  if (http == 408 || http == 429) return PostStatus::retry;
  // 400, 422 and any other 4xx: the request itself is wrong, sending it again cannot help.
  if (http >= 400 && http < 500) return PostStatus::rejected;
  // 5xx, and 1xx/3xx (no redirects are followed: a redirect could downgrade to http://).
  return PostStatus::retry;
}

}  // namespace

struct IngestClient::Impl {
  UploaderSettings settings;
  CurlPtr curl;
  SlistPtr headers;       // identity body
  SlistPtr gzip_headers;  // + Content-Encoding: gzip
  std::string response;
  std::string body;
  std::uint64_t connections = 0;
  char errbuf[CURL_ERROR_SIZE] = {};

  explicit Impl(UploaderSettings s) : settings(std::move(s)) {
    if (auto ok = validate_ingest_url(settings.url); !ok) throw ErrorException(ok.error());
    if (has_control_chars(settings.token)) {
      throw ErrorException(fail("ingest token contains control characters"));
    }
    global_init_once();
    curl.reset(curl_easy_init());
    if (!curl) throw ErrorException(fail("curl_easy_init failed"));

    SlistPtr h;
    h = append(std::move(h), "Authorization: Bearer " + settings.token);
    h = append(std::move(h), "Content-Type: application/json");
    h = append(std::move(h), "Accept: application/json");
    // Without this, curl waits for "100 Continue" before large bodies, a round trip for nothing.
    h = append(std::move(h), "Expect:");
    headers = std::move(h);
    SlistPtr g;
    for (const curl_slist* it = headers.get(); it != nullptr; it = it->next) {
      g = append(std::move(g), it->data);
    }
    gzip_headers = append(std::move(g), "Content-Encoding: gzip");

    CURL* c = curl.get();
    const auto set = [&](CURLoption opt, auto value) {
      if (const CURLcode rc = curl_easy_setopt(c, opt, value); rc != CURLE_OK) {
        throw ErrorException(
            fail(fmt::format("curl option {}: {}", static_cast<int>(opt), curl_easy_strerror(rc))));
      }
    };
    set(CURLOPT_URL, settings.url.c_str());
    // validate_ingest_url allowed http:// only to loopback; pin curl to the scheme it checked.
    const bool https =
        settings.url.size() >= 6 && (settings.url[4] == 's' || settings.url[4] == 'S');
    set(CURLOPT_PROTOCOLS_STR, https ? "https" : "http");
    set(CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
    set(CURLOPT_FOLLOWLOCATION, 0L);
    set(CURLOPT_POST, 1L);
    // Verification is never switched off. VERIFYHOST 2 is libcurl's "check the name" (1 is an
    // alias of 2 since 7.66); CAINFO replaces the system bundle with the operator's own CA.
    set(CURLOPT_SSL_VERIFYPEER, 1L);
    set(CURLOPT_SSL_VERIFYHOST, 2L);
    if (settings.ca_file) set(CURLOPT_CAINFO, settings.ca_file->c_str());
    set(CURLOPT_TIMEOUT_MS, static_cast<long>(settings.timeout.count()));
    set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(settings.timeout.count()));
    set(CURLOPT_NOSIGNAL, 1L);  // we run on a worker thread; no SIGALRM games
    set(CURLOPT_TCP_KEEPALIVE, 1L);
    set(CURLOPT_WRITEFUNCTION, &on_body);
    set(CURLOPT_WRITEDATA, static_cast<void*>(&response));
    set(CURLOPT_ERRORBUFFER, static_cast<char*>(errbuf));
    set(CURLOPT_USERAGENT, "sungrow-edge/0.1");
  }

  PostResult post(std::span<const SpooledSample> batch) {
    std::size_t bytes = 14;
    for (const auto& s : batch) bytes += s.json.size() + 1;
    body.clear();
    body.reserve(bytes);
    body += R"({"samples":[)";
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (i != 0) body += ',';
      body += batch[i].json;
    }
    body += "]}";

    std::string compressed;
    const std::string* payload = &body;
    if (settings.gzip) {
      auto z = gzip(body);
      if (!z) return PostResult{PostStatus::retry, 0, z.error().message, std::nullopt};
      compressed = std::move(*z);
      payload = &compressed;
    }

    CURL* c = curl.get();
    response.clear();
    errbuf[0] = '\0';
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, settings.gzip ? gzip_headers.get() : headers.get());
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload->data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(payload->size()));
    const CURLcode rc = curl_easy_perform(c);

    long new_connections = 0;
    curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &new_connections);
    connections += static_cast<std::uint64_t>(std::max(0L, new_connections));

    PostResult out;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out.http_status);
    if (rc != CURLE_OK) {
      // Network, TLS and timeout failures: nothing is known to be committed, so retry.
      out.status = PostStatus::retry;
      out.detail = errbuf[0] != '\0' ? fmt::format("{}: {}", curl_easy_strerror(rc), errbuf)
                                     : std::string(curl_easy_strerror(rc));
      return out;
    }
    out.status = classify(out.http_status);
    curl_off_t retry_after = 0;  // libcurl parses both delta-seconds and HTTP-date forms
    if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK && retry_after > 0) {
      // A server asking for more than an hour is capped so a typo cannot park us for days.
      out.retry_after = std::chrono::seconds{std::min<curl_off_t>(retry_after, 3600)};
    }
    if (out.status != PostStatus::delivered) {
      out.detail = response.substr(0, kDetailBytes);
    }
    return out;
  }
};

IngestClient::IngestClient(UploaderSettings settings)
    : impl_(std::make_unique<Impl>(std::move(settings))) {}
IngestClient::IngestClient(IngestClient&&) noexcept = default;
IngestClient& IngestClient::operator=(IngestClient&&) noexcept = default;
IngestClient::~IngestClient() = default;

PostResult IngestClient::post(std::span<const SpooledSample> batch) {
  return impl_->post(batch);
}

std::uint64_t IngestClient::connections_opened() const {
  return impl_->connections;
}

}  // namespace sungrow::edge
