#pragma once
// The fault matrix every HTTP source is tested against (issue 11): a local
// server turns from healthy to each fault and back, and the exporter must
// keep serving the last good data while its self-metrics say what happened.

#include <httplib.h>

#include <string>
#include <vector>

namespace cicd::testing {

struct Fault {
  const char* mode;        // passed to ServeFault
  const char* code;        // the api_requests_total `code` label it adds to
  int requests;            // requests it costs with retry.max_attempts: 2
  const char* error_part;  // part of the source's last error
};

// 401, 403 without rate-limit headers, 429 with Retry-After, 429 with a
// RateLimit-Reset an hour away, 500, garbage, truncated JSON, and a response
// slower than a 300 ms timeout.
const std::vector<Fault>& SourceFaults();

// Answers as `mode` says; "ok" (or any unknown mode) answers `good_body`.
void ServeFault(const std::string& mode, const std::string& good_body, httplib::Response& res);

// The value of one series in a text exposition, "" when absent.
std::string MetricValue(const std::string& text, const std::string& series);

}  // namespace cicd::testing
