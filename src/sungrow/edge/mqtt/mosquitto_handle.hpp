// RAII for libmosquitto: the library initialised once per process, one client per handle.
#pragma once

#include <memory>
#include <string>

struct mosquitto;

namespace sungrow::edge {

struct MosquittoDeleter {
  void operator()(mosquitto* m) const;
};
using MosquittoHandle = std::unique_ptr<mosquitto, MosquittoDeleter>;

// A new client (clean session) whose callbacks receive `userdata`; initialises the library on
// first use (thread-safe, cleaned up at exit). Null only when out of memory.
MosquittoHandle make_mosquitto(const std::string& client_id, void* userdata);

// libmosquitto's text for one of its MOSQ_ERR_* codes, or for a CONNACK refusal code.
std::string mosquitto_error_text(int rc);
std::string mosquitto_connack_text(int rc);

}  // namespace sungrow::edge
