// IngestClient: one kept-alive libcurl handle that POSTs spooled samples and classifies the answer.
#include <curl/curl.h>
#include <fmt/format.h>
#include <zlib.h>

#include <algorithm>

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
    case PostStatus::misconfigured:
      return "misconfigured";
  }
  return "unknown";
}

std::string describe(const PostResult& r) {
  if (r.http_status == 0) return r.detail;
  if (r.detail.empty()) return fmt::format("HTTP {}", r.http_status);
  return fmt::format("HTTP {}: {}", r.http_status, r.detail);
}

namespace {

// libcurl's global state is not thread-safe to set up; do it exactly once per process and never
// tear it down (other handles may still live during static destruction).
bool global_init_once() {
  static const bool ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;  // magic static: once
  return ok;
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

// Appends to `list`; false (list untouched) when libcurl is out of memory.
bool append(SlistPtr& list, const char* header) {
  curl_slist* grown = curl_slist_append(list.get(), header);
  if (grown == nullptr) return false;
  static_cast<void>(list.release());  // now owned through `grown`
  list.reset(grown);
  return true;
}

// Owns an initialised z_stream: deflateEnd runs however gzip() leaves (a throwing allocation
// included).
class Deflater {
 public:
  Deflater() {
    // windowBits 15 + 16 selects the gzip wrapper that Content-Encoding: gzip means.
    ok_ = deflateInit2(&zs_, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) ==
          Z_OK;
  }
  ~Deflater() {
    if (ok_) deflateEnd(&zs_);
  }
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;
  bool ok() const { return ok_; }
  z_stream& stream() { return zs_; }

 private:
  z_stream zs_{};
  bool ok_ = false;
};

Result<std::string> gzip(std::string_view in) {
  Deflater d;
  if (!d.ok()) return fail("gzip: deflateInit2 failed");
  z_stream& zs = d.stream();
  std::string out(deflateBound(&zs, static_cast<uLong>(in.size())), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  const auto produced = zs.total_out;
  if (rc != Z_STREAM_END) return fail(fmt::format("gzip: deflate failed ({})", rc));
  out.resize(produced);
  // Error is an aggregate of one string, so a bare string would be ambiguous: say which side.
  return Result<std::string>(boost::system::in_place_value, std::move(out));
}

PostStatus classify(long http) {
  if (http >= 200 && http < 300) return PostStatus::delivered;
  if (http == 401 || http == 403) return PostStatus::unauthorized;
  // Only the ingest API's own verdicts on the content split the batch (and in the end move
  // samples to dead letters). Anything else must never cost data.
  if (http == 400 || http == 422) return PostStatus::rejected;
  if (http == 413) return PostStatus::too_large;
  if (http == 408 || http == 429) return PostStatus::retry;
  if (http >= 500 && http < 600) return PostStatus::retry;
  // Any other 4xx (404 wrong path, 405, 407 proxy auth, 415, 431…), 1xx/3xx (no redirects are
  // followed: a redirect could downgrade to http://) and codes outside the HTTP range: the URL
  // or something in between is wrong, not the data.
  return PostStatus::misconfigured;
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

  explicit Impl(UploaderSettings s) : settings(std::move(s)) {}

  // Everything that can fail, as a value. `this` must not move afterwards (curl holds pointers
  // to `response` and `errbuf`), which the unique_ptr in IngestClient guarantees.
  Result<void> init() {
    if (auto ok = validate_ingest_url(settings.url); !ok) return ok;
    if (auto ok = validate_token(settings.token); !ok) return ok;
    if (!global_init_once()) return fail("libcurl global initialisation failed");
    curl.reset(curl_easy_init());
    if (!curl) return fail("curl_easy_init failed");

    const auto oom = [] { return fail("out of memory building HTTP headers"); };
    SlistPtr h;
    const std::string auth = "Authorization: Bearer " + settings.token;
    for (const char* line :
         {auth.c_str(), "Content-Type: application/json", "Accept: application/json",
          // Without this, curl waits for "100 Continue" before large bodies,
          // a round trip for nothing.
          "Expect:"}) {
      if (!append(h, line)) return oom();
    }
    headers = std::move(h);
    SlistPtr g;
    for (const curl_slist* it = headers.get(); it != nullptr; it = it->next) {
      if (!append(g, it->data)) return oom();
    }
    if (!append(g, "Content-Encoding: gzip")) return oom();
    gzip_headers = std::move(g);

    CURL* c = curl.get();
    CURLcode rc = CURLE_OK;
    CURLoption failed{};
    const auto set = [&](CURLoption opt, auto value) {
      if (rc != CURLE_OK) return;  // keep the first failure
      rc = curl_easy_setopt(c, opt, value);
      if (rc != CURLE_OK) failed = opt;
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
    if (rc != CURLE_OK) {
      return fail(
          fmt::format("curl option {}: {}", static_cast<int>(failed), curl_easy_strerror(rc)));
    }
    return {};
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
    out.detail = response.substr(0, kDetailBytes);
    return out;
  }
};

Result<IngestClient> IngestClient::create(UploaderSettings settings) {
  auto impl = std::make_unique<Impl>(std::move(settings));
  if (auto ok = impl->init(); !ok) return ok.error();
  return IngestClient(std::move(impl));
}

IngestClient::IngestClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
IngestClient::IngestClient(UploaderSettings settings)
    : IngestClient(create(std::move(settings)).value()) {}
IngestClient::IngestClient(IngestClient&&) noexcept = default;
IngestClient& IngestClient::operator=(IngestClient&&) noexcept = default;
IngestClient::~IngestClient() = default;

PostResult IngestClient::post(std::span<const SpooledSample> batch) {
  return impl_->post(batch);
}

std::uint64_t IngestClient::connections_opened() const {
  return impl_->connections;
}

const std::string& IngestClient::url() const {
  return impl_->settings.url;
}

}  // namespace sungrow::edge
