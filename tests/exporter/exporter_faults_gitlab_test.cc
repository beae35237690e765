// The exporter under faults with a GitLab source (STYLE.md level 2): a local
// GitLab that turns from healthy to 401, 403, 429 (Retry-After, and
// RateLimit-Reset far away), 500, garbage, truncated JSON and a response
// slower than the timeout, and back. After each fault the last good data is
// still served and the self-metrics say what happened. Runs with debug
// logging and fails if the token shows up in a log line, /metrics or an
// error.

#include <gtest/gtest.h>

#include <chrono>
#include <mutex>
#include <thread>

#include "cicd/core/log.h"
#include "cicd/exporter/app.h"
#include "support/test_server.h"

namespace cicd::exporter {
namespace {

constexpr const char* kToken = "glpat-faultTestToken0123456789";
constexpr const char* kListing = "/api/v4/projects/grp/app/pipelines";

// Three pipelines finished in the last half hour; `detail` adds what only
// the single-pipeline endpoint has.
std::string Pipeline(int i, bool detail) {
  const TimePoint now = std::chrono::system_clock::now();
  const TimePoint created = now - std::chrono::minutes(30 - i * 5);
  std::string p = R"({"id":)" + std::to_string(500 + i) + R"(,"iid":)" + std::to_string(10 + i) +
                  R"(,"status":")" + (i == 1 ? "failed" : "success") +
                  R"(","source":"push","ref":"main","web_url":"http://gitlab.local/grp/app/-/pipelines/)" +
                  std::to_string(500 + i) + R"(","created_at":")" + FormatRfc3339(created) +
                  R"(","updated_at":")" + FormatRfc3339(created + std::chrono::minutes(3)) + "\"";
  if (detail) {
    p += R"(,"started_at":")" + FormatRfc3339(created + std::chrono::seconds(5)) +
         R"(","finished_at":")" + FormatRfc3339(created + std::chrono::minutes(3)) +
         R"(","duration":175,"queued_duration":5)";
  }
  return p + "}";
}

std::string Listing() { return "[" + Pipeline(0, false) + "," + Pipeline(1, false) + "," + Pipeline(2, false) + "]"; }

std::string Metric(const std::string& text, const std::string& series) {
  const auto pos = text.find("\n" + series + " ");
  if (pos == std::string::npos) return "";
  const auto start = pos + series.size() + 2;
  return text.substr(start, text.find('\n', start) - start);
}

int Count(const std::string& text, const std::string& code) {
  const std::string v =
      Metric(text, "cicd_exporter_api_requests_total{code=\"" + code + "\",source=\"gitlab\"}");
  return v.empty() ? 0 : std::stoi(v);
}

class ExporterGitlabFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    Logging::SetLevel(LogLevel::kDebug);
    Logging::SetSink([this](std::string_view l) {
      std::lock_guard lock(mu_);
      logs_.emplace_back(l);
    });
    server_.server().Get(std::string(kListing) + R"(/(\d+))", [](const httplib::Request& req,
                                                                 httplib::Response& res) {
      res.set_content(Pipeline(std::stoi(req.matches[1]) - 500, true), "application/json");
    });
    server_.server().Get(kListing, [this](const httplib::Request& req, httplib::Response& res) {
      const std::string m = mode();
      // A careless server echoing the credentials in its error bodies.
      const std::string echo = "{\"message\":\"" + req.get_header_value("PRIVATE-TOKEN") + "\"}";
      if (m == "ok") {
        res.set_header("RateLimit-Remaining", "1999");
        res.set_content(Listing(), "application/json");
      } else if (m == "401") {
        res.status = 401;
        res.set_content(echo, "application/json");
      } else if (m == "403") {
        res.status = 403;
        res.set_content(echo, "application/json");
      } else if (m == "429") {
        res.status = 429;
        res.set_header("Retry-After", "0");
        res.set_content(echo, "application/json");
      } else if (m == "429-reset") {
        res.status = 429;
        res.set_header("RateLimit-Remaining", "0");
        res.set_header("RateLimit-Reset", std::to_string(std::time(nullptr) + 3600));
        res.set_content("Retry later", "text/plain");
      } else if (m == "500") {
        res.status = 500;
        res.set_content(echo, "application/json");
      } else if (m == "garbage") {
        res.set_content("<html>502 Bad Gateway</html>", "application/json");
      } else if (m == "truncated") {
        const std::string page = Listing();
        res.set_content(page.substr(0, page.size() / 2), "application/json");
      } else if (m == "slow") {
        std::this_thread::sleep_for(std::chrono::milliseconds(700));
        res.set_content(Listing(), "application/json");
      }
    });
    server_.Start();
    config_ = ParseExporterConfig(
        "state_file: ''\n"
        "sources:\n"
        "  - type: gitlab\n"
        "    url: " + server_.base_url() + "\n"
        "    token: " + kToken + "\n"
        "    projects: [grp/app]\n"
        "    fetch_jobs: false\n"
        "    fetch_test_reports: false\n"
        "    timeout: 300ms\n"
        "    retry: {max_attempts: 2, initial_backoff: 10ms, max_backoff: 20ms, max_rate_limit_wait: 1s}\n",
        "faults.yml");
    exporter_ = std::make_unique<Exporter>(config_, &SystemClock::Get(), &fetcher_);
  }
  void TearDown() override {
    exporter_.reset();
    Logging::SetSink(nullptr);
    Logging::SetLevel(LogLevel::kInfo);
    std::lock_guard lock(mu_);
    for (const auto& l : logs_) EXPECT_EQ(l.find(kToken), std::string::npos) << l;
  }
  std::string mode() {
    std::lock_guard lock(mu_);
    return mode_;
  }
  void SetMode(std::string m) {
    std::lock_guard lock(mu_);
    mode_ = std::move(m);
  }
  std::string Scrape() {
    WebRequest req;
    req.method = "GET";
    req.path = "/metrics";
    const std::string body = exporter_->Handle(req).FullBody();
    EXPECT_EQ(body.find(kToken), std::string::npos);
    return body;
  }
  std::string LastError() {
    std::string err;
    exporter_->store().Read([&](const auto&, const std::map<std::string, SourceHealth>& s) {
      err = s.at("gitlab").last_error;
    });
    EXPECT_EQ(err.find(kToken), std::string::npos) << err;
    return err;
  }

  std::mutex mu_;
  std::string mode_ = "ok";        // GUARDED_BY(mu_)
  std::vector<std::string> logs_;  // GUARDED_BY(mu_)
  testing::TestServer server_;
  HttplibFetcher fetcher_;
  ExporterConfig config_;
  std::unique_ptr<Exporter> exporter_;
};

const char* kSuccessRuns =
    "cicd_pipeline_runs_total{source=\"gitlab\",pipeline=\"grp/app\",branch=\"main\",result=\"success\"}";
const char* kFailureRuns =
    "cicd_pipeline_runs_total{source=\"gitlab\",pipeline=\"grp/app\",branch=\"main\",result=\"failure\"}";

TEST_F(ExporterGitlabFaults, LastGoodDataSurvivesEveryFault) {
  exporter_->PollAllOnce();
  std::string m = Scrape();
  ASSERT_EQ(Metric(m, kSuccessRuns), "2") << m;
  EXPECT_EQ(Metric(m, kFailureRuns), "1");
  EXPECT_EQ(Metric(m, "cicd_exporter_source_up{source=\"gitlab\"}"), "1");
  EXPECT_EQ(Count(m, "200"), 4);  // the listing and three pipelines' details
  EXPECT_EQ(Metric(m, "cicd_exporter_api_rate_limit_remaining{source=\"gitlab\"}"), "1999");
  EXPECT_EQ(Metric(m, "cicd_pipeline_last_run_duration_seconds{source=\"gitlab\",pipeline=\"grp/app\"}"), "175");
  const std::string last_success =
      Metric(m, "cicd_exporter_source_last_success_timestamp_seconds{source=\"gitlab\"}");
  ASSERT_FALSE(last_success.empty());

  struct Fault {
    const char* mode;
    const char* code;  // api_requests_total code label
    int more;          // requests of that code this fault adds
    const char* error_part;
  };
  const Fault faults[] = {
      {"401", "401", 1, "credentials were refused"},
      {"403", "403", 1, "forbidden"},
      {"429", "429", 2, "rate limited"},
      {"429-reset", "429", 1, "rate limited for another"},
      {"500", "500", 2, "HTTP 500"},
      {"garbage", "200", 1, "invalid JSON"},
      {"truncated", "200", 1, "invalid JSON"},
      {"slow", "timeout", 2, "Read"},
  };
  int failures = 0;
  for (const Fault& f : faults) {
    SCOPED_TRACE(f.mode);
    const int before = Count(m, f.code);
    SetMode(f.mode);
    exporter_->PollAllOnce();
    ++failures;
    m = Scrape();
    EXPECT_EQ(Metric(m, kSuccessRuns), "2");  // never blanked, never doubled
    EXPECT_EQ(Metric(m, kFailureRuns), "1");
    EXPECT_EQ(Metric(m, "cicd_exporter_source_up{source=\"gitlab\"}"), "0");
    EXPECT_EQ(Metric(m, "cicd_exporter_poll_failures_total{source=\"gitlab\"}"), std::to_string(failures));
    EXPECT_EQ(Count(m, f.code), before + f.more);
    EXPECT_EQ(Metric(m, "cicd_exporter_source_last_success_timestamp_seconds{source=\"gitlab\"}"), last_success);
    EXPECT_NE(LastError().find(f.error_part), std::string::npos) << LastError();
  }
  SetMode("ok");
  exporter_->PollAllOnce();
  m = Scrape();
  EXPECT_EQ(Metric(m, "cicd_exporter_source_up{source=\"gitlab\"}"), "1");
  EXPECT_EQ(Metric(m, kSuccessRuns), "2");  // the same pipelines are not counted again
  EXPECT_EQ(Metric(m, "cicd_exporter_runs_counted_total{source=\"gitlab\"}"), "3");
  std::lock_guard lock(mu_);
  bool saw_debug = false;
  for (const auto& l : logs_) saw_debug = saw_debug || l.find("level=debug") != std::string::npos;
  EXPECT_TRUE(saw_debug) << "debug logging was not on";
}

}  // namespace
}  // namespace cicd::exporter
