#pragma once
// Small helpers over Boost.JSON for reading CI API payloads. A missing key and
// a JSON null both read as std::nullopt (unknown), never as 0 or "".

#include <boost/json.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cicd/core/result.h"

namespace cicd::json {

// Parses a whole document. The error names the byte offset.
Result<boost::json::value> Parse(std::string_view text);

// REQUIRES: nothing; `v` may be any value. Returns nullptr unless `v` is an
// object holding `key`.
const boost::json::value* Find(const boost::json::value& v, std::string_view key);
const boost::json::object* FindObject(const boost::json::value& v, std::string_view key);
const boost::json::array* FindArray(const boost::json::value& v, std::string_view key);

std::optional<std::string> GetString(const boost::json::value& v, std::string_view key);
// Integers, and doubles with no fractional part.
std::optional<std::int64_t> GetInt(const boost::json::value& v, std::string_view key);
std::optional<double> GetNumber(const boost::json::value& v, std::string_view key);
std::optional<bool> GetBool(const boost::json::value& v, std::string_view key);

// Serialises like boost::json::serialize but writes doubles in their
// shortest round-trip form ("610", "0.25") instead of "6.1E2".
std::string Serialize(const boost::json::value& v);

// Serialises a string as a JSON string literal (with quotes).
std::string Quote(std::string_view s);

}  // namespace cicd::json
