// Component tests of the GitHub Actions source (STYLE.md level 2): a local
// cpp-httplib server plays recorded payloads to a real HttplibFetcher and
// ApiClient. Nothing really waits: the sleeper advances a fake clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "cicd/core/json.h"
#include "cicd/core/log.h"
#include "cicd/exporter/sources/github.h"
#include "support/fixtures.h"
#include "support/test_server.h"

namespace cicd::exporter {
namespace {

using cicd::testing::ReadFixture;
using cicd::testing::TestServer;

constexpr char kToken[] = "ghp_componentTestToken0123456789abcdef";
constexpr char kRunsPath[] = "/repos/octo-org/octo-repo/actions/runs";
constexpr char kJobsPattern[] =
    R"(/repos/octo-org/octo-repo/actions/runs/(\d+)/attempts/(\d+)/jobs)";

TimePoint T(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

std::string Example(const std::string& name) {
  static const boost::json::value all = [] {
    auto doc = json::Parse(ReadFixture("github/openapi_actions_examples.json"));
    EXPECT_TRUE(doc.ok());
    return doc.ok() ? *doc : boost::json::value();
  }();
  return boost::json::serialize(all.at(name).at("value"));
}

// A runs page holding the workflow_run of webhook delivery `i`.
std::string DeliveryPage(std::size_t i) {
  auto doc = json::Parse(ReadFixture("github/webhook_workflow_run_examples.json"));
  boost::json::object page;
  page["total_count"] = 1;
  page["workflow_runs"] = boost::json::array{doc->as_array()[i].at("workflow_run")};
  return boost::json::serialize(page);
}

// TestServer logs a request after sending its response, so a client can be
// done before the log is: wait briefly until `n` requests were logged.
void AwaitRequests(const TestServer& server, std::size_t n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (server.request_count() < n && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

class RecordingObserver final : public ApiObserver {
 public:
  void OnApiRequest(const std::string&, const std::string& code) override {
    std::lock_guard lock(mu_);
    codes_.push_back(code);
  }
  void OnRateLimitRemaining(const std::string&, double remaining) override {
    std::lock_guard lock(mu_);
    remaining_.push_back(remaining);
  }
  std::vector<std::string> codes() const {
    std::lock_guard lock(mu_);
    return codes_;
  }
  std::vector<double> remaining() const {
    std::lock_guard lock(mu_);
    return remaining_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> codes_;
  std::vector<double> remaining_;
};

class GithubSourceTest : public ::testing::Test {
 protected:
  GithubSourceTest() : clock_(T("2025-02-04T13:00:00Z")) {
    common_.name = "gh";
    common_.type = "github";
    common_.api.timeout = Millis(2'000);
    common_.api.max_attempts = 3;
    common_.api.initial_backoff = Millis(10);
    common_.api.max_backoff = Millis(40);
    settings_.token = kToken;
    settings_.repositories = {"octo-org/octo-repo"};
  }

  void StartServer() {
    server_.Start();
    if (settings_.api_url == "https://api.github.com") settings_.api_url = server_.base_url();
  }

  std::unique_ptr<GithubSource> MakeSource() {
    fetcher_ = std::make_unique<HttplibFetcher>(common_.api.http);
    SourceDeps deps;
    deps.fetcher = fetcher_.get();
    deps.clock = &clock_;
    deps.observer = &observer_;
    deps.sleep = [this](Millis d) {
      std::lock_guard lock(waits_mu_);
      waits_.push_back(d);
      clock_.Advance(d);
      return true;
    };
    return std::make_unique<GithubSource>(common_, settings_, deps);
  }

  std::vector<Millis> waits() {
    std::lock_guard lock(waits_mu_);
    return waits_;
  }

  // Requests whose path starts with `prefix`, in order.
  std::vector<std::string> RequestsTo(const std::string& prefix) const {
    std::vector<std::string> out;
    for (const auto& r : server_.requests()) {
      if (r.rfind(prefix, 0) == 0) out.push_back(r);
    }
    return out;
  }

  // Serves `body` for the runs listing and, unless `jobs` is false, no jobs
  // for every run. Routes match in registration order: register specific
  // job routes first.
  void ServeRuns(const std::string& body, const std::string& prefix = "", bool jobs = true) {
    server_.server().Get(prefix + kRunsPath,
                         [body](const httplib::Request&, httplib::Response& res) {
                           res.set_content(body, "application/json");
                         });
    if (jobs) ServeNoJobs(prefix);
  }
  void ServeNoJobs(const std::string& prefix = "") {
    server_.server().Get(prefix + kJobsPattern,
                         [](const httplib::Request&, httplib::Response& res) {
                           res.set_content(R"({"total_count":0,"jobs":[]})", "application/json");
                         });
  }

  TestServer server_;
  FakeClock clock_;
  RecordingObserver observer_;
  SourceCommon common_;
  GithubSettings settings_;
  std::unique_ptr<HttplibFetcher> fetcher_;
  std::mutex waits_mu_;
  std::vector<Millis> waits_;
};

const TimePoint kSince = T("2025-02-04T00:00:00Z");
// kSince minus the default one-day margin, at the hour.
constexpr char kCreatedQuery[] = "created=>=2025-02-03T00:00:00Z";

std::map<std::string, RunRecord> ById(const std::vector<RunRecord>& runs) {
  std::map<std::string, RunRecord> out;
  for (const auto& r : runs) out[r.run_id] = r;
  return out;
}

TEST_F(GithubSourceTest, PaginatesOverThreePagesByLinkHeader) {
  const std::string pages[] = {Example("workflow-run-paginated"), DeliveryPage(1),
                               ReadFixture("github/edge_runs_mixed.json")};
  server_.server().Get(kRunsPath, [&](const httplib::Request& req, httplib::Response& res) {
    const int page = req.has_param("page") ? std::stoi(req.get_param_value("page")) : 1;
    const std::string base = server_.base_url() + kRunsPath +
                             "?created=%3E%3D2025-02-03T00%3A00%3A00Z&per_page=100&page=";
    std::string link;
    if (page < 3) link = "<" + base + std::to_string(page + 1) + ">; rel=\"next\", ";
    link += "<" + base + "3>; rel=\"last\"";
    res.set_header("Link", link);
    res.set_content(pages[page - 1], "application/json");
  });
  const std::string edge_jobs = ReadFixture("github/edge_jobs_rerun.json");
  server_.server().Get(
      kJobsPattern, [edge_jobs](const httplib::Request& req, httplib::Response& res) {
        const bool rerun = req.matches[1] == "9001" && req.matches[2] == "2";
        res.set_content(rerun ? edge_jobs : R"({"total_count":0,"jobs":[]})", "application/json");
      });
  StartServer();
  auto source = MakeSource();
  auto poll = source->Poll(kSince);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_TRUE(poll->partial_errors.empty());

  AwaitRequests(server_, 13);  // 3 pages and 10 runs' jobs
  // (The server logs requests after responding, so the log order may vary.)
  auto listing = RequestsTo(kRunsPath + std::string("?"));
  std::sort(listing.begin(), listing.end());
  const std::string prefix = std::string(kRunsPath) + "?" + kCreatedQuery;
  EXPECT_EQ(listing,
            (std::vector<std::string>{prefix + "&page=2&per_page=100",
                                      prefix + "&page=3&per_page=100", prefix + "&per_page=100"}));

  // Page 1: the queued OpenAPI example; page 2: a run completed in 2020,
  // before `since`; page 3: the edge cases (5 malformed runs skipped).
  const auto finished = ById(poll->finished);
  const auto active = ById(poll->active);
  EXPECT_EQ(active.size(), 5u);  // 30433642, 9010 running, 9011-9013 queued
  EXPECT_TRUE(active.count("30433642"));
  EXPECT_EQ(active.at("9010").status, RunStatus::kRunning);
  EXPECT_FALSE(finished.count("289782451"));
  // 9001-9009 and 9019; 9008 was created two weeks ago but completed today.
  EXPECT_EQ(finished.size(), 10u);
  EXPECT_TRUE(finished.count("9008"));

  // Jobs were asked for each finished run's attempt, and the re-run's jobs
  // refined its queue and completion.
  const auto jobs = RequestsTo("/repos/octo-org/octo-repo/actions/runs/");
  EXPECT_EQ(jobs.size(), 10u);
  EXPECT_NE(std::find(jobs.begin(), jobs.end(),
                      "/repos/octo-org/octo-repo/actions/runs/9001/attempts/2/jobs?per_page=100"),
            jobs.end());
  const RunRecord& rerun = finished.at("9001");
  EXPECT_EQ(rerun.Key(), "9001#2");
  EXPECT_EQ(rerun.queue_seconds, 40.0);
  EXPECT_EQ(rerun.finished_at, T("2025-02-04T12:09:50Z"));
  EXPECT_EQ(rerun.duration_seconds, 590.0);
  EXPECT_EQ(finished.at("9002").queue_seconds, 5.0);  // no jobs: run-level times
  for (const auto& r : poll->finished) EXPECT_TRUE(Validate(r).ok()) << r.run_id;
  for (const auto& r : poll->active) EXPECT_TRUE(Validate(r).ok()) << r.run_id;
}

TEST_F(GithubSourceTest, MaxPagesCutsTheListing) {
  settings_.max_pages = 2;
  server_.server().Get(kRunsPath, [&](const httplib::Request& req, httplib::Response& res) {
    const int page = req.has_param("page") ? std::stoi(req.get_param_value("page")) : 1;
    res.set_header("Link", "<" + server_.base_url() + kRunsPath +
                               "?page=" + std::to_string(page + 1) + ">; rel=\"next\"");
    res.set_content(Example("workflow-run-paginated"), "application/json");
  });
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  AwaitRequests(server_, 2);
  EXPECT_EQ(RequestsTo(kRunsPath).size(), 2u);
  EXPECT_EQ(poll->active.size(), 1u);  // the same run on both pages, once
  EXPECT_TRUE(poll->partial_errors.empty());
}

TEST_F(GithubSourceTest, NeverSendsTheTokenToAnotherHost) {
  std::atomic<int> calls{0};
  server_.server().Get(kRunsPath, [&](const httplib::Request&, httplib::Response& res) {
    // A link with a page number only lends the number; one without is refused.
    res.set_header("Link", ++calls == 1 ? "<https://evil.example.com/steal?page=2>; rel=\"next\""
                                        : "<https://evil.example.com/steal>; rel=\"next\"");
    res.set_content(Example("workflow-run-paginated"), "application/json");
  });
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_FALSE(poll.ok());
  EXPECT_NE(poll.status().message().find("not followed"), std::string::npos);
  AwaitRequests(server_, 2);
  const auto listing = RequestsTo(kRunsPath);
  ASSERT_EQ(listing.size(), 2u);
  EXPECT_EQ(std::count(listing.begin(), listing.end(),
                       std::string(kRunsPath) + "?" + kCreatedQuery + "&page=2&per_page=100"),
            1);
}

TEST_F(GithubSourceTest, SecondPollIsConditionalAndCostsNoQuota) {
  std::atomic<int> remaining{5000};
  std::atomic<int> conditional{0};
  const std::string body = ReadFixture("github/edge_runs_mixed.json");
  auto etagged = [&](const std::string& content, const std::string& etag) {
    return [&, content, etag](const httplib::Request& req, httplib::Response& res) {
      // GitHub counts a 304 against no quota.
      if (req.get_header_value("If-None-Match") == etag) {
        ++conditional;
        res.status = 304;
      } else {
        --remaining;
        res.set_header("ETag", etag);
        res.set_content(content, "application/json");
      }
      res.set_header("X-RateLimit-Remaining", std::to_string(remaining.load()));
    };
  };
  server_.server().Get(kRunsPath, etagged(body, "\"runs-v1\""));
  server_.server().Get(kJobsPattern, etagged(R"({"total_count":0,"jobs":[]})", "\"jobs-v1\""));
  StartServer();
  auto source = MakeSource();

  auto first = source->Poll(kSince);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  AwaitRequests(server_, 11);
  const std::size_t after_first = server_.request_count();
  EXPECT_EQ(after_first, 11u);  // the listing and 10 finished runs' jobs
  EXPECT_EQ(remaining.load(), 5000 - 11);
  ASSERT_FALSE(observer_.remaining().empty());
  EXPECT_EQ(observer_.remaining().back(), 5000 - 11);

  // A minute later, `since` unchanged: the same URL, a 304, the same runs.
  clock_.Advance(std::chrono::minutes(1));
  auto second = source->Poll(kSince);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(conditional.load(), 1);
  // Jobs of unchanged runs come from memory: only the listing was asked.
  AwaitRequests(server_, after_first + 1);
  EXPECT_EQ(server_.request_count(), after_first + 1);
  EXPECT_EQ(remaining.load(), 5000 - 11);
  EXPECT_EQ(observer_.remaining().back(), 5000 - 11);
  EXPECT_EQ(observer_.codes().back(), "304");
  EXPECT_EQ(server_.last_headers(kRunsPath).find("If-None-Match")->second, "\"runs-v1\"");

  ASSERT_EQ(second->finished.size(), first->finished.size());
  ASSERT_EQ(second->active.size(), first->active.size());
  for (std::size_t i = 0; i < first->finished.size(); ++i) {
    EXPECT_EQ(ToJsonLine(second->finished[i]), ToJsonLine(first->finished[i]));
  }

  // A later `since` in the same hour asks the same URL, so it is a 304 too.
  auto third = source->Poll(kSince + std::chrono::minutes(30));
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  EXPECT_EQ(conditional.load(), 2);
  AwaitRequests(server_, after_first + 2);
  const auto listing = RequestsTo(kRunsPath + std::string("?"));
  ASSERT_EQ(listing.size(), 3u);
  EXPECT_EQ(listing[0], listing[2]);
  EXPECT_EQ(remaining.load(), 5000 - 11);
}

TEST_F(GithubSourceTest, SendsAuthAndApiHeaders) {
  ServeRuns(Example("workflow-run-paginated"));
  StartServer();
  ASSERT_TRUE(MakeSource()->Poll(kSince).ok());
  AwaitRequests(server_, 1);
  const auto h = server_.last_headers(kRunsPath);
  ASSERT_TRUE(h.count("Authorization"));
  EXPECT_EQ(h.find("Authorization")->second, std::string("Bearer ") + kToken);
  EXPECT_EQ(h.find("Accept")->second, "application/vnd.github+json");
  EXPECT_EQ(h.find("X-GitHub-Api-Version")->second, "2022-11-28");
}

TEST_F(GithubSourceTest, NoTokenSendsNoAuthorization) {
  settings_.token = "";
  ServeRuns(Example("workflow-run-paginated"));
  StartServer();
  ASSERT_TRUE(MakeSource()->Poll(kSince).ok());
  AwaitRequests(server_, 1);
  EXPECT_FALSE(server_.last_headers(kRunsPath).count("Authorization"));
}

TEST_F(GithubSourceTest, EnterpriseBasePathIsHonoured) {
  ServeRuns(Example("workflow-run-paginated"), "/api/v3");
  server_.Start();
  settings_.api_url = server_.base_url() + "/api/v3";
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_EQ(poll->active.size(), 1u);
  AwaitRequests(server_, 1);
  ASSERT_EQ(server_.requests().size(), 1u);
  EXPECT_EQ(server_.requests()[0],
            std::string("/api/v3") + kRunsPath + "?" + kCreatedQuery + "&per_page=100");
}

TEST_F(GithubSourceTest, WorkflowAndEventFilters) {
  settings_.workflows.include = {".github/workflows/deploy*"};
  settings_.events = {"schedule"};
  ServeRuns(ReadFixture("github/edge_runs_mixed.json"));
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_TRUE(poll.ok());
  // deploy.yaml runs: 9011 (workflow_dispatch, filtered out), 9019 (schedule).
  ASSERT_EQ(poll->finished.size(), 1u);
  EXPECT_EQ(poll->finished[0].run_id, "9019");
  EXPECT_TRUE(poll->active.empty());
}

TEST_F(GithubSourceTest, WithoutJobsNoJobRequests) {
  settings_.fetch_jobs = false;
  ServeRuns(ReadFixture("github/edge_runs_mixed.json"));
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_TRUE(poll.ok());
  EXPECT_EQ(poll->finished.size(), 10u);
  AwaitRequests(server_, 1);
  EXPECT_EQ(server_.request_count(), 1u);
  EXPECT_EQ(ById(poll->finished).at("9001").finished_at, T("2025-02-04T12:10:00Z"));
}

TEST_F(GithubSourceTest, UnauthorizedIsAnErrorWithoutRetry) {
  server_.server().Get(kRunsPath, [](const httplib::Request&, httplib::Response& res) {
    res.status = 401;
    res.set_content(R"({"message":"Bad credentials"})", "application/json");
  });
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_FALSE(poll.ok());
  EXPECT_EQ(poll.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(poll.status().message().find("octo-org/octo-repo"), std::string::npos);
  AwaitRequests(server_, 1);
  EXPECT_EQ(server_.request_count(), 1u);
  EXPECT_TRUE(waits().empty());
}

TEST_F(GithubSourceTest, RateLimitedWithResetWaitsThenSucceeds) {
  std::atomic<int> calls{0};
  server_.server().Get(kRunsPath, [&](const httplib::Request&, httplib::Response& res) {
    if (calls++ == 0) {
      res.status = 403;
      res.set_header("X-RateLimit-Remaining", "0");
      res.set_header("X-RateLimit-Reset",
                     std::to_string(static_cast<long long>(ToUnixSeconds(clock_.Now())) + 30));
      res.set_content(R"({"message":"API rate limit exceeded"})", "application/json");
      return;
    }
    res.set_header("X-RateLimit-Remaining", "4999");
    res.set_content(Example("workflow-run-paginated"), "application/json");
  });
  ServeNoJobs();
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_EQ(poll->active.size(), 1u);
  ASSERT_EQ(waits().size(), 1u);
  EXPECT_EQ(waits()[0], Millis(30'000));
  EXPECT_EQ(observer_.codes(), (std::vector<std::string>{"403", "200"}));
  EXPECT_EQ(observer_.remaining(), (std::vector<double>{0, 4999}));
}

TEST_F(GithubSourceTest, RateLimitResetTooFarFailsFast) {
  server_.server().Get(kRunsPath, [&](const httplib::Request&, httplib::Response& res) {
    res.status = 403;
    res.set_header("X-RateLimit-Remaining", "0");
    res.set_header("X-RateLimit-Reset",
                   std::to_string(static_cast<long long>(ToUnixSeconds(clock_.Now())) + 3600));
  });
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_FALSE(poll.ok());
  EXPECT_EQ(poll.status().code(), ErrorCode::kRateLimited);
  EXPECT_TRUE(waits().empty());
  AwaitRequests(server_, 1);
  EXPECT_EQ(server_.request_count(), 1u);
}

TEST_F(GithubSourceTest, TooManyRequestsHonoursRetryAfter) {
  std::atomic<int> calls{0};
  server_.server().Get(kRunsPath, [&](const httplib::Request&, httplib::Response& res) {
    if (calls++ == 0) {
      res.status = 429;
      res.set_header("Retry-After", "7");
      return;
    }
    res.set_content(Example("workflow-run-paginated"), "application/json");
  });
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_EQ(waits(), std::vector<Millis>{Millis(7'000)});
}

TEST_F(GithubSourceTest, ServerErrorsAreRetriedThenReported) {
  std::atomic<int> calls{0};
  std::atomic<int> failures{2};
  server_.server().Get(kRunsPath, [&](const httplib::Request&, httplib::Response& res) {
    ++calls;
    if (failures-- > 0) {
      res.status = 502;
      return;
    }
    res.set_content(Example("workflow-run-paginated"), "application/json");
  });
  StartServer();
  auto source = MakeSource();
  auto poll = source->Poll(kSince);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_EQ(calls.load(), 3);
  EXPECT_EQ(waits().size(), 2u);

  failures = 100;
  auto failed = source->Poll(kSince);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(failed.status().message().find("HTTP 502"), std::string::npos);
  EXPECT_EQ(calls.load(), 6);  // max_attempts = 3
}

TEST_F(GithubSourceTest, MalformedAndTruncatedJsonAreParseErrors) {
  const std::string full = ReadFixture("github/edge_runs_mixed.json");
  for (const std::string& body : {std::string("{\"workflow_runs\": [ {\"id\": 1,"),
                                  full.substr(0, full.size() - 200), std::string("<html>oops")}) {
    TestServer server;
    server.server().Get(kRunsPath, [body](const httplib::Request&, httplib::Response& res) {
      res.set_content(body, "application/json");
    });
    server.Start();
    settings_.api_url = server.base_url();
    auto poll = MakeSource()->Poll(kSince);
    ASSERT_FALSE(poll.ok());
    EXPECT_EQ(poll.status().code(), ErrorCode::kParse) << poll.status().ToString();
    EXPECT_NE(poll.status().message().find("GET " + server.base_url() + kRunsPath + " page 1"),
              std::string::npos)
        << poll.status().message();
    AwaitRequests(server, 1);
    EXPECT_EQ(server.request_count(), 1u);  // a bad payload is not retried
  }
}

TEST_F(GithubSourceTest, SlowResponseTimesOut) {
  common_.api.timeout = Millis(200);
  common_.api.max_attempts = 2;
  server_.server().Get(kRunsPath, [](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    res.set_content("{\"workflow_runs\":[]}", "application/json");
  });
  StartServer();
  const auto t0 = std::chrono::steady_clock::now();
  auto poll = MakeSource()->Poll(kSince);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(poll.ok());
  EXPECT_EQ(poll.status().code(), ErrorCode::kTimeout) << poll.status().ToString();
  EXPECT_LT(elapsed, std::chrono::milliseconds(1'500));
  EXPECT_EQ(observer_.codes(), (std::vector<std::string>{"timeout", "timeout"}));
}

std::string ManyRuns(int n, std::size_t pad = 0) {
  std::string out = R"({"total_count":)" + std::to_string(n) + R"(,"workflow_runs":[)";
  const std::string filler(pad, 'x');
  for (int i = 0; i < n; ++i) {
    if (i) out += ',';
    out += R"({"id":)" + std::to_string(100000 + i) +
           R"(,"path":".github/workflows/ci.yml@main","head_branch":"main","run_number":)" +
           std::to_string(i) + R"(,"run_attempt":1,"event":"push","status":")" +
           (i % 2 ? "completed" : "in_progress") + R"(","conclusion":)" +
           (i % 2 ? "\"success\"" : "null") +
           R"(,"created_at":"2025-02-04T10:00:00Z","run_started_at":"2025-02-04T10:00:02Z",)"
           R"("updated_at":"2025-02-04T10:05:00Z","display_title":")" +
           filler + "\"}";
  }
  return out + "]}";
}

TEST_F(GithubSourceTest, VeryLargePageParses) {
  settings_.fetch_jobs = false;
  ServeRuns(ManyRuns(5'000));
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_EQ(poll->finished.size(), 2'500u);
  EXPECT_EQ(poll->active.size(), 2'500u);
}

TEST_F(GithubSourceTest, BodyOverTheLimitIsRefused) {
  settings_.fetch_jobs = false;
  common_.api.http.max_body_bytes = 256 * 1024;
  common_.api.max_attempts = 1;
  ServeRuns(ManyRuns(500, 1'000));  // about 700 KB
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_FALSE(poll.ok());
  EXPECT_EQ(poll.status().code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(poll.status().message().find("larger than 262144 bytes"), std::string::npos)
      << poll.status().message();
}

TEST_F(GithubSourceTest, OneFailingRepositoryIsPartial) {
  settings_.repositories = {"octo-org/octo-repo", "octo-org/gone"};
  ServeRuns(Example("workflow-run-paginated"));
  server_.server().Get("/repos/octo-org/gone/actions/runs",
                       [](const httplib::Request&, httplib::Response& res) {
                         res.status = 404;
                         res.set_content(R"({"message":"Not Found"})", "application/json");
                       });
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_EQ(poll->active.size(), 1u);
  ASSERT_EQ(poll->partial_errors.size(), 1u);
  EXPECT_NE(poll->partial_errors[0].find("octo-org/gone"), std::string::npos);
  EXPECT_NE(poll->partial_errors[0].find("not_found"), std::string::npos);
}

TEST_F(GithubSourceTest, AllRepositoriesFailingIsAnError) {
  settings_.repositories = {"octo-org/a", "octo-org/b"};
  StartServer();  // no routes: every request is a 404
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_FALSE(poll.ok());
  EXPECT_EQ(poll.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(poll.status().message().find("all 2 repositories failed"), std::string::npos);
}

TEST_F(GithubSourceTest, FailingJobsKeepTheRunAndArePartial) {
  server_.server().Get(R"(/repos/octo-org/octo-repo/actions/runs/9001/attempts/2/jobs)",
                       [](const httplib::Request&, httplib::Response& res) {
                         res.set_content("{\"jobs\": [", "application/json");
                       });
  ServeRuns(ReadFixture("github/edge_runs_mixed.json"));
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  const auto finished = ById(poll->finished);
  ASSERT_TRUE(finished.count("9001"));
  EXPECT_EQ(finished.at("9001").finished_at, T("2025-02-04T12:10:00Z"));  // updated_at
  ASSERT_EQ(poll->partial_errors.size(), 1u);
  EXPECT_NE(poll->partial_errors[0].find("jobs of 1 finished runs unavailable"), std::string::npos)
      << poll->partial_errors[0];
}

TEST_F(GithubSourceTest, RateLimitedJobsStopAskingForJobs) {
  ServeRuns(ReadFixture("github/edge_runs_mixed.json"), "", /*jobs=*/false);
  std::atomic<int> job_calls{0};
  server_.server().Get(kJobsPattern, [&](const httplib::Request&, httplib::Response& res) {
    ++job_calls;
    res.status = 429;
    res.set_header("Retry-After", "86400");
  });
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_TRUE(poll.ok());
  EXPECT_EQ(poll->finished.size(), 10u);
  EXPECT_EQ(job_calls.load(), 1);
  ASSERT_EQ(poll->partial_errors.size(), 1u);
  EXPECT_NE(poll->partial_errors[0].find("rate_limited"), std::string::npos);
  EXPECT_NE(poll->partial_errors[0].find("jobs of 10 finished runs"), std::string::npos);
}

TEST_F(GithubSourceTest, TokenNeverReachesLogsOrErrors) {
  std::mutex mu;
  std::vector<std::string> lines;
  const LogLevel level = Logging::Level();
  Logging::SetLevel(LogLevel::kDebug);
  Logging::SetSink([&](std::string_view line) {
    std::lock_guard lock(mu);
    lines.emplace_back(line);
  });

  std::atomic<int> mode{0};
  server_.server().Get(kRunsPath, [&](const httplib::Request& req, httplib::Response& res) {
    // A careless server echoing the credentials back in its bodies.
    const std::string echo = "{\"message\":\"" + req.get_header_value("Authorization") + "\"}";
    switch (mode.load()) {
      case 0:
        res.status = 401;
        res.set_content(echo, "application/json");
        break;
      case 1:
        res.status = 500;
        res.set_content(echo, "application/json");
        break;
      case 2:
        res.status = 403;
        res.set_content(echo, "application/json");
        break;
      case 3:
        res.set_content("not json " + echo, "application/json");
        break;
      case 4:
        res.status = 429;
        res.set_header("Retry-After", "1");
        res.set_content(echo, "application/json");
        break;
      default:
        res.set_content(ReadFixture("github/edge_runs_mixed.json"), "application/json");
    }
  });
  server_.server().Get(kJobsPattern, [](const httplib::Request& req, httplib::Response& res) {
    res.status = 400;
    res.set_content(req.get_header_value("Authorization"), "text/plain");
  });
  StartServer();
  auto source = MakeSource();
  std::vector<std::string> messages;
  for (int m = 0; m <= 5; ++m) {
    mode = m;
    auto poll = source->Poll(kSince);
    if (!poll.ok()) {
      messages.push_back(poll.status().ToString());
    } else {
      for (const auto& e : poll->partial_errors) messages.push_back(e);
      for (const auto& r : poll->finished) messages.push_back(ToJsonLine(r));
    }
  }
  Logging::SetSink(nullptr);
  Logging::SetLevel(level);

  EXPECT_GE(messages.size(), 6u);
  for (const auto& m : messages) {
    EXPECT_EQ(m.find(kToken), std::string::npos) << m;
  }
  std::lock_guard lock(mu);
  EXPECT_FALSE(lines.empty());
  for (const auto& line : lines) {
    EXPECT_EQ(line.find(kToken), std::string::npos) << line;
    // The redactor is a safety net: it should never have had to act.
    EXPECT_EQ(line.find("<redacted>"), std::string::npos) << line;
  }
}

}  // namespace
}  // namespace cicd::exporter
