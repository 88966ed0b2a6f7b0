// GET /v1/openapi.json: the API's OpenAPI document (docs/openapi.json), built into the binary.
#pragma once

#include <string_view>

#include "sungrow/server/http/message.hpp"

namespace sungrow::api {

// docs/openapi.json byte for byte, as it was when this binary was built (generated source).
std::string_view openapi_document();

// The document, without authentication: it describes the API, and holds nothing about devices.
http::Response openapi(const http::Request& request);

}  // namespace sungrow::api
