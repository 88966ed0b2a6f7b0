// The JSON Schema subset of docs/openapi.json, its soundness checks and reply checks, for the
// contract tests of the real server.
#include "openapi_check.hpp"

#include <algorithm>
#include <array>
#include <boost/beast/http/field.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cctype>
#include <charconv>
#include <cmath>
#include <regex>
#include <set>
#include <stdexcept>

#include "sungrow/core/time.hpp"

namespace sungrow::test {

namespace json = boost::json;

namespace {

constexpr std::array<std::string_view, 8> kMethods{"get",     "put",  "post",  "delete",
                                                   "options", "head", "patch", "trace"};
constexpr std::array<std::string_view, 14> kValidationKeywords{
    "$ref",   "type",     "enum",     "properties", "required", "additionalProperties",
    "items",  "minItems", "maxItems", "minimum",    "maximum",  "pattern",
    "format", "anyOf"};
constexpr std::array<std::string_view, 6> kAnnotations{"title",   "description", "default",
                                                       "example", "examples",    "deprecated"};
constexpr std::array<std::string_view, 7> kTypes{"null",   "boolean", "object", "array",
                                                 "number", "integer", "string"};
constexpr int kMaxDepth = 64;  // $ref chains and nesting; the document needs a handful

bool contains(const auto& list, std::string_view item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

bool supported_keyword(std::string_view keyword) {
  return contains(kValidationKeywords, keyword) || contains(kAnnotations, keyword);
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "application/json; charset=utf-8" → "application/json".
std::string media_type(std::string_view content_type) {
  auto type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  while (!type.empty() && type.front() == ' ') type.remove_prefix(1);
  return lower(type);
}

// A short rendering of a value for messages.
std::string text_of(const json::value& v) {
  auto s = json::serialize(v);
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

bool is_integer(const json::value& v) {
  if (v.is_int64() || v.is_uint64()) return true;
  return v.is_double() && std::isfinite(v.get_double()) &&
         std::floor(v.get_double()) == v.get_double();
}

bool has_type(const json::value& v, std::string_view type) {
  if (type == "null") return v.is_null();
  if (type == "boolean") return v.is_bool();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "number") return v.is_number();
  if (type == "integer") return is_integer(v);
  if (type == "string") return v.is_string();
  return false;
}

std::string_view kind_name(const json::value& v) {
  if (v.is_null()) return "null";
  if (v.is_bool()) return "boolean";
  if (v.is_object()) return "object";
  if (v.is_array()) return "array";
  if (v.is_string()) return "string";
  return is_integer(v) ? "integer" : "number";
}

// JSON equality with numbers compared by value (1 == 1.0), as JSON Schema's enum does.
bool same(const json::value& a, const json::value& b) {
  if (a.is_number() && b.is_number()) return a.to_number<double>() == b.to_number<double>();
  if (a.kind() != b.kind()) return false;
  if (a.is_array()) {
    const auto& x = a.get_array();
    const auto& y = b.get_array();
    return x.size() == y.size() && std::equal(x.begin(), x.end(), y.begin(), same);
  }
  if (a.is_object()) {
    const auto& x = a.get_object();
    const auto& y = b.get_object();
    if (x.size() != y.size()) return false;
    return std::all_of(x.begin(), x.end(), [&](const auto& kv) {
      const auto* other = y.if_contains(kv.key());
      return other != nullptr && same(kv.value(), *other);
    });
  }
  return a == b;
}

// The value a JSON pointer fragment ("#/components/schemas/Sample") names in `root`.
const json::value* resolve_pointer(const json::value& root, std::string_view ref) {
  if (!ref.starts_with('#')) return nullptr;
  ref.remove_prefix(1);
  const json::value* at = &root;
  while (!ref.empty()) {
    if (ref.front() != '/') return nullptr;
    ref.remove_prefix(1);
    const auto end = std::min(ref.find('/'), ref.size());
    std::string token;
    for (std::size_t i = 0; i < end; ++i) {
      if (ref[i] == '~' && i + 1 < end && (ref[i + 1] == '0' || ref[i + 1] == '1')) {
        token += ref[i + 1] == '0' ? '~' : '/';
        ++i;
      } else {
        token += ref[i];
      }
    }
    ref.remove_prefix(end);
    if (const auto* object = at->if_object()) {
      at = object->if_contains(token);
    } else if (const auto* array = at->if_array()) {
      std::size_t index = 0;
      const auto [p, ec] = std::from_chars(token.data(), token.data() + token.size(), index);
      if (ec != std::errc{} || p != token.data() + token.size() || index >= array->size()) {
        return nullptr;
      }
      at = &(*array)[index];
    } else {
      return nullptr;
    }
    if (at == nullptr) return nullptr;
  }
  return at;
}

std::vector<std::string_view> type_names(const json::value& type) {
  std::vector<std::string_view> names;
  if (type.is_string()) names.push_back(type.get_string());
  if (const auto* list = type.if_array()) {
    for (const auto& t : *list) {
      if (t.is_string()) names.push_back(t.get_string());
    }
  }
  return names;
}

// Walks an instance through a schema, collecting every violation.
class Validator {
 public:
  explicit Validator(const json::value& root) : root_(root) {}

  void check(const json::value& schema, const json::value& instance, const std::string& where,
             int depth) {
    const std::string at = where.empty() ? "/" : where;
    if (depth > kMaxDepth) {
      out.push_back(at + ": schema nesting deeper than " + std::to_string(kMaxDepth));
      return;
    }
    if (schema.is_bool()) {
      if (!schema.get_bool()) out.push_back(at + ": no value is allowed here");
      return;
    }
    const auto* s = schema.if_object();
    if (s == nullptr) {
      out.push_back(at + ": the schema is not an object");
      return;
    }
    for (const auto& kv : *s) {
      if (!supported_keyword(kv.key())) {
        out.push_back(at + ": unsupported schema keyword " + std::string(kv.key()));
      }
    }
    if (const auto* ref = s->if_contains("$ref")) {
      const auto* target = ref->is_string() ? resolve_pointer(root_, ref->get_string()) : nullptr;
      if (target == nullptr) {
        out.push_back(at + ": unresolved $ref " + text_of(*ref));
      } else {
        check(*target, instance, where, depth + 1);
      }
    }
    if (const auto* type = s->if_contains("type")) {
      const auto names = type_names(*type);
      const bool match = std::any_of(names.begin(), names.end(),
                                     [&](std::string_view t) { return has_type(instance, t); });
      if (!match) {
        out.push_back(at + ": expected " + text_of(*type) + ", got " +
                      std::string(kind_name(instance)) + " " + text_of(instance));
        return;  // the remaining keywords would only repeat the mismatch
      }
    }
    if (const auto* values = s->if_contains("enum")) {
      const auto* list = values->if_array();
      const bool listed =
          list != nullptr && std::any_of(list->begin(), list->end(),
                                         [&](const json::value& v) { return same(v, instance); });
      if (!listed)
        out.push_back(at + ": " + text_of(instance) + " is not one of " + text_of(*values));
    }
    if (const auto* any = s->if_contains("anyOf")) check_any_of(*any, instance, where, depth);
    if (instance.is_number()) check_number(*s, instance, at);
    if (instance.is_string()) check_string(*s, instance.get_string(), at);
    if (const auto* array = instance.if_array()) check_array(*s, *array, where, depth);
    if (const auto* object = instance.if_object()) check_object(*s, *object, where, depth);
  }

  std::vector<std::string> out;

 private:
  void check_any_of(const json::value& alternatives, const json::value& instance,
                    const std::string& where, int depth) {
    const auto* list = alternatives.if_array();
    std::string why;
    if (list != nullptr) {
      for (const auto& alternative : *list) {
        Validator one(root_);
        one.check(alternative, instance, where, depth + 1);
        if (one.out.empty()) return;
        why += " [" + one.out.front() + "]";
      }
    }
    out.push_back((where.empty() ? "/" : where) + ": matches none of anyOf:" + why);
  }

  void check_number(const json::object& s, const json::value& instance, const std::string& at) {
    const double v = instance.to_number<double>();
    if (const auto* min = s.if_contains("minimum"); min && min->is_number()) {
      if (v < min->to_number<double>()) {
        out.push_back(at + ": " + text_of(instance) + " is below the minimum " + text_of(*min));
      }
    }
    if (const auto* max = s.if_contains("maximum"); max && max->is_number()) {
      if (v > max->to_number<double>()) {
        out.push_back(at + ": " + text_of(instance) + " is above the maximum " + text_of(*max));
      }
    }
  }

  void check_string(const json::object& s, std::string_view text, const std::string& at) {
    if (const auto* pattern = s.if_contains("pattern"); pattern && pattern->is_string()) {
      try {
        const std::regex re(std::string(pattern->get_string()), std::regex::ECMAScript);
        if (!std::regex_search(text.begin(), text.end(), re)) {
          out.push_back(at + ": \"" + std::string(text) + "\" does not match " + text_of(*pattern));
        }
      } catch (const std::regex_error&) {
        out.push_back(at + ": the pattern " + text_of(*pattern) + " does not compile");
      }
    }
    if (const auto* format = s.if_contains("format")) {
      if (!format->is_string() || format->get_string() != "date-time") {
        out.push_back(at + ": unsupported format " + text_of(*format));
      } else if (!parse_rfc3339(text)) {
        out.push_back(at + ": \"" + std::string(text) + "\" is not an RFC 3339 date-time");
      }
    }
  }

  void check_array(const json::object& s, const json::array& array, const std::string& where,
                   int depth) {
    const std::string at = where.empty() ? "/" : where;
    if (const auto* min = s.if_contains("minItems"); min && is_integer(*min)) {
      if (static_cast<double>(array.size()) < min->to_number<double>()) {
        out.push_back(at + ": " + std::to_string(array.size()) + " items, fewer than " +
                      text_of(*min));
      }
    }
    if (const auto* max = s.if_contains("maxItems"); max && is_integer(*max)) {
      if (static_cast<double>(array.size()) > max->to_number<double>()) {
        out.push_back(at + ": " + std::to_string(array.size()) + " items, more than " +
                      text_of(*max));
      }
    }
    if (const auto* items = s.if_contains("items")) {
      for (std::size_t i = 0; i < array.size(); ++i) {
        check(*items, array[i], where + "/" + std::to_string(i), depth + 1);
      }
    }
  }

  void check_object(const json::object& s, const json::object& object, const std::string& where,
                    int depth) {
    const std::string at = where.empty() ? "/" : where;
    if (const auto* required = s.if_contains("required"); required && required->is_array()) {
      for (const auto& name : required->get_array()) {
        if (name.is_string() && !object.contains(name.get_string())) {
          out.push_back(at + ": missing required member " + std::string(name.get_string()));
        }
      }
    }
    const auto* properties = s.if_contains("properties");
    const auto* declared = properties != nullptr ? properties->if_object() : nullptr;
    const auto* additional = s.if_contains("additionalProperties");
    for (const auto& kv : object) {
      const std::string member = where + "/" + std::string(kv.key());
      if (const auto* property = declared ? declared->if_contains(kv.key()) : nullptr) {
        check(*property, kv.value(), member, depth + 1);
      } else if (additional != nullptr) {
        if (additional->is_bool() && !additional->get_bool()) {
          out.push_back(member + ": undocumented member (additionalProperties is false)");
        } else {
          check(*additional, kv.value(), member, depth + 1);
        }
      }
    }
  }

  const json::value& root_;
};

// Soundness of a schema as written (its $refs are resolved by the document-wide walk).
void lint_schema(const json::value& schema, const std::string& where,
                 std::vector<std::string>& problems) {
  if (schema.is_bool()) return;
  const auto* s = schema.if_object();
  if (s == nullptr) {
    problems.push_back(where + ": a schema must be an object or a boolean");
    return;
  }
  for (const auto& kv : *s) {
    if (!supported_keyword(kv.key())) {
      problems.push_back(where + ": schema keyword " + std::string(kv.key()) +
                         " is not supported by the checker");
    }
  }
  if (const auto* type = s->if_contains("type")) {
    const auto names = type_names(*type);
    const std::size_t given = type->is_array() ? type->get_array().size() : 1;
    if (names.empty() || names.size() != given ||
        !std::all_of(names.begin(), names.end(),
                     [](std::string_view t) { return contains(kTypes, t); })) {
      problems.push_back(where + ": type " + text_of(*type) +
                         " is not a type name or list of them");
    }
  }
  if (const auto* format = s->if_contains("format")) {
    if (!format->is_string() || format->get_string() != "date-time") {
      problems.push_back(where + ": format " + text_of(*format) + " is not supported");
    }
  }
  if (const auto* pattern = s->if_contains("pattern")) {
    bool compiles = pattern->is_string();
    try {
      if (compiles) std::regex(std::string(pattern->get_string()), std::regex::ECMAScript);
    } catch (const std::regex_error&) {
      compiles = false;
    }
    if (!compiles)
      problems.push_back(where + ": pattern " + text_of(*pattern) + " does not compile");
  }
  if (const auto* values = s->if_contains("enum")) {
    if (!values->is_array() || values->get_array().empty()) {
      problems.push_back(where + ": enum must be a non-empty array");
    }
  }
  for (const auto* bound : {"minimum", "maximum"}) {
    if (const auto* v = s->if_contains(bound); v && !v->is_number()) {
      problems.push_back(where + ": " + bound + " must be a number");
    }
  }
  for (const auto* bound : {"minItems", "maxItems"}) {
    if (const auto* v = s->if_contains(bound); v && !is_integer(*v)) {
      problems.push_back(where + ": " + bound + " must be an integer");
    }
  }
  const auto* properties = s->if_contains("properties");
  if (properties != nullptr) {
    if (!properties->is_object()) {
      problems.push_back(where + ": properties must be an object");
    } else {
      for (const auto& kv : properties->get_object()) {
        lint_schema(kv.value(), where + "/properties/" + std::string(kv.key()), problems);
      }
    }
  }
  if (const auto* required = s->if_contains("required")) {
    if (!required->is_array()) {
      problems.push_back(where + ": required must be an array");
    } else {
      for (const auto& name : required->get_array()) {
        const bool declared = name.is_string() && properties != nullptr &&
                              properties->is_object() &&
                              properties->get_object().contains(name.get_string());
        if (!declared) {
          problems.push_back(where + ": required member " + text_of(name) +
                             " is not among the properties");
        }
      }
    }
  }
  if (const auto* items = s->if_contains("items")) lint_schema(*items, where + "/items", problems);
  if (const auto* additional = s->if_contains("additionalProperties")) {
    lint_schema(*additional, where + "/additionalProperties", problems);
  }
  if (const auto* any = s->if_contains("anyOf")) {
    if (!any->is_array() || any->get_array().empty()) {
      problems.push_back(where + ": anyOf must be a non-empty array");
    } else {
      for (std::size_t i = 0; i < any->get_array().size(); ++i) {
        lint_schema(any->get_array()[i], where + "/anyOf/" + std::to_string(i), problems);
      }
    }
  }
}

// Every $ref anywhere in the document resolves.
void check_refs(const json::value& root, const json::value& at, const std::string& where,
                std::vector<std::string>& problems) {
  if (const auto* object = at.if_object()) {
    for (const auto& kv : *object) {
      const std::string member = where + "/" + std::string(kv.key());
      if (kv.key() == "$ref") {
        if (!kv.value().is_string() || resolve_pointer(root, kv.value().get_string()) == nullptr) {
          problems.push_back(member + ": unresolved $ref " + text_of(kv.value()));
        }
      } else {
        check_refs(root, kv.value(), member, problems);
      }
    }
  } else if (const auto* array = at.if_array()) {
    for (std::size_t i = 0; i < array->size(); ++i) {
      check_refs(root, (*array)[i], where + "/" + std::to_string(i), problems);
    }
  }
}

std::string escape_pointer(std::string_view token) {
  std::string out;
  for (const char c : token) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& line : lines) out += line + "\n";
  return out;
}

ObservedReply observed(const HttpReply& reply) {
  return ObservedReply{.status = static_cast<int>(reply.status),
                       .content_type = reply.header("content-type"),
                       .headers = reply.headers,
                       .body = reply.body};
}

ObservedReply observed(const Reply& reply) {
  ObservedReply out{.status = static_cast<int>(reply.result_int()),
                    .content_type = std::string(reply[boost::beast::http::field::content_type]),
                    .headers = {},
                    .body = reply.body()};
  for (const auto& field : reply) {
    out.headers.emplace_back(lower(field.name_string()), std::string(field.value()));
  }
  return out;
}

OpenApiDocument::OpenApiDocument(std::string_view text) {
  boost::system::error_code ec;
  doc_ = json::parse(text, ec);
  if (ec || !doc_.is_object()) {
    throw std::runtime_error("the OpenAPI document is not a JSON object" +
                             (ec ? ": " + ec.message() : std::string()));
  }
}

const json::value* OpenApiDocument::resolve(std::string_view ref) const {
  return resolve_pointer(doc_, ref);
}

const json::value& OpenApiDocument::schema(std::string_view name) const {
  const auto* found = resolve("#/components/schemas/" + escape_pointer(name));
  if (found == nullptr) {
    throw std::out_of_range("no schema components/schemas/" + std::string(name));
  }
  return *found;
}

std::vector<std::string> OpenApiDocument::validate(const json::value& schema,
                                                   const json::value& instance) const {
  Validator v(doc_);
  v.check(schema, instance, "", 0);
  return std::move(v.out);
}

std::vector<std::string> OpenApiDocument::problems() const {
  std::vector<std::string> problems;
  const auto& root = doc_.get_object();
  const auto* version = root.if_contains("openapi");
  if (version == nullptr || !version->is_string() || !version->get_string().starts_with("3.1.")) {
    problems.push_back("/openapi: not an OpenAPI 3.1 document");
  }
  check_refs(doc_, doc_, "", problems);

  std::set<std::string> schemes;
  if (const auto* found = resolve("#/components/securitySchemes"); found && found->is_object()) {
    for (const auto& kv : found->get_object()) schemes.emplace(kv.key());
  }
  const auto check_security = [&](const json::value& security, const std::string& where) {
    if (!security.is_array()) {
      problems.push_back(where + ": security must be an array");
      return;
    }
    for (const auto& requirement : security.get_array()) {
      if (!requirement.is_object()) continue;
      for (const auto& kv : requirement.get_object()) {
        if (!schemes.contains(std::string(kv.key()))) {
          problems.push_back(where + ": no security scheme " + std::string(kv.key()));
        }
      }
    }
  };
  if (const auto* security = root.if_contains("security")) check_security(*security, "/security");

  // A media type map: each entry has a schema, and its example (if any) conforms to it.
  const auto check_content = [&](const json::value& content, const std::string& where) {
    if (!content.is_object() || content.get_object().empty()) {
      problems.push_back(where + ": content must be a non-empty object");
      return;
    }
    for (const auto& kv : content.get_object()) {
      const std::string at = where + "/" + escape_pointer(kv.key());
      const auto* schema =
          kv.value().is_object() ? kv.value().get_object().if_contains("schema") : nullptr;
      if (schema == nullptr) {
        problems.push_back(at + ": no schema");
        continue;
      }
      lint_schema(*schema, at + "/schema", problems);
      if (const auto* example = kv.value().get_object().if_contains("example")) {
        for (const auto& why : validate(*schema, *example)) {
          problems.push_back(at + "/example" + why);
        }
      }
    }
  };
  const auto check_response = [&](const json::value& response, const std::string& where) {
    const json::value* r = &response;
    if (const auto* object = r->if_object(); object && object->contains("$ref")) {
      r = resolve(object->at("$ref").as_string());
      if (r == nullptr) return;  // reported by check_refs
    }
    const auto* object = r->if_object();
    if (object == nullptr || !object->contains("description") ||
        !object->at("description").is_string()) {
      problems.push_back(where + ": a response needs a description");
      return;
    }
    if (const auto* headers = object->if_contains("headers")) {
      if (!headers->is_object()) {
        problems.push_back(where + "/headers: must be an object");
      } else {
        for (const auto& kv : headers->get_object()) {
          const auto* schema =
              kv.value().is_object() ? kv.value().get_object().if_contains("schema") : nullptr;
          if (schema == nullptr) {
            problems.push_back(where + "/headers/" + std::string(kv.key()) + ": no schema");
          } else {
            lint_schema(*schema, where + "/headers/" + std::string(kv.key()) + "/schema", problems);
          }
        }
      }
    }
    if (const auto* content = object->if_contains("content")) {
      check_content(*content, where + "/content");
    }
  };

  const auto* paths = root.if_contains("paths");
  if (paths == nullptr || !paths->is_object() || paths->get_object().empty()) {
    problems.push_back("/paths: no paths");
  } else {
    std::set<std::string> operation_ids;
    for (const auto& [path, item] : paths->get_object()) {
      const std::string at = "/paths/" + escape_pointer(path);
      if (!path.starts_with('/')) problems.push_back(at + ": a path must start with /");
      if (!item.is_object()) {
        problems.push_back(at + ": a path item must be an object");
        continue;
      }
      int operations = 0;
      for (const auto& [key, operation] : item.get_object()) {
        if (!contains(kMethods, key)) {
          if (key != "summary" && key != "description" && key != "parameters") {
            problems.push_back(at + ": unexpected member " + std::string(key));
          }
          continue;
        }
        ++operations;
        const std::string op = at + "/" + std::string(key);
        const auto* o = operation.if_object();
        if (o == nullptr) {
          problems.push_back(op + ": an operation must be an object");
          continue;
        }
        if (const auto* id = o->if_contains("operationId")) {
          if (!id->is_string() || !operation_ids.emplace(id->get_string()).second) {
            problems.push_back(op + ": operationId " + text_of(*id) + " is not unique");
          }
        }
        if (const auto* security = o->if_contains("security")) {
          check_security(*security, op + "/security");
        }
        if (const auto* parameters = o->if_contains("parameters"); parameters) {
          if (!parameters->is_array()) {
            problems.push_back(op + "/parameters: must be an array");
          } else {
            for (std::size_t i = 0; i < parameters->get_array().size(); ++i) {
              const auto& p = parameters->get_array()[i];
              const std::string pat = op + "/parameters/" + std::to_string(i);
              const auto* po = p.if_object();
              const auto* in = po != nullptr ? po->if_contains("in") : nullptr;
              const bool known_in =
                  in != nullptr && in->is_string() &&
                  contains(std::array<std::string_view, 4>{"query", "header", "path", "cookie"},
                           in->get_string());
              if (po == nullptr || !po->contains("name") || !known_in) {
                problems.push_back(pat + ": a parameter needs a name and a known in");
              } else if (const auto* schema = po->if_contains("schema")) {
                lint_schema(*schema, pat + "/schema", problems);
              } else {
                problems.push_back(pat + ": no schema");
              }
            }
          }
        }
        if (const auto* body = o->if_contains("requestBody")) {
          const auto* content =
              body->is_object() ? body->get_object().if_contains("content") : nullptr;
          if (content == nullptr) {
            problems.push_back(op + "/requestBody: no content");
          } else {
            check_content(*content, op + "/requestBody/content");
          }
        }
        const auto* responses = o->if_contains("responses");
        if (responses == nullptr || !responses->is_object() || responses->get_object().empty()) {
          problems.push_back(op + ": no responses");
          continue;
        }
        for (const auto& [status, response] : responses->get_object()) {
          const std::string rat = op + "/responses/" + std::string(status);
          int code = 0;
          const auto [p, ec] = std::from_chars(status.data(), status.data() + status.size(), code);
          if (ec != std::errc{} || p != status.data() + status.size() || status.size() != 3 ||
              code < 100 || code > 599) {
            problems.push_back(rat + ": not an explicit status code (the checker needs one)");
            continue;
          }
          check_response(response, rat);
        }
      }
      if (operations == 0) problems.push_back(at + ": no operations");
    }
  }

  if (const auto* schemas = resolve("#/components/schemas"); schemas && schemas->is_object()) {
    for (const auto& kv : schemas->get_object()) {
      lint_schema(kv.value(), "/components/schemas/" + std::string(kv.key()), problems);
    }
  }
  if (const auto* responses = resolve("#/components/responses");
      responses && responses->is_object()) {
    for (const auto& kv : responses->get_object()) {
      check_response(kv.value(), "/components/responses/" + std::string(kv.key()));
    }
  }
  return problems;
}

std::vector<std::string> OpenApiDocument::check_response(const json::value& response,
                                                         const ObservedReply& reply) const {
  std::vector<std::string> out;
  const json::value* r = &response;
  if (const auto* object = r->if_object(); object && object->contains("$ref")) {
    const auto& ref = object->at("$ref");
    r = ref.is_string() ? resolve(ref.get_string()) : nullptr;
    if (r == nullptr) return {"unresolved $ref " + text_of(ref)};
  }
  const auto* object = r->if_object();
  if (object == nullptr) return {"the response is not an object"};

  if (const auto* headers = object->if_contains("headers"); headers && headers->is_object()) {
    for (const auto& [name, header] : headers->get_object()) {
      const auto wanted = lower(name);
      const auto found = std::find_if(reply.headers.begin(), reply.headers.end(),
                                      [&](const auto& h) { return h.first == wanted; });
      const auto* spec = header.if_object();
      const bool required = spec != nullptr && spec->contains("required") &&
                            spec->at("required").is_bool() && spec->at("required").get_bool();
      if (found == reply.headers.end()) {
        if (required) out.push_back("required header " + std::string(name) + " is missing");
        continue;
      }
      if (const auto* schema = spec != nullptr ? spec->if_contains("schema") : nullptr) {
        // A header's text is its value; digits only are an integer (Retry-After).
        const std::string& text = found->second;
        const bool digits = !text.empty() && text.size() < 18 &&
                            std::all_of(text.begin(), text.end(),
                                        [](unsigned char c) { return std::isdigit(c) != 0; });
        const json::value value = digits ? json::value(std::stoll(text)) : json::value(text);
        for (const auto& why : validate(*schema, value)) {
          out.push_back("header " + std::string(name) + why);
        }
      }
    }
  }

  const auto* content = object->if_contains("content");
  if (content == nullptr || !content->is_object()) {
    if (!reply.body.empty()) out.push_back("a body where the document promises none");
    return out;
  }
  const auto type = media_type(reply.content_type);
  const auto* media = content->get_object().if_contains(type);
  if (media == nullptr || !media->is_object() || !media->get_object().contains("schema")) {
    out.push_back("media type \"" + type + "\" is not documented here");
    return out;
  }
  const auto& schema = media->get_object().at("schema");
  json::value body;
  if (type == "application/json" || type.ends_with("+json")) {
    boost::system::error_code ec;
    body = json::parse(reply.body, ec);
    if (ec) {
      out.push_back("the body is not JSON (" + ec.message() + ")");
      return out;
    }
  } else {
    body = json::string(reply.body);
  }
  for (auto& why : validate(schema, body)) out.push_back("body " + why);
  return out;
}

std::vector<std::string> OpenApiDocument::check_reply(std::string_view path,
                                                      std::string_view method,
                                                      const ObservedReply& reply) const {
  const std::string what =
      std::string(method) + " " + std::string(path) + " " + std::to_string(reply.status) + ": ";
  const auto* operation =
      resolve("#/paths/" + escape_pointer(path) + "/" + escape_pointer(lower(method)));
  if (operation == nullptr) return {what + "the document has no such operation"};
  const auto* response =
      resolve("#/paths/" + escape_pointer(path) + "/" + escape_pointer(lower(method)) +
              "/responses/" + std::to_string(reply.status));
  if (response == nullptr) return {what + "the status is not documented for this operation"};
  auto out = check_response(*response, reply);
  for (auto& line : out) line = what + line;
  return out;
}

std::vector<std::string> OpenApiDocument::check_component_reply(std::string_view name,
                                                                const ObservedReply& reply) const {
  const std::string what =
      "components/responses/" + std::string(name) + " " + std::to_string(reply.status) + ": ";
  const auto* response = resolve("#/components/responses/" + escape_pointer(name));
  if (response == nullptr) return {what + "no such response"};
  auto out = check_response(*response, reply);
  for (auto& line : out) line = what + line;
  return out;
}

}  // namespace sungrow::test
