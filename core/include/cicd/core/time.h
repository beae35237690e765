#pragma once
// Time types and conversions. All times are std::chrono::system_clock points
// (UTC); all durations std::chrono types.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "cicd/core/result.h"

namespace cicd {

using TimePoint = std::chrono::system_clock::time_point;
using Seconds = std::chrono::duration<double>;
using Millis = std::chrono::milliseconds;

// Parses RFC 3339 / ISO 8601 date-times as CI APIs emit them:
// "2025-02-04T12:16:07Z", "2020-01-20T09:42:40.000-08:00", "...+0000".
Result<TimePoint> ParseRfc3339(std::string_view text);
// "2025-02-04T12:16:07Z" (whole seconds, UTC).
std::string FormatRfc3339(TimePoint t);
// "2025-02-04T12:16:07.123Z".
std::string FormatRfc3339Millis(TimePoint t);

// Prometheus duration syntax: "500ms", "30s", "5m", "1h30m", "7d", "2w", "1y".
Result<Millis> ParseDuration(std::string_view text);
// Inverse of ParseDuration for messages: "1h30m", "250ms".
std::string FormatDuration(Millis d);

double ToUnixSeconds(TimePoint t);
TimePoint FromUnixSeconds(double seconds);
TimePoint FromUnixMillis(std::int64_t millis);

// The source of "now". Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  // A process-wide instance.
  static const SystemClock& Get();
};

// A clock tests move by hand. Thread-safe.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(TimePoint start) : now_(start.time_since_epoch().count()) {}
  TimePoint Now() const override {
    return TimePoint(TimePoint::duration(now_.load()));
  }
  void Advance(TimePoint::duration d) { now_ += d.count(); }
  void Set(TimePoint t) { now_ = t.time_since_epoch().count(); }

 private:
  std::atomic<TimePoint::rep> now_;
};

}  // namespace cicd
