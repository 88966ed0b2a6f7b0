// OpenApiDocument: replies of the real server checked against docs/openapi.json — the subset of
// JSON Schema the document uses, the document's own soundness, and statuses, media types and
// headers per (path, method).
#pragma once

#include <boost/json/value.hpp>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http_client.hpp"
#include "raw_client.hpp"

namespace sungrow::test {

// A reply as the checker sees it.
struct ObservedReply {
  int status = 0;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
};

ObservedReply observed(const HttpReply& reply);
ObservedReply observed(const Reply& reply);

// Problem lines as one text, a line each, for a test's failure message.
std::string joined(const std::vector<std::string>& lines);

// Validation keywords: $ref (to "#/…" in this document), type (a name or an array of names,
// "null" and "integer" included), enum, properties, required, additionalProperties (false or a
// schema), items, minItems, maxItems, minimum, maximum, pattern (ECMAScript, unanchored), format
// "date-time" (parse_rfc3339), anyOf. Annotations: title, description, default, example, examples,
// deprecated. Any other keyword, or another format, is a violation and a document problem, never
// silently ignored: a schema cannot promise more than this checker verifies.
class OpenApiDocument {
 public:
  // Throws std::runtime_error when `text` is not a JSON object.
  explicit OpenApiDocument(std::string_view text);

  const boost::json::value& json() const { return doc_; }

  // One line per thing that makes the document unsound, empty when there is none: not OpenAPI 3.1;
  // a path without operations; an operation without responses, with a status that is not an
  // explicit code, or with a response without a description; a header or media type without a
  // schema; a security requirement naming no scheme; an operationId used twice; a $ref that does
  // not resolve; a schema keyword or format the checker does not support; a required member that
  // is not among the properties; an example that breaks its own schema.
  std::vector<std::string> problems() const;

  // The schema components/schemas/<name>; throws std::out_of_range when there is none.
  const boost::json::value& schema(std::string_view name) const;

  // Where `instance` breaks `schema`, one line each ("/buckets/0/coverage: 1.5 is above the
  // maximum 1"); empty when it conforms.
  std::vector<std::string> validate(const boost::json::value& schema,
                                    const boost::json::value& instance) const;

  // Where a reply to `method` `path` breaks the document: a status the operation does not list, a
  // media type it does not list, a required header missing, a body that is not JSON or breaks the
  // schema. Empty when it conforms.
  std::vector<std::string> check_reply(std::string_view path, std::string_view method,
                                       const ObservedReply& reply) const;
  // The same against components/responses/<name>, for replies to requests no operation covers
  // (an unknown path, a method a path does not take, a connection refused before its request).
  std::vector<std::string> check_component_reply(std::string_view name,
                                                 const ObservedReply& reply) const;

 private:
  const boost::json::value* resolve(std::string_view ref) const;
  std::vector<std::string> check_response(const boost::json::value& response,
                                          const ObservedReply& reply) const;

  boost::json::value doc_;
};

}  // namespace sungrow::test
