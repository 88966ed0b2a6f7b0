// HttpsReceiver: Beast + Asio SSL on C++20 coroutines; the ingest rules of docs/api.md,
// scriptable.
#include "https_receiver.hpp"

#include <zlib.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "sungrow/core/sample_json.hpp"

namespace sungrow::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

namespace {

// Far above any test's max_body_bytes, so oversize bodies are read whole and answered 413
// rather than cut off mid-upload.
constexpr std::uint64_t kReadLimit = 256ULL * 1024 * 1024;

std::optional<std::string> gunzip(const std::string& in) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return std::nullopt;
  std::string out;
  std::string chunk(64 * 1024, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(chunk.data());
    zs.avail_out = static_cast<uInt>(chunk.size());
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) break;
    out.append(chunk.data(), chunk.size() - zs.avail_out);
    if (out.size() > kReadLimit || (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0)) break;
  }
  inflateEnd(&zs);
  if (rc != Z_STREAM_END) return std::nullopt;
  return out;
}

std::string error_body(std::string_view message) {
  return json::serialize(json::object{{"error", message}});
}

Reply reply(unsigned status, std::string body) {
  Reply r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

// The parsed batch: what the server would store, and why it would refuse it.
struct Batch {
  bool parsed = false;  // {"samples":[…]} shape
  std::vector<Sample> samples;
  json::array problems;  // [{"index","field","reason"}]
  std::vector<std::int64_t> seqs;
};

Batch decode(const std::string& body) {
  Batch b;
  boost::system::error_code ec;
  const json::value doc = json::parse(body, ec);
  if (ec) return b;
  const auto* obj = doc.if_object();
  const auto* arr = obj != nullptr ? obj->if_contains("samples") : nullptr;
  if (arr == nullptr || !arr->is_array()) return b;
  b.parsed = true;
  std::size_t index = 0;
  for (const auto& v : arr->get_array()) {
    if (const auto* o = v.if_object()) {
      if (const auto* seq = o->if_contains("seq"); seq != nullptr && seq->is_int64()) {
        b.seqs.push_back(seq->get_int64());
      }
    }
    auto decoded = sample_from_json(v);
    for (const auto& p : decoded.problems) {
      b.problems.push_back(
          json::object{{"index", index}, {"field", p.field}, {"reason", p.reason}});
    }
    if (decoded.sample) b.samples.push_back(std::move(*decoded.sample));
    ++index;
  }
  return b;
}

}  // namespace

struct HttpsReceiver::Impl {
  ReceiverOptions opt;
  asio::ssl::context tls{asio::ssl::context::tls_server};
  std::optional<asio::io_context> ioc;
  std::optional<tcp::acceptor> acceptor;
  std::uint16_t port = 0;
  std::thread thread;
  std::atomic<bool> stopped{false};

  mutable std::mutex mu;
  mutable std::condition_variable grew;
  std::deque<Reply> script;
  Responder responder;
  std::set<std::int64_t> bad_seqs;
  std::set<std::pair<std::string, Timestamp>> stored_ts;  // the server's dedupe key
  std::set<std::pair<std::string, std::int64_t>> stored_keys;
  std::vector<Sample> stored;
  std::size_t dups = 0;
  std::vector<RequestRecord> log;
  std::uint64_t conns = 0;

  explicit Impl(ReceiverOptions o) : opt(std::move(o)) {
    tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                    asio::ssl::context::no_tlsv1_1);
    tls.use_certificate_chain_file(opt.cert_file.string());
    tls.use_private_key_file(opt.key_file.string(), asio::ssl::context::pem);
    ioc.emplace(1);
    acceptor.emplace(*ioc, tcp::endpoint(asio::ip::make_address(opt.address), 0));
    port = acceptor->local_endpoint().port();
    asio::co_spawn(*ioc, accept_loop(), asio::detached);
    thread = std::thread([this] { ioc->run(); });
  }

  ~Impl() { stop(); }

  void stop() {
    if (stopped.exchange(true)) return;
    ioc->stop();
    thread.join();
    // Destroying the context destroys every suspended session, closing its socket: clients see
    // the connection end at once instead of waiting for their timeouts.
    acceptor.reset();
    ioc.reset();
  }

  // Stores a batch like INSERT … ON CONFLICT (device_id, ts) DO NOTHING. Caller holds `mu`.
  std::size_t store(std::vector<Sample>& samples) {
    std::size_t inserted = 0;
    for (auto& s : samples) {
      if (!stored_ts.emplace(s.device_id, s.ts).second) {
        ++dups;
        continue;
      }
      ++inserted;
      stored_keys.emplace(s.device_id, s.seq);
      if (opt.keep_samples) stored.push_back(std::move(s));
    }
    grew.notify_all();
    return inserted;
  }

  struct Decision {
    Reply reply;
    bool record_after_delay = false;
    Batch batch;
    std::size_t log_index = 0;
  };

  Decision decide(const http::request<http::string_body>& req, std::uint64_t connection) {
    Decision d;
    RequestRecord rec;
    rec.method = std::string(req.method_string());
    rec.target = std::string(req.target());
    rec.connection = connection;
    rec.wire_bytes = req.body().size();
    rec.gzip = beast::iequals(req[http::field::content_encoding], "gzip");

    std::optional<std::string> plain;
    if (rec.gzip) {
      plain = gunzip(req.body());
    } else {
      plain = req.body();
    }
    if (plain) d.batch = decode(*plain);
    rec.seqs = d.batch.seqs;

    Responder custom;
    std::optional<Reply> scripted;
    {
      std::lock_guard lock(mu);
      rec.authorized = req[http::field::authorization] == "Bearer " + opt.token;
      if (!script.empty()) {
        scripted = std::move(script.front());
        script.pop_front();
      } else {
        custom = responder;
      }
    }
    // User code runs outside the lock so a responder may call back into the receiver.
    if (!scripted && custom) scripted = custom(rec);

    std::unique_lock lock(mu);
    if (scripted) {
      d.reply = std::move(*scripted);
      const bool ok = d.reply.status >= 200 && d.reply.status < 300;
      std::size_t inserted = 0;
      if (d.reply.lose) {
        // store nothing, whatever the answer says
      } else if (d.batch.parsed &&
                 (d.reply.commit || (ok && !d.reply.reset && d.reply.delay.count() == 0))) {
        inserted = store(d.batch.samples);
      } else if (d.batch.parsed && ok && !d.reply.reset) {
        d.record_after_delay = true;
      }
      if (d.reply.body.empty()) {
        d.reply.body = ok ? json::serialize(json::object{{"received", d.batch.samples.size()},
                                                         {"inserted", inserted}})
                          : error_body("scripted failure");
      }
    } else {
      d.reply = default_reply(req, rec, d.batch);
    }
    rec.status = d.reply.reset ? 0 : d.reply.status;
    d.log_index = log.size();
    log.push_back(std::move(rec));
    return d;
  }

  // The server's rules (docs/api.md), in the order it applies them. Caller holds `mu`.
  Reply default_reply(const http::request<http::string_body>& req, const RequestRecord& rec,
                      Batch& batch) {
    Reply r;
    if (rec.target != "/v1/ingest") return reply(404, error_body("not found"));
    if (req.method() != http::verb::post) return reply(405, error_body("method not allowed"));
    if (!rec.authorized) return reply(401, error_body("missing or invalid bearer token"));
    if (rec.wire_bytes > opt.max_body_bytes) return reply(413, error_body("body too large"));
    if (req[http::field::content_type].find("application/json") != 0) {
      return reply(415, error_body("content type must be application/json"));
    }
    if (!batch.parsed) return reply(400, error_body("body must be {\"samples\":[...]}"));
    if (opt.device_id) {
      for (const auto& s : batch.samples) {
        if (s.device_id != *opt.device_id)
          return reply(403, error_body("sample of another device"));
      }
    }
    for (std::size_t i = 0; i < batch.seqs.size(); ++i) {
      if (bad_seqs.contains(batch.seqs[i])) {
        batch.problems.push_back(json::object{
            {"index", i}, {"field", "seq"}, {"reason", "rejected by the test receiver"}});
      }
    }
    if (!batch.problems.empty()) {
      return reply(422, json::serialize(json::object{{"errors", batch.problems}}));
    }
    const auto received = batch.samples.size();
    const auto inserted = store(batch.samples);
    r.body = json::serialize(json::object{{"received", received}, {"inserted", inserted}});
    return r;
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor->async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
      if (ec) continue;
      std::uint64_t id = 0;
      {
        std::lock_guard lock(mu);
        id = ++conns;
      }
      asio::co_spawn(*ioc, session(std::move(socket), id), asio::detached);
    }
  }

  asio::awaitable<void> session(tcp::socket socket, std::uint64_t id) {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), tls);
    try {
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
      co_await stream.async_handshake(asio::ssl::stream_base::server, asio::use_awaitable);
      beast::flat_buffer buffer;
      for (;;) {
        // An idle keep-alive connection is the client's to close; no read deadline meanwhile.
        beast::get_lowest_layer(stream).expires_never();
        http::request_parser<http::string_body> parser;
        parser.body_limit(kReadLimit);
        co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
        auto req = parser.release();
        auto d = decide(req, id);

        if (d.reply.delay.count() > 0) {
          asio::steady_timer timer(co_await asio::this_coro::executor, d.reply.delay);
          co_await timer.async_wait(asio::use_awaitable);
          if (d.record_after_delay) {
            std::lock_guard lock(mu);
            store(d.batch.samples);
          }
        }
        if (d.reply.reset) {
          auto& raw = beast::get_lowest_layer(stream).socket();
          boost::system::error_code ignored;
          raw.set_option(tcp::socket::linger(true, 0), ignored);  // close → RST, not FIN
          raw.close(ignored);
          co_return;
        }
        http::response<http::string_body> res{static_cast<http::status>(d.reply.status),
                                              req.version()};
        res.set(http::field::content_type, "application/json");
        for (const auto& [name, value] : d.reply.headers) res.set(name, value);
        res.keep_alive(req.keep_alive());
        // These statuses carry no body by definition (Beast refuses to frame one).
        const bool bodiless =
            d.reply.status < 200 || d.reply.status == 204 || d.reply.status == 304;
        if (!bodiless) res.body() = std::move(d.reply.body);
        res.prepare_payload();
        beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(30));
        co_await http::async_write(stream, res, asio::use_awaitable);
        if (!res.keep_alive()) break;
      }
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
      co_await stream.async_shutdown(asio::use_awaitable);
    } catch (const std::exception&) {
      // Client gone, TLS failure (e.g. it did not trust our CA), deadline: end this session only.
    }
  }
};

HttpsReceiver::HttpsReceiver(ReceiverOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpsReceiver::~HttpsReceiver() = default;

std::uint16_t HttpsReceiver::port() const {
  return impl_->port;
}
std::string HttpsReceiver::url() const {
  return "https://" + impl_->opt.address + ":" + std::to_string(impl_->port) + "/v1/ingest";
}

void HttpsReceiver::push(Reply reply) {
  std::lock_guard lock(impl_->mu);
  impl_->script.push_back(std::move(reply));
}
void HttpsReceiver::push(std::initializer_list<Reply> replies) {
  std::lock_guard lock(impl_->mu);
  for (const auto& r : replies) impl_->script.push_back(r);
}
void HttpsReceiver::set_responder(Responder responder) {
  std::lock_guard lock(impl_->mu);
  impl_->responder = std::move(responder);
}
void HttpsReceiver::reject_seqs(std::set<std::int64_t> seqs) {
  std::lock_guard lock(impl_->mu);
  impl_->bad_seqs = std::move(seqs);
}
void HttpsReceiver::set_max_body_bytes(std::size_t bytes) {
  std::lock_guard lock(impl_->mu);
  impl_->opt.max_body_bytes = bytes;
}
void HttpsReceiver::set_token(std::string token) {
  std::lock_guard lock(impl_->mu);
  impl_->opt.token = std::move(token);
}

std::size_t HttpsReceiver::count() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stored_ts.size();
}
std::size_t HttpsReceiver::duplicates() const {
  std::lock_guard lock(impl_->mu);
  return impl_->dups;
}
std::vector<Sample> HttpsReceiver::samples() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stored;
}
std::set<std::pair<std::string, std::int64_t>> HttpsReceiver::keys() const {
  std::lock_guard lock(impl_->mu);
  return impl_->stored_keys;
}
std::vector<RequestRecord> HttpsReceiver::requests() const {
  std::lock_guard lock(impl_->mu);
  return impl_->log;
}
std::uint64_t HttpsReceiver::connections() const {
  std::lock_guard lock(impl_->mu);
  return impl_->conns;
}
bool HttpsReceiver::wait_for_count(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(impl_->mu);
  return impl_->grew.wait_for(lock, timeout, [&] { return impl_->stored_ts.size() >= n; });
}

void HttpsReceiver::stop() {
  impl_->stop();
}

}  // namespace sungrow::test
