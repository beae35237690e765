#include "support/fault_matrix.h"

#include <chrono>
#include <thread>

namespace cicd::testing {

const std::vector<Fault>& SourceFaults() {
  static const std::vector<Fault> faults = {
      {"401", "401", 1, "credentials were refused"},
      {"403", "403", 1, "forbidden"},
      {"429", "429", 2, "rate limited"},
      {"429-reset", "429", 1, "rate limited for another"},
      {"500", "500", 2, "HTTP 500"},
      {"garbage", "200", 1, "invalid JSON"},
      {"truncated", "200", 1, "invalid JSON"},
      {"slow", "timeout", 2, "Read"},
  };
  return faults;
}

void ServeFault(const std::string& mode, const std::string& good_body, httplib::Response& res) {
  if (mode == "401") {
    res.status = 401;
    res.set_content(R"({"message":"Unauthorized"})", "application/json");
  } else if (mode == "403") {
    res.status = 403;
    res.set_content(R"({"message":"Forbidden"})", "application/json");
  } else if (mode == "429") {
    res.status = 429;
    res.set_header("Retry-After", "0");
    res.set_content(R"({"message":"slow down"})", "application/json");
  } else if (mode == "429-reset") {
    res.status = 429;
    res.set_header("RateLimit-Remaining", "0");
    res.set_header("RateLimit-Reset", "3600");
    res.set_content(R"({"message":"rate limit exceeded"})", "application/json");
  } else if (mode == "500") {
    res.status = 500;
    res.set_content("<html>oops</html>", "text/html");
  } else if (mode == "garbage") {
    res.set_content("<html>502 Bad Gateway</html>", "application/json");
  } else if (mode == "truncated") {
    res.set_content(good_body.substr(0, good_body.size() / 2), "application/json");
  } else if (mode == "slow") {
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    res.set_content(good_body, "application/json");
  } else {
    res.set_content(good_body, "application/json");
  }
}

std::string MetricValue(const std::string& text, const std::string& series) {
  const auto pos = text.find("\n" + series + " ");
  if (pos == std::string::npos) return "";
  const auto start = pos + series.size() + 2;
  return text.substr(start, text.find('\n', start) - start);
}

}  // namespace cicd::testing
