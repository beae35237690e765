#pragma once
// logfmt logging, the format of Prometheus's own components:
//   ts=2026-11-24T18:00:00.123Z level=info caller=poller msg="poll done" source=github runs=12
// Thread-safe. Every line passes through the secret redactor, so a token that
// reached a message by mistake is printed as "<redacted>".

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>

#include "cicd/core/result.h"

namespace cicd {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Parses "debug", "info", "warn", "error".
Result<LogLevel> ParseLogLevel(std::string_view text);

// One key=value pair of a log line; numbers are formatted, strings quoted when
// needed.
struct LogField {
  LogField(std::string_view k, std::string_view v) : key(k), value(v) {}
  LogField(std::string_view k, const std::string& v) : key(k), value(v) {}
  LogField(std::string_view k, const char* v) : key(k), value(v) {}
  template <typename N,
            typename = std::enable_if_t<std::is_arithmetic_v<N> &&
                                        !std::is_same_v<N, bool>>>
  LogField(std::string_view k, N n) : key(k), value(FormatNumber(n)) {}
  LogField(std::string_view k, bool b) : key(k), value(b ? "true" : "false") {}
  LogField(std::string_view k, const Status& s) : key(k), value(s.ToString()) {}

  std::string_view key;
  std::string value;

 private:
  static std::string FormatNumber(double v);
  static std::string FormatNumber(std::int64_t v) { return std::to_string(v); }
  template <typename N>
  static std::string FormatNumber(N v) {
    if constexpr (std::is_floating_point_v<N>) {
      return FormatNumber(static_cast<double>(v));
    } else {
      return std::to_string(v);
    }
  }
};

// Process-wide logging settings. Configure once in main before threads start.
class Logging {
 public:
  static void SetLevel(LogLevel level);
  static LogLevel Level();
  // Replaces stderr as the destination (tests capture lines with this).
  // Pass nullptr to restore stderr.
  static void SetSink(std::function<void(std::string_view line)> sink);
  // Registers a value that must never be printed (tokens, passwords, URLs with
  // credentials). Values shorter than 4 characters are ignored.
  static void AddSecret(std::string secret);
  // Forgets a secret that can no longer be used (an expired, replaced
  // token), so short-lived credentials do not grow the list without bound.
  static void RemoveSecret(std::string_view secret);
  // Replaces every registered secret in `text` with "<redacted>".
  static std::string Redact(std::string text);
};

void Log(LogLevel level, std::string_view msg,
         std::initializer_list<LogField> fields = {});
inline void LogDebug(std::string_view msg, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kDebug, msg, f);
}
inline void LogInfo(std::string_view msg, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kInfo, msg, f);
}
inline void LogWarn(std::string_view msg, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kWarn, msg, f);
}
inline void LogError(std::string_view msg, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kError, msg, f);
}

// Quotes a logfmt value when it holds spaces, '=', quotes or is empty.
std::string LogfmtValue(std::string_view v);

}  // namespace cicd
