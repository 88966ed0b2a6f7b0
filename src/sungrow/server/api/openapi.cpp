// The handler of GET /v1/openapi.json; the document's bytes come from a source generated at build.
#include "sungrow/server/api/openapi.hpp"

namespace sungrow::api {

http::Response openapi(const http::Request&) {
  // It changes only with the binary, so clients and proxies may keep it a while.
  return http::Response{.status = 200,
                        .content_type = "application/json",
                        .body = std::string(openapi_document()),
                        .headers = {{.name = "Cache-Control", .value = "public, max-age=300"}}};
}

}  // namespace sungrow::api
