#include "cicd/core/json.h"

#include <charconv>
#include <cmath>

namespace cicd::json {

Result<boost::json::value> Parse(std::string_view text) {
  boost::json::stream_parser parser;
  boost::system::error_code ec;
  const std::size_t n = parser.write_some(text.data(), text.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) {
    return ParseError("invalid JSON at byte " + std::to_string(n) + " of " +
                      std::to_string(text.size()) + ": " + ec.message());
  }
  if (n != text.size()) {
    // Trailing whitespace is fine; anything else is garbage after the document.
    for (std::size_t i = n; i < text.size(); ++i) {
      const char c = text[i];
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') {
        return ParseError("invalid JSON: trailing data at byte " + std::to_string(i));
      }
    }
  }
  return parser.release();
}

const boost::json::value* Find(const boost::json::value& v, std::string_view key) {
  const auto* obj = v.if_object();
  if (obj == nullptr) return nullptr;
  return obj->if_contains(key);
}

const boost::json::object* FindObject(const boost::json::value& v, std::string_view key) {
  const auto* f = Find(v, key);
  return f ? f->if_object() : nullptr;
}

const boost::json::array* FindArray(const boost::json::value& v, std::string_view key) {
  const auto* f = Find(v, key);
  return f ? f->if_array() : nullptr;
}

std::optional<std::string> GetString(const boost::json::value& v, std::string_view key) {
  const auto* f = Find(v, key);
  if (f == nullptr || !f->is_string()) return std::nullopt;
  return std::string(f->get_string());
}

std::optional<std::int64_t> GetInt(const boost::json::value& v, std::string_view key) {
  const auto* f = Find(v, key);
  if (f == nullptr) return std::nullopt;
  if (f->is_int64()) return f->get_int64();
  if (f->is_uint64() && f->get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(f->get_uint64());
  }
  if (f->is_double()) {
    const double d = f->get_double();
    if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9.2e18) {
      return static_cast<std::int64_t>(d);
    }
  }
  return std::nullopt;
}

std::optional<double> GetNumber(const boost::json::value& v, std::string_view key) {
  const auto* f = Find(v, key);
  if (f == nullptr) return std::nullopt;
  if (f->is_double()) return f->get_double();
  if (f->is_int64()) return static_cast<double>(f->get_int64());
  if (f->is_uint64()) return static_cast<double>(f->get_uint64());
  return std::nullopt;
}

std::optional<bool> GetBool(const boost::json::value& v, std::string_view key) {
  const auto* f = Find(v, key);
  if (f == nullptr || !f->is_bool()) return std::nullopt;
  return f->get_bool();
}

namespace {

void SerializeTo(const boost::json::value& v, std::string& out) {
  switch (v.kind()) {
    case boost::json::kind::double_: {
      const double d = v.get_double();
      if (!std::isfinite(d)) {
        out += "null";  // JSON has no NaN/Inf
        return;
      }
      char buf[32];
      const auto res = std::to_chars(buf, buf + sizeof buf, d);
      out.append(buf, res.ptr);
      return;
    }
    case boost::json::kind::array: {
      out += '[';
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ',';
        first = false;
        SerializeTo(e, out);
      }
      out += ']';
      return;
    }
    case boost::json::kind::object: {
      out += '{';
      bool first = true;
      for (const auto& [k, e] : v.get_object()) {
        if (!first) out += ',';
        first = false;
        out += boost::json::serialize(boost::json::value(k));
        out += ':';
        SerializeTo(e, out);
      }
      out += '}';
      return;
    }
    default:
      out += boost::json::serialize(v);
  }
}

}  // namespace

std::string Serialize(const boost::json::value& v) {
  std::string out;
  SerializeTo(v, out);
  return out;
}

std::string Quote(std::string_view s) {
  return boost::json::serialize(boost::json::value(boost::json::string_view(s.data(), s.size())));
}

}  // namespace cicd::json
