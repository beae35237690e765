// Component tests of the CircleCI source (STYLE.md level 2): a local server
// plays pipelines, workflows, jobs and job details to a real HttplibFetcher
// and ApiClient; the exporter keeps its last good data through the fault
// matrix.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <mutex>

#include "cicd/core/log.h"
#include "cicd/exporter/app.h"
#include "cicd/exporter/sources/circleci.h"
#include "support/fault_matrix.h"
#include "support/fixtures.h"
#include "support/test_server.h"

namespace cicd::exporter {
namespace {

using cicd::testing::ReadFixture;
using cicd::testing::TestServer;

constexpr char kToken[] = "CCIPAT_componentTestToken0123456789abcdef";
constexpr char kPipelinesPath[] = "/project/gh/acme/app/pipeline";

TimePoint T(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

void ServeFixtures(TestServer& server) {
  server.server().Get(kPipelinesPath, [](const httplib::Request&, httplib::Response& res) {
    res.set_content(ReadFixture("circleci/edge_pipelines.json"), "application/json");
  });
  server.server().Get(R"(/pipeline/p-3/workflow)", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(ReadFixture("circleci/edge_workflows.json"), "application/json");
  });
  server.server().Get(R"(/pipeline/([^/]+)/workflow)", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"items":[],"next_page_token":null})", "application/json");
  });
  server.server().Get(R"(/workflow/([^/]+)/job)", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(ReadFixture("circleci/edge_workflow_jobs.json"), "application/json");
  });
  server.server().Get(R"(/project/gh/acme/app/job/(\d+))",
                      [](const httplib::Request& req, httplib::Response& res) {
                        res.set_content(ReadFixture("circleci/edge_job_" + std::string(req.matches[1]) + ".json"),
                                        "application/json");
                      });
}

class CircleciSourceTest : public ::testing::Test {
 protected:
  CircleciSourceTest() : clock_(T("2025-02-04T13:00:00Z")) {
    common_.name = "cc";
    common_.type = "circleci";
    common_.api.max_attempts = 2;
    common_.api.initial_backoff = Millis(10);
    common_.api.max_backoff = Millis(20);
    settings_.token = kToken;
    settings_.projects = {"gh/acme/app"};
  }
  std::unique_ptr<CircleciSource> MakeSource() {
    settings_.api_url = server_.base_url();
    fetcher_ = std::make_unique<HttplibFetcher>(common_.api.http);
    SourceDeps deps;
    deps.fetcher = fetcher_.get();
    deps.clock = &clock_;
    deps.sleep = [this](Millis d) {
      clock_.Advance(d);
      return true;
    };
    return std::make_unique<CircleciSource>(common_, settings_, deps);
  }
  std::size_t RequestsTo(const std::string& prefix) const {
    const auto all = server_.requests();
    return std::count_if(all.begin(), all.end(),
                         [&](const std::string& r) { return r.rfind(prefix, 0) == 0; });
  }

  TestServer server_;
  FakeClock clock_;
  SourceCommon common_;
  CircleciSettings settings_;
  std::unique_ptr<HttplibFetcher> fetcher_;
};

TEST_F(CircleciSourceTest, PipelinesWorkflowsJobsAndDetails) {
  ServeFixtures(server_);
  server_.Start();
  auto source = MakeSource();
  auto poll = source->Poll(T("2025-02-04T12:00:00Z"));
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_TRUE(poll->partial_errors.empty());
  std::map<std::string, RunRecord> done;
  for (const auto& r : poll->finished) done[r.run_id] = r;
  // w-notrun stopped_at null -> finished at its creation, 12:00:01.
  EXPECT_EQ(done.size(), 4u);
  ASSERT_TRUE(done.count("w-ok"));
  const RunRecord& ok = done.at("w-ok");
  EXPECT_EQ(ok.pipeline, "gh/acme/app/build-and-test");
  EXPECT_EQ(ok.branch, "main");
  EXPECT_EQ(ok.trigger, "push");
  EXPECT_EQ(ok.created_at, T("2025-02-04T12:00:01Z"));
  EXPECT_EQ(ok.started_at, T("2025-02-04T12:00:20Z"));
  EXPECT_EQ(ok.queue_seconds, 30.0);
  EXPECT_EQ(ok.duration_seconds, 281.0);
  EXPECT_EQ(ok.url, "https://app.circleci.com/pipelines/github/acme/app/3/workflows/w-ok");
  ASSERT_EQ(poll->active.size(), 1u);
  EXPECT_EQ(poll->active[0].run_id, "w-hold");
  // 3 valid pipelines' workflows; 4 finished workflows' jobs, 2 details each.
  EXPECT_EQ(RequestsTo(kPipelinesPath), 1u);
  EXPECT_EQ(RequestsTo("/pipeline/"), 3u);
  EXPECT_EQ(RequestsTo("/workflow/"), 4u);
  EXPECT_EQ(RequestsTo("/project/gh/acme/app/job/"), 8u);
  const auto h = server_.last_headers(kPipelinesPath);
  EXPECT_EQ(h.find("Circle-Token")->second, kToken);
  EXPECT_FALSE(h.count("Authorization"));

  // Second poll: jobs of finished workflows come from memory; only the
  // pipeline with a workflow on hold is asked again (the others are unchanged).
  auto again = source->Poll(T("2025-02-04T12:00:00Z"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->finished.size(), 4u);
  EXPECT_EQ(RequestsTo("/workflow/"), 4u);
  EXPECT_EQ(RequestsTo("/pipeline/"), 4u);
  // 15 minutes later every pipeline in the window is asked again (re-runs).
  clock_.Advance(std::chrono::minutes(15));
  ASSERT_TRUE(source->Poll(T("2025-02-04T12:00:00Z")).ok());
  EXPECT_EQ(RequestsTo("/pipeline/"), 7u);
}

TEST_F(CircleciSourceTest, WithoutJobsNoQueueIsInvented) {
  settings_.fetch_jobs = false;
  ServeFixtures(server_);
  server_.Start();
  auto poll = MakeSource()->Poll(T("2025-02-04T12:00:00Z"));
  ASSERT_TRUE(poll.ok());
  for (const auto& r : poll->finished) {
    EXPECT_FALSE(r.queue_seconds) << r.run_id;
    EXPECT_FALSE(r.created_at) << r.run_id;
  }
  EXPECT_EQ(RequestsTo("/workflow/"), 0u);
}

TEST_F(CircleciSourceTest, FailingJobDetailsKeepTheRunAndArePartial) {
  server_.server().Get(R"(/project/gh/acme/app/job/42)", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"number\": ", "application/json");
  });
  ServeFixtures(server_);
  server_.Start();
  auto poll = MakeSource()->Poll(T("2025-02-04T12:00:00Z"));
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_EQ(poll->finished.size(), 4u);
  ASSERT_EQ(poll->partial_errors.size(), 1u);
  EXPECT_NE(poll->partial_errors[0].find("jobs of 4 finished workflows unavailable"), std::string::npos)
      << poll->partial_errors[0];
}

TEST_F(CircleciSourceTest, PaginatesByNextPageTokenUntilOlderThanTheWindow) {
  server_.server().Get(kPipelinesPath, [](const httplib::Request& req, httplib::Response& res) {
    const std::string token = req.has_param("page-token") ? req.get_param_value("page-token") : "";
    if (token.empty()) {
      res.set_content(R"({"items":[{"id":"a","number":9,"created_at":"2025-02-04T12:30:00Z"}],"next_page_token":"tok+/2"})", "application/json");
    } else if (token == "tok+/2") {
      res.set_content(R"({"items":[{"id":"b","number":8,"created_at":"2025-01-01T00:00:00Z"}],"next_page_token":"tok3"})", "application/json");
    } else {
      res.status = 500;
    }
  });
  server_.server().Get(R"(/pipeline/([^/]+)/workflow)", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"items":[],"next_page_token":null})", "application/json");
  });
  server_.Start();
  auto poll = MakeSource()->Poll(T("2025-02-04T12:00:00Z"));
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_EQ(RequestsTo(kPipelinesPath), 2u);  // page 2 reached before the window: stop
  EXPECT_EQ(RequestsTo("/pipeline/a/workflow"), 1u);
  EXPECT_EQ(RequestsTo("/pipeline/b/workflow"), 0u);
}

std::string RecentPipelines() {
  const TimePoint now = std::chrono::system_clock::now();
  return R"({"next_page_token":null,"items":[{"id":"p1","number":7,"created_at":")" +
         FormatRfc3339(now - std::chrono::minutes(20)) +
         R"(","trigger":{"type":"webhook"},"vcs":{"branch":"main"}}]})";
}
std::string RecentWorkflows() {
  const TimePoint now = std::chrono::system_clock::now();
  std::string items;
  for (int i = 0; i < 3; ++i) {
    if (i) items += ",";
    items += R"({"id":"wf-)" + std::to_string(i) + R"(","name":"build-)" + std::to_string(i % 2) +
             R"(","status":")" + (i == 1 ? "failed" : "success") + R"(","created_at":")" +
             FormatRfc3339(now - std::chrono::minutes(19)) + R"(","stopped_at":")" +
             FormatRfc3339(now - std::chrono::minutes(10 - i)) + "\"}";
  }
  return R"({"next_page_token":null,"items":[)" + items + "]}";
}

TEST(CircleciExporterFaults, LastGoodDataSurvivesEveryFault) {
  std::mutex mu;
  std::string mode = "ok";
  std::vector<std::string> logs;
  Logging::SetLevel(LogLevel::kDebug);
  Logging::SetSink([&](std::string_view l) {
    std::lock_guard lock(mu);
    logs.emplace_back(l);
  });
  TestServer server;
  server.server().Get(kPipelinesPath, [&](const httplib::Request&, httplib::Response& res) {
    std::string m;
    {
      std::lock_guard lock(mu);
      m = mode;
    }
    cicd::testing::ServeFault(m, RecentPipelines(), res);
  });
  server.server().Get(R"(/pipeline/p1/workflow)", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(RecentWorkflows(), "application/json");
  });
  server.Start();
  const ExporterConfig config = ParseExporterConfig(
      "state_file: ''\n"
      "sources:\n"
      "  - type: circleci\n"
      "    url: " + server.base_url() + "\n"
      "    token: " + kToken + "\n"
      "    projects: [gh/acme/app]\n"
      "    fetch_jobs: false\n"
      "    timeout: 300ms\n"
      "    retry: {max_attempts: 2, initial_backoff: 10ms, max_backoff: 20ms, max_rate_limit_wait: 1s}\n",
      "faults.yml");
  HttplibFetcher fetcher;
  auto exporter = std::make_unique<Exporter>(config, &SystemClock::Get(), &fetcher);
  auto scrape = [&] {
    WebRequest req;
    req.method = "GET";
    req.path = "/metrics";
    const std::string body = exporter->Handle(req).FullBody();
    EXPECT_EQ(body.find(kToken), std::string::npos);
    return body;
  };
  auto last_error = [&] {
    std::string err;
    exporter->store().Read([&](const auto&, const std::map<std::string, SourceHealth>& s) {
      err = s.at("circleci").last_error;
    });
    EXPECT_EQ(err.find(kToken), std::string::npos) << err;
    return err;
  };
  using cicd::testing::MetricValue;
  const std::string success =
      "cicd_pipeline_runs_total{source=\"circleci\",pipeline=\"gh/acme/app/build-0\",branch=\"main\","
      "result=\"success\"}";
  auto requests = [](const std::string& m, const std::string& code) {
    const std::string v = MetricValue(
        m, "cicd_exporter_api_requests_total{code=\"" + code + "\",source=\"circleci\"}");
    return v.empty() ? 0 : std::stoi(v);
  };
  exporter->PollAllOnce();
  std::string m = scrape();
  ASSERT_EQ(MetricValue(m, success), "2") << m;
  EXPECT_EQ(MetricValue(m, "cicd_exporter_source_up{source=\"circleci\"}"), "1");
  const std::string last_success =
      MetricValue(m, "cicd_exporter_source_last_success_timestamp_seconds{source=\"circleci\"}");
  ASSERT_FALSE(last_success.empty());
  int failures = 0;
  for (const auto& f : cicd::testing::SourceFaults()) {
    SCOPED_TRACE(f.mode);
    const int before = requests(m, f.code);
    {
      std::lock_guard lock(mu);
      mode = f.mode;
    }
    exporter->PollAllOnce();
    m = scrape();
    EXPECT_EQ(MetricValue(m, success), "2");
    EXPECT_EQ(MetricValue(m, "cicd_exporter_source_up{source=\"circleci\"}"), "0");
    EXPECT_EQ(MetricValue(m, "cicd_exporter_poll_failures_total{source=\"circleci\"}"),
              std::to_string(++failures));
    EXPECT_EQ(requests(m, f.code), before + f.requests);
    EXPECT_EQ(MetricValue(m, "cicd_exporter_source_last_success_timestamp_seconds{source=\"circleci\"}"),
              last_success);
    EXPECT_NE(last_error().find(f.error_part), std::string::npos) << last_error();
  }
  {
    std::lock_guard lock(mu);
    mode = "ok";
  }
  exporter->PollAllOnce();
  m = scrape();
  EXPECT_EQ(MetricValue(m, "cicd_exporter_source_up{source=\"circleci\"}"), "1");
  EXPECT_EQ(MetricValue(m, success), "2");
  EXPECT_EQ(MetricValue(m, "cicd_exporter_runs_counted_total{source=\"circleci\"}"), "3");
  exporter.reset();
  Logging::SetSink(nullptr);
  Logging::SetLevel(LogLevel::kInfo);
  std::lock_guard lock(mu);
  for (const auto& l : logs) EXPECT_EQ(l.find(kToken), std::string::npos) << l;
}

}  // namespace
}  // namespace cicd::exporter
