#include "detectors/codec.h"

#include <charconv>
#include <cmath>

namespace cicd::detector::detail {

boost::json::value EncodeDouble(double x) {
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, x);
  return boost::json::value(boost::json::string_view(buf, static_cast<std::size_t>(p - buf)));
}

std::optional<double> DecodeDouble(const boost::json::value& v) {
  const auto* s = v.if_string();
  if (!s) return std::nullopt;
  double d = 0;
  auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), d);
  if (ec != std::errc() || p != s->data() + s->size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

boost::json::array EncodeDoubles(const std::deque<double>& xs) {
  boost::json::array a;
  a.reserve(xs.size());
  for (double x : xs) a.push_back(EncodeDouble(x));
  return a;
}

bool DecodeDoubles(const boost::json::value* v, std::vector<double>& out) {
  const auto* a = v ? v->if_array() : nullptr;
  if (!a) return false;
  out.clear();
  for (const auto& x : *a) {
    auto d = DecodeDouble(x);
    if (!d) return false;
    out.push_back(*d);
  }
  return true;
}

}  // namespace cicd::detector::detail
