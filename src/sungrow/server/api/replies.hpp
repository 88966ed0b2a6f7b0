// Replies more than one handler file gives.
#pragma once

#include "sungrow/server/auth/tokens.hpp"
#include "sungrow/server/http/message.hpp"

namespace sungrow::api {

// A failed authentication's reply: its status, code and detail, with WWW-Authenticate and
// Retry-After when the result carries them.
http::Response unauthorized(const auth::AuthResult& auth);

}  // namespace sungrow::api
