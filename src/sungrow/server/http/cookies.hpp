// Cookies as the dashboard's session uses them: reading one from a Cookie header, writing a
// Set-Cookie value with the attributes a session cookie needs.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace sungrow::http {

// The value of cookie `name` in a Cookie header ("a=1; b=2"); nullopt when absent.
std::optional<std::string_view> cookie_value(std::string_view cookie_header, std::string_view name);

// "name=value; Path=/; Max-Age=…; HttpOnly; SameSite=Strict" (+ "; Secure"). Max-Age 0 deletes.
std::string session_cookie(std::string_view name, std::string_view value,
                           std::chrono::seconds max_age, bool secure);

}  // namespace sungrow::http
