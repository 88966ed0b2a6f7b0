// libmosquitto's process-wide init/cleanup and the client handle.
#include "sungrow/edge/mqtt/mosquitto_handle.hpp"

#include <mosquitto.h>

#include <cerrno>
#include <cstring>

namespace sungrow::edge {
namespace {

// mosquitto_lib_init is not thread-safe and must precede every client; a function-local static
// runs it once, whichever thread gets here first, and cleans up after main returns.
class Library {
 public:
  Library() { mosquitto_lib_init(); }
  ~Library() { mosquitto_lib_cleanup(); }
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
};

void ensure_library() {
  static const Library library;
}

}  // namespace

void MosquittoDeleter::operator()(mosquitto* m) const {
  mosquitto_destroy(m);
}

MosquittoHandle make_mosquitto(const std::string& client_id, void* userdata) {
  ensure_library();
  return MosquittoHandle(mosquitto_new(client_id.c_str(), true, userdata));
}

namespace {

// libmosquitto's texts end in a full stop; ours go in the middle of a sentence.
std::string without_full_stop(std::string text) {
  if (!text.empty() && text.back() == '.') text.pop_back();
  return text;
}

}  // namespace

std::string mosquitto_error_text(int rc) {
  // MOSQ_ERR_ERRNO leaves the reason in errno; the library's own text would just say so.
  if (rc == MOSQ_ERR_ERRNO) return std::strerror(errno);
  // libmosquitto 2.0 has no text of its own for it.
  if (rc == MOSQ_ERR_KEEPALIVE) return "no reply from the broker within the keepalive";
  return without_full_stop(mosquitto_strerror(rc));
}

std::string mosquitto_connack_text(int rc) {
  return without_full_stop(mosquitto_connack_string(rc));
}

}  // namespace sungrow::edge
