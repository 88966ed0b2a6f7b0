// Result<T>: the value-or-error type for expected failures across the project.
#pragma once

#include <boost/system/result.hpp>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace sungrow {

// An expected failure, described for a human (operators read these in logs and CLI output).
// A constructor rather than an aggregate, so Result<T> of a type constructible from a string is
// never ambiguous between value and error.
struct Error {
  Error() = default;
  explicit Error(std::string text) : message(std::move(text)) {}
  std::string message;
};

class ErrorException : public std::runtime_error {
 public:
  explicit ErrorException(const Error& e) : std::runtime_error(e.message) {}
};

// Found by ADL when Result<T>::value() is called on an error.
[[noreturn]] inline void throw_exception_from_error(const Error& e, const boost::source_location&) {
  throw ErrorException(e);
}

// Found by ADL (std::vector<sungrow::Error>) when value() is called on a failed parse that lists
// every problem (token tables, sites): the first problem is thrown.
[[noreturn]] inline void throw_exception_from_error(const std::vector<Error>& e,
                                                    const boost::source_location&) {
  throw ErrorException(e.empty() ? Error("unknown error") : e.front());
}

template <class T>
using Result = boost::system::result<T, Error>;

// Shorthand for returning a failure: `return fail("spool: {}", why);` reads better than the ctor.
inline Error fail(std::string message) {
  return Error{std::move(message)};
}

}  // namespace sungrow
