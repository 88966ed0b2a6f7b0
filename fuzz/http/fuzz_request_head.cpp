// fuzz_request_head: arbitrary bytes, sliced like socket reads, through the transport's head
// reading (its own header byte count), framing checks, target forms and X-Forwarded-For walk.
#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sungrow/server/http/client_address.hpp"
#include "sungrow/server/http/request_head.hpp"

namespace {

constexpr std::size_t kMaxHeaderBytes = 2048;

void require(bool ok) {
  if (!ok) std::abort();
}

const sungrow::http::TrustedProxies& proxies() {
  static const auto p = sungrow::http::TrustedProxies::parse("127.0.0.0/8,::1,10.0.0.0/8").value();
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the read size, so every way of slicing the same head is explored.
  const std::size_t slice = data[0] == 0 ? 1 : data[0];
  const std::string_view input(reinterpret_cast<const char*>(data + 1), size - 1);

  sungrow::http::detail::RequestParser parser;
  parser.header_limit(kMaxHeaderBytes);
  parser.body_limit(1 << 20);
  sungrow::http::detail::HeadReader reader(parser, kMaxHeaderBytes);
  boost::beast::error_code ec;
  std::string buffer;
  std::size_t next = 0;
  std::size_t consumed = 0;
  while (!ec && !reader.done() && next < input.size()) {
    buffer.append(input.substr(next, slice));
    next += slice;
    const auto used = reader.put(boost::asio::buffer(buffer), ec);
    require(used <= buffer.size());
    buffer.erase(0, used);
    consumed += used;
  }
  require(consumed <= input.size());
  if (ec || !reader.done()) return 0;
  // A head the reader accepted never exceeded the limit it counts.
  require(reader.header_bytes() <= kMaxHeaderBytes);
  require(reader.header_bytes() == consumed);

  const auto refusal = sungrow::http::detail::check_request_head(parser);
  if (refusal) {
    require(refusal->status == 400 || refusal->status == 501);
    require(!refusal->detail.empty());
    return 0;
  }
  const auto& head = parser.get();
  if (head.version() >= 11) require(head.count(boost::beast::http::field::host) == 1);
  if (const auto target = sungrow::http::detail::split_target(head.target())) {
    require(target->path == "*" || target->path.starts_with('/'));
    require(target->path.find('?') == std::string::npos);
  }
  std::string forwarded;
  const auto [first, last] = head.equal_range("X-Forwarded-For");
  for (auto it = first; it != last; ++it) forwarded.append(it->value()).append(",");
  const auto client = proxies().client_of(boost::asio::ip::make_address("127.0.0.1"), forwarded);
  boost::system::error_code bad;
  boost::asio::ip::make_address(client, bad);
  require(!bad);
  return 0;
}
