#include "cicd/core/time.h"

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <ctime>

namespace cicd {
namespace {

bool ReadDigits(std::string_view s, std::size_t& pos, int n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (int i = 0; i < n; ++i) {
    char c = s[pos + i];
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    out = out * 10 + (c - '0');
  }
  pos += n;
  return true;
}

bool Expect(std::string_view s, std::size_t& pos, char c) {
  if (pos >= s.size() || s[pos] != c) return false;
  ++pos;
  return true;
}

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant).
std::int64_t DaysFromCivil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

}  // namespace

Result<TimePoint> ParseRfc3339(std::string_view s) {
  auto bad = [&] {
    return ParseError("not an RFC 3339 time: \"" + std::string(s.substr(0, 40)) + "\"");
  };
  std::size_t p = 0;
  int year, mon, day, hour, min, sec;
  if (!ReadDigits(s, p, 4, year) || !Expect(s, p, '-') || !ReadDigits(s, p, 2, mon) ||
      !Expect(s, p, '-') || !ReadDigits(s, p, 2, day)) {
    return bad();
  }
  if (p >= s.size() || (s[p] != 'T' && s[p] != 't' && s[p] != ' ')) return bad();
  ++p;
  if (!ReadDigits(s, p, 2, hour) || !Expect(s, p, ':') || !ReadDigits(s, p, 2, min) ||
      !Expect(s, p, ':') || !ReadDigits(s, p, 2, sec)) {
    return bad();
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) {
    return bad();
  }
  std::int64_t nanos = 0;
  if (p < s.size() && s[p] == '.') {
    ++p;
    int digits = 0;
    while (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p]))) {
      if (digits < 9) nanos = nanos * 10 + (s[p] - '0');
      ++digits;
      ++p;
    }
    if (digits == 0) return bad();
    for (int i = digits; i < 9; ++i) nanos *= 10;
  }
  int offset_minutes = 0;
  if (p < s.size() && (s[p] == 'Z' || s[p] == 'z')) {
    ++p;
  } else if (p < s.size() && (s[p] == '+' || s[p] == '-')) {
    const int sign = s[p] == '-' ? -1 : 1;
    ++p;
    int oh, om;
    if (!ReadDigits(s, p, 2, oh)) return bad();
    if (p < s.size() && s[p] == ':') ++p;
    if (!ReadDigits(s, p, 2, om)) return bad();
    offset_minutes = sign * (oh * 60 + om);
  } else {
    return bad();
  }
  if (p != s.size()) return bad();
  const std::int64_t days = DaysFromCivil(year, mon, day);
  const std::int64_t secs =
      days * 86400 + hour * 3600 + min * 60 + sec - offset_minutes * 60;
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      std::chrono::seconds(secs) + std::chrono::nanoseconds(nanos)));
}

std::string FormatRfc3339(TimePoint t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(
      std::chrono::floor<std::chrono::seconds>(t));
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string FormatRfc3339Millis(TimePoint t) {
  const auto secs = std::chrono::floor<std::chrono::seconds>(t);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t - secs).count();
  std::string out = FormatRfc3339(secs);
  char buf[8];
  std::snprintf(buf, sizeof buf, ".%03d", static_cast<int>(ms));
  out.insert(out.size() - 1, buf);
  return out;
}

Result<Millis> ParseDuration(std::string_view s) {
  auto bad = [&] {
    return InvalidArgument("not a duration: \"" + std::string(s) +
                           "\" (want e.g. 500ms, 30s, 5m, 1h30m, 7d)");
  };
  if (s.empty()) return bad();
  std::int64_t total_ms = 0;
  std::size_t p = 0;
  while (p < s.size()) {
    if (!std::isdigit(static_cast<unsigned char>(s[p]))) return bad();
    std::int64_t n = 0;
    while (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p]))) {
      n = n * 10 + (s[p] - '0');
      if (n > 1'000'000'000'000LL) return bad();
      ++p;
    }
    std::int64_t unit_ms;
    if (s.substr(p, 2) == "ms") {
      unit_ms = 1;
      p += 2;
    } else if (p < s.size()) {
      switch (s[p]) {
        case 's': unit_ms = 1000; break;
        case 'm': unit_ms = 60'000; break;
        case 'h': unit_ms = 3'600'000; break;
        case 'd': unit_ms = 86'400'000; break;
        case 'w': unit_ms = 7 * 86'400'000LL; break;
        case 'y': unit_ms = 365 * 86'400'000LL; break;
        default: return bad();
      }
      ++p;
    } else {
      return bad();
    }
    if (n > INT64_MAX / unit_ms || total_ms > INT64_MAX - n * unit_ms) return bad();
    total_ms += n * unit_ms;
  }
  return Millis(total_ms);
}

std::string FormatDuration(Millis d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  const std::pair<std::int64_t, const char*> units[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const auto& [size, name] : units) {
    if (ms >= size) {
      out += std::to_string(ms / size) + name;
      ms %= size;
    }
  }
  return out;
}

double ToUnixSeconds(TimePoint t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

TimePoint FromUnixSeconds(double seconds) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      std::chrono::duration<double>(seconds)));
}

TimePoint FromUnixMillis(std::int64_t millis) {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(
      std::chrono::milliseconds(millis)));
}

const SystemClock& SystemClock::Get() {
  static const SystemClock clock;
  return clock;
}

}  // namespace cicd
