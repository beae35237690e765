#pragma once
// How the detectors' learnt state is written into the model JSON: doubles
// as their shortest round-trip text in a JSON string (exact, whatever the
// JSON parser's rounding), read back with std::from_chars, never trusted.

#include <boost/json.hpp>
#include <deque>
#include <optional>
#include <string_view>
#include <vector>

namespace cicd::detector::detail {

boost::json::value EncodeDouble(double x);
// std::nullopt unless v is such a string holding a finite number.
std::optional<double> DecodeDouble(const boost::json::value& v);
boost::json::array EncodeDoubles(const std::deque<double>& xs);
// False on anything but an array of encoded finite doubles.
bool DecodeDoubles(const boost::json::value* v, std::vector<double>& out);

}  // namespace cicd::detector::detail
