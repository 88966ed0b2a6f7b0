// The dashboard's built files as compiled into the binary (the table is generated at build time).
#pragma once

#include <span>
#include <string_view>

namespace sungrow::web {

struct EmbeddedAsset {
  std::string_view path;          // the URL path: "/" for index.html, "/assets/app-….js"
  std::string_view content_type;  // "text/javascript; charset=utf-8"
  std::string_view body;          // the file's bytes
  std::string_view gzip;          // the same, gzip-compressed at build time; empty when no smaller
  std::string_view hash;          // hex digest of `body`: the entity tag's text
  bool immutable = false;         // a content-hashed name: cacheable forever
};

// Every file of the dashboard's build, index.html first. Static storage, never changes.
std::span<const EmbeddedAsset> embedded_assets();

}  // namespace sungrow::web
