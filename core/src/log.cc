#include "cicd/core/log.h"

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <mutex>
#include <vector>

#include "cicd/core/time.h"

namespace cicd {
namespace {

struct LogState {
  std::mutex mu;
  std::function<void(std::string_view)> sink;  // GUARDED_BY(mu)
  std::vector<std::string> secrets;            // GUARDED_BY(mu)
};

LogState& State() {
  static LogState* state = new LogState();  // never destroyed: used at exit
  return *state;
}

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

std::string RedactLocked(std::string text, const std::vector<std::string>& secrets) {
  for (const auto& s : secrets) {
    for (std::size_t pos = text.find(s); pos != std::string::npos;
         pos = text.find(s, pos)) {
      text.replace(pos, s.size(), "<redacted>");
      pos += 10;
    }
  }
  return text;
}

}  // namespace

Result<LogLevel> ParseLogLevel(std::string_view text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warn") return LogLevel::kWarn;
  if (text == "error") return LogLevel::kError;
  return InvalidArgument("unknown log level \"" + std::string(text) +
                         "\" (want debug, info, warn or error)");
}

std::string LogField::FormatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

void Logging::SetLevel(LogLevel level) { g_level = static_cast<int>(level); }
LogLevel Logging::Level() { return static_cast<LogLevel>(g_level.load()); }

void Logging::SetSink(std::function<void(std::string_view)> sink) {
  std::lock_guard lock(State().mu);
  State().sink = std::move(sink);
}

void Logging::AddSecret(std::string secret) {
  if (secret.size() < 4) return;
  std::lock_guard lock(State().mu);
  for (const auto& s : State().secrets) {
    if (s == secret) return;
  }
  State().secrets.push_back(std::move(secret));
}

void Logging::RemoveSecret(std::string_view secret) {
  std::lock_guard lock(State().mu);
  std::erase_if(State().secrets, [&](const std::string& s) { return s == secret; });
}

std::string Logging::Redact(std::string text) {
  std::lock_guard lock(State().mu);
  return RedactLocked(std::move(text), State().secrets);
}

std::string LogfmtValue(std::string_view v) {
  bool needs_quotes = v.empty();
  for (char c : v) {
    if (c == ' ' || c == '=' || c == '"' || c == '\n' || c == '\t') {
      needs_quotes = true;
      break;
    }
  }
  if (!needs_quotes) return std::string(v);
  std::string out = "\"";
  for (char c : v) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default: out += c;
    }
  }
  out += '"';
  return out;
}

void Log(LogLevel level, std::string_view msg,
         std::initializer_list<LogField> fields) {
  if (static_cast<int>(level) < g_level.load()) return;
  std::string line = "ts=" + FormatRfc3339Millis(std::chrono::system_clock::now());
  line += " level=";
  line += LevelName(level);
  std::lock_guard lock(State().mu);
  // Redacted before escaping: an escaped secret would no longer match.
  line += " msg=";
  line += LogfmtValue(RedactLocked(std::string(msg), State().secrets));
  for (const auto& f : fields) {
    line += ' ';
    line += f.key;
    line += '=';
    line += LogfmtValue(RedactLocked(f.value, State().secrets));
  }
  if (State().sink) {
    State().sink(line);
    return;
  }
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace cicd
