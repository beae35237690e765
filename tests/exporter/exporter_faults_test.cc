// The exporter under faults (STYLE.md level 2): a GitHub source pointed at a
// local server that turns from healthy to 401, 429, 500, garbage, truncated
// JSON and a response slower than the timeout, and back. After each fault the
// last good data is still served and the self-metrics say what happened.
// Runs with debug logging and fails if the token shows up anywhere.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "cicd/core/log.h"
#include "cicd/exporter/app.h"
#include "support/test_server.h"

namespace cicd::exporter {
namespace {

constexpr const char* kToken = "ghp_faultTestToken0123456789abcdef";

std::string RunsPage() {
  const TimePoint now = std::chrono::system_clock::now();
  std::string runs;
  for (int i = 0; i < 3; ++i) {
    const TimePoint created = now - std::chrono::minutes(30 - i * 5);
    const TimePoint updated = created + std::chrono::minutes(3);
    if (!runs.empty()) runs += ",";
    runs += R"({"id":)" + std::to_string(1000 + i) +
            R"(,"name":"CI","head_branch":"main","path":".github/workflows/ci.yml","run_number":)" +
            std::to_string(10 + i) + R"(,"event":"push","status":"completed","conclusion":")" +
            (i == 1 ? "failure" : "success") + R"(","created_at":")" + FormatRfc3339(created) +
            R"(","run_started_at":")" + FormatRfc3339(created + std::chrono::seconds(5)) +
            R"(","updated_at":")" + FormatRfc3339(updated) + R"(","run_attempt":1})";
  }
  return R"({"total_count":3,"workflow_runs":[)" + runs + "]}";
}

std::string Metric(const std::string& text, const std::string& series) {
  const auto pos = text.find("\n" + series + " ");
  if (pos == std::string::npos) return "";
  const auto start = pos + series.size() + 2;
  return text.substr(start, text.find('\n', start) - start);
}

class ExporterFaults : public ::testing::Test {
 protected:
  void SetUp() override {
    Logging::SetLevel(LogLevel::kDebug);
    Logging::SetSink([this](std::string_view l) {
      std::lock_guard lock(mu_);
      logs_.emplace_back(l);
    });
    server_.server().Get("/repos/o/r/actions/runs", [this](const httplib::Request&, httplib::Response& res) {
      const std::string m = mode();
      if (m == "ok") {
        res.set_content(RunsPage(), "application/json");
      } else if (m == "401") {
        res.status = 401;
        res.set_content(R"({"message":"Bad credentials"})", "application/json");
      } else if (m == "429") {
        res.status = 429;
        res.set_header("Retry-After", "0");
        res.set_content(R"({"message":"slow down"})", "application/json");
      } else if (m == "403-reset") {
        res.status = 403;
        res.set_header("X-RateLimit-Remaining", "0");
        res.set_header("X-RateLimit-Reset", std::to_string(std::time(nullptr) + 3600));
        res.set_content(R"({"message":"API rate limit exceeded"})", "application/json");
      } else if (m == "500") {
        res.status = 500;
        res.set_content("<html>oops</html>", "text/html");
      } else if (m == "garbage") {
        res.set_content("<html>502 Bad Gateway</html>", "application/json");
      } else if (m == "truncated") {
        const std::string page = RunsPage();
        res.set_content(page.substr(0, page.size() / 2), "application/json");
      } else if (m == "slow") {
        std::this_thread::sleep_for(std::chrono::milliseconds(700));
        res.set_content(RunsPage(), "application/json");
      }
    });
    server_.Start();
    config_ = ParseExporterConfig(
        "state_file: ''\n"
        "sources:\n"
        "  - type: github\n"
        "    api_url: " + server_.base_url() + "\n"
        "    token: " + kToken + "\n"
        "    repositories: [o/r]\n"
        "    fetch_jobs: false\n"
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
      err = s.at("github").last_error;
    });
    EXPECT_EQ(err.find(kToken), std::string::npos) << err;
    return err;
  }

  std::mutex mu_;
  std::string mode_ = "ok";          // GUARDED_BY(mu_)
  std::vector<std::string> logs_;    // GUARDED_BY(mu_)
  testing::TestServer server_;
  HttplibFetcher fetcher_;
  ExporterConfig config_;
  std::unique_ptr<Exporter> exporter_;
};

const char* kSuccessRuns =
    "cicd_pipeline_runs_total{source=\"github\",pipeline=\"o/r/.github/workflows/ci.yml\",branch=\"main\",result=\"success\"}";

TEST_F(ExporterFaults, LastGoodDataSurvivesEveryFault) {
  exporter_->PollAllOnce();
  std::string m = Scrape();
  ASSERT_EQ(Metric(m, kSuccessRuns), "2") << m;
  EXPECT_EQ(Metric(m, "cicd_exporter_source_up{source=\"github\"}"), "1");
  EXPECT_EQ(Metric(m, "cicd_exporter_api_requests_total{code=\"200\",source=\"github\"}"), "1");
  const std::string last_success =
      Metric(m, "cicd_exporter_source_last_success_timestamp_seconds{source=\"github\"}");
  ASSERT_FALSE(last_success.empty());

  struct Fault {
    const char* mode;
    const char* code_series;  // api_requests_total code label
    const char* want_code_count;
    const char* error_part;
  };
  const Fault faults[] = {
      {"401", "401", "1", "credentials were refused"},
      {"429", "429", "2", "rate limited"},
      {"403-reset", "403", "1", "rate limited for another"},
      {"500", "500", "2", "HTTP 500"},
      {"garbage", "200", "2", "invalid JSON"},
      {"truncated", "200", "3", "invalid JSON"},
      {"slow", "timeout", "2", "Read"},
  };
  int failures = 0;
  for (const Fault& f : faults) {
    SCOPED_TRACE(f.mode);
    SetMode(f.mode);
    exporter_->PollAllOnce();
    ++failures;
    m = Scrape();
    EXPECT_EQ(Metric(m, kSuccessRuns), "2");  // never blanked, never doubled
    EXPECT_EQ(Metric(m, "cicd_exporter_source_up{source=\"github\"}"), "0");
    EXPECT_EQ(Metric(m, "cicd_exporter_poll_failures_total{source=\"github\"}"), std::to_string(failures));
    EXPECT_EQ(Metric(m, std::string("cicd_exporter_api_requests_total{code=\"") +
                            f.code_series + "\",source=\"github\"}"),
              f.want_code_count);
    EXPECT_EQ(Metric(m, "cicd_exporter_source_last_success_timestamp_seconds{source=\"github\"}"), last_success);
    EXPECT_NE(LastError().find(f.error_part), std::string::npos) << LastError();
  }
  SetMode("ok");
  exporter_->PollAllOnce();
  m = Scrape();
  EXPECT_EQ(Metric(m, "cicd_exporter_source_up{source=\"github\"}"), "1");
  EXPECT_EQ(Metric(m, kSuccessRuns), "2");  // the same runs are not counted again
  EXPECT_EQ(Metric(m, "cicd_exporter_runs_counted_total{source=\"github\"}"), "3");
  std::lock_guard lock(mu_);
  bool saw_debug = false;
  for (const auto& l : logs_) saw_debug = saw_debug || l.find("level=debug") != std::string::npos;
  EXPECT_TRUE(saw_debug) << "debug logging was not on";
}

}  // namespace
}  // namespace cicd::exporter
