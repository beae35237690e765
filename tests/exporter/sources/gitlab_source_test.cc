// Component tests of the GitLab CI source (STYLE.md level 2): a local
// cpp-httplib server plays the recorded GitLab payloads to a real
// HttplibFetcher and ApiClient. Nothing really waits: the sleeper advances a
// fake clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "cicd/core/log.h"
#include "cicd/exporter/sources/gitlab.h"
#include "support/fake_gitlab.h"
#include "support/fixtures.h"
#include "support/test_server.h"

namespace cicd::exporter {
namespace {

using cicd::testing::FakeGitlab;
using cicd::testing::ReadFixture;
using cicd::testing::TestServer;

constexpr char kToken[] = "glpat-componentTestToken0123456789";

TimePoint T(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

const TimePoint kSince = T("2022-09-21T00:30:00Z");
// The raw request target of the first listing page: the project path and
// the time URL-encoded, updated_after rounded down to the hour.
constexpr char kFirstTarget[] =
    "/api/v4/projects/test-group%2Ftest-project/pipelines?updated_after=2022-09-21T00%3A00%3A00Z&"
    "per_page=100";

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

std::map<std::string, RunRecord> ById(const std::vector<RunRecord>& runs) {
  std::map<std::string, RunRecord> out;
  for (const auto& r : runs) out[r.run_id] = r;
  return out;
}

class GitlabSourceTest : public ::testing::Test {
 protected:
  GitlabSourceTest() : gitlab_(server_), clock_(T("2022-09-21T02:00:00Z")) {
    common_.name = "gl";
    common_.type = "gitlab";
    common_.api.timeout = Millis(2'000);
    common_.api.max_attempts = 3;
    common_.api.initial_backoff = Millis(10);
    common_.api.max_backoff = Millis(40);
    settings_.token = kToken;
    settings_.projects = {FakeGitlab::kProject};
  }

  void StartServer() {
    server_.Start();
    if (settings_.url == "https://gitlab.com") settings_.url = server_.base_url();
  }

  std::unique_ptr<GitlabSource> MakeSource() {
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
    return std::make_unique<GitlabSource>(common_, settings_, deps);
  }

  std::vector<Millis> waits() {
    std::lock_guard lock(waits_mu_);
    return waits_;
  }

  // Requests (decoded path and query) whose path starts with `prefix`.
  std::vector<std::string> RequestsTo(const std::string& prefix) const {
    std::vector<std::string> out;
    for (const auto& r : server_.requests()) {
      if (r.rfind(prefix, 0) == 0) out.push_back(r);
    }
    return out;
  }
  std::size_t CountMatching(const std::string& part) const {
    const auto all = server_.requests();
    return std::count_if(all.begin(), all.end(),
                         [&](const std::string& r) { return r.find(part) != std::string::npos; });
  }

  // Serves `handler` for the listing and the fixture pipelines behind it.
  void ServeListingWith(httplib::Server::Handler handler) {
    server_.server().Get(gitlab_.PipelinesPath(), std::move(handler));
    gitlab_.ServePipelines();
  }

  TestServer server_;
  FakeGitlab gitlab_;
  FakeClock clock_;
  RecordingObserver observer_;
  SourceCommon common_;
  GitlabSettings settings_;
  std::unique_ptr<HttplibFetcher> fetcher_;
  std::mutex waits_mu_;
  std::vector<Millis> waits_;
};

TEST_F(GitlabSourceTest, PaginatesAndMapsEveryPipeline) {
  gitlab_.ServeListing();
  gitlab_.ServePipelines();
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_TRUE(poll->partial_errors.empty()) << poll->partial_errors[0];

  // 2 listing pages, 9 details (not of queued or old pipelines), jobs and
  // test report summaries of the 8 finished ones.
  AwaitRequests(server_, 27);
  const auto targets = gitlab_.listing_targets();
  ASSERT_EQ(targets.size(), 2u);
  EXPECT_EQ(targets[0], kFirstTarget);
  EXPECT_EQ(targets[1], std::string(kFirstTarget) + "&page=2");
  EXPECT_EQ(CountMatching("/jobs"), 8u);
  EXPECT_EQ(CountMatching("/test_report_summary"), 8u);
  EXPECT_EQ(server_.request_count(), 27u);
  for (const char* id : {"47", "48", "298", "299", "300"}) {
    EXPECT_EQ(CountMatching(std::string("/pipelines/") + id), 0u) << id;
  }
  EXPECT_EQ(CountMatching("/bridges"), 0u);  // a parent's bridges are never read

  const auto finished = ById(poll->finished);
  const auto active = ById(poll->active);
  EXPECT_EQ(finished.size(), 8u);
  for (const char* id : {"287", "291", "292", "293", "294", "295", "296", "301"}) {
    EXPECT_TRUE(finished.count(id)) << id;
  }
  ASSERT_EQ(active.size(), 4u);
  EXPECT_EQ(active.at("47").status, RunStatus::kQueued);
  EXPECT_EQ(active.at("298").status, RunStatus::kQueued);
  EXPECT_EQ(active.at("297").status, RunStatus::kRunning);
  EXPECT_EQ(active.at("297").started_at, T("2022-09-21T01:55:10Z"));

  // docs_get_pipeline.json with its test report summary.
  const RunRecord& r287 = finished.at("287");
  EXPECT_EQ(r287.pipeline, "test-group/test-project");
  EXPECT_EQ(r287.source, "gl");
  EXPECT_EQ(r287.duration_seconds, 34.0);
  EXPECT_EQ(r287.queue_seconds, 6.0);
  EXPECT_EQ(r287.tests_total, 3363);
  EXPECT_EQ(r287.tests_failed, 0);
  EXPECT_EQ(r287.tests_skipped, 12);
  // A merge request pipeline whose jobs (docs_list_pipeline_jobs.json) failed
  // a script; no test suites: tests unknown.
  const RunRecord& r291 = finished.at("291");
  EXPECT_EQ(r291.result, "failure");
  EXPECT_EQ(r291.trigger, "pull_request");
  EXPECT_EQ(r291.branch, "refs/merge-requests/7/head");
  EXPECT_EQ(r291.queue_seconds, 12.5);
  EXPECT_EQ(r291.tests_total, std::nullopt);
  // A scheduled pipeline whose test job timed out; queue from its jobs.
  const RunRecord& r292 = finished.at("292");
  EXPECT_EQ(r292.result, "timeout");
  EXPECT_EQ(r292.trigger, "schedule");
  EXPECT_EQ(r292.queue_seconds, 30.25);
  // A child pipeline is a run of its own, with the full test report shape.
  const RunRecord& r296 = finished.at("296");
  EXPECT_EQ(r296.event, "parent_pipeline");
  EXPECT_EQ(r296.trigger, "other");
  EXPECT_EQ(r296.tests_total, 9);
  EXPECT_EQ(r296.tests_failed, 4);
  EXPECT_EQ(finished.at("301").trigger, "other");  // a multi-project downstream
  EXPECT_EQ(finished.at("293").result, "cancellation");
  EXPECT_EQ(finished.at("294").result, "skip");
  EXPECT_EQ(finished.at("295").result, "skip");
  for (const auto& r : poll->finished) EXPECT_TRUE(Validate(r).ok()) << r.run_id;
  for (const auto& r : poll->active) EXPECT_TRUE(Validate(r).ok()) << r.run_id;
}

TEST_F(GitlabSourceTest, EitherPaginationHeaderIsEnough) {
  for (const char* mode : {"x-next-page", "link"}) {
    SCOPED_TRACE(mode);
    TestServer server;
    FakeGitlab gitlab(server);
    gitlab.ServeListing(mode);
    gitlab.ServePipelines();
    server.Start();
    settings_.url = server.base_url();
    auto poll = MakeSource()->Poll(kSince);
    ASSERT_TRUE(poll.ok()) << poll.status().ToString();
    EXPECT_EQ(poll->finished.size(), 8u);
    EXPECT_EQ(poll->active.size(), 4u);
    EXPECT_EQ(gitlab.listing_targets().size(), 2u);
  }
}

TEST_F(GitlabSourceTest, MaxPagesCutsTheListing) {
  settings_.max_pages = 1;
  gitlab_.ServeListing();
  gitlab_.ServePipelines();
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_EQ(gitlab_.listing_targets().size(), 1u);
  EXPECT_EQ(poll->active.size(), 2u);  // page 1 only
  EXPECT_TRUE(poll->finished.empty());
  EXPECT_TRUE(poll->partial_errors.empty());
}

TEST_F(GitlabSourceTest, NeverSendsTheTokenToAnotherHost) {
  ServeListingWith([](const httplib::Request&, httplib::Response& res) {
    res.set_header("Link", "<https://evil.example.com/steal?id_after=1>; rel=\"next\"");
    res.set_content(ReadFixture("gitlab/docs_list_pipelines.json"), "application/json");
  });
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_FALSE(poll.ok());
  EXPECT_NE(poll.status().message().find("not followed"), std::string::npos);
  AwaitRequests(server_, 1);
  EXPECT_EQ(server_.request_count(), 1u);
}

TEST_F(GitlabSourceTest, SendsPrivateTokenAndNoAuthorization) {
  gitlab_.ServeListing();
  gitlab_.ServePipelines();
  StartServer();
  ASSERT_TRUE(MakeSource()->Poll(kSince).ok());
  AwaitRequests(server_, 1);
  const auto h = server_.last_headers(gitlab_.PipelinesPath());
  ASSERT_TRUE(h.count("PRIVATE-TOKEN"));
  EXPECT_EQ(h.find("PRIVATE-TOKEN")->second, kToken);
  EXPECT_FALSE(h.count("Authorization"));

  settings_.token = "";
  ASSERT_TRUE(MakeSource()->Poll(kSince).ok());
  AwaitRequests(server_, 28);
  EXPECT_FALSE(server_.last_headers(gitlab_.PipelinesPath()).count("PRIVATE-TOKEN"));
}

TEST_F(GitlabSourceTest, SelfManagedBasePathIsHonoured) {
  TestServer server;
  FakeGitlab gitlab(server, "/gitlab");
  gitlab.ServeListing();
  gitlab.ServePipelines();
  server.Start();
  settings_.url = server.base_url() + "/gitlab";
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_EQ(poll->finished.size(), 8u);
  ASSERT_FALSE(gitlab.listing_targets().empty());
  EXPECT_EQ(gitlab.listing_targets()[0], std::string("/gitlab") + kFirstTarget);
}

TEST_F(GitlabSourceTest, SecondPollIsConditionalAndReadsNothingTwice) {
  std::atomic<int> conditional{0};
  std::atomic<int> full{0};
  const std::string pages[] = {ReadFixture("gitlab/docs_list_pipelines.json"),
                               ReadFixture("gitlab/edge_list_pipelines.json")};
  ServeListingWith([&](const httplib::Request& req, httplib::Response& res) {
    const int page = req.has_param("page") ? 2 : 1;
    const std::string etag = "W/\"page-" + std::to_string(page) + "\"";
    res.set_header("RateLimit-Remaining", std::to_string(1900 - full.load()));
    if (req.get_header_value("If-None-Match") == etag) {
      ++conditional;
      res.status = 304;  // like GitLab: no pagination headers on a 304
      return;
    }
    ++full;
    res.set_header("ETag", etag);
    if (page == 1) {
      res.set_header("X-Next-Page", "2");
      res.set_header("Link", "<" + server_.base_url() + req.path + "?page=2&per_page=100>; rel=\"next\"");
    }
    res.set_content(pages[page - 1], "application/json");
  });
  StartServer();
  auto source = MakeSource();
  auto first = source->Poll(kSince);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  AwaitRequests(server_, 27);
  const std::size_t after_first = server_.request_count();
  ASSERT_FALSE(observer_.remaining().empty());
  EXPECT_EQ(observer_.remaining().back(), 1900 - 1);  // page 2 of the first poll

  clock_.Advance(std::chrono::minutes(1));
  auto second = source->Poll(kSince + std::chrono::minutes(10));  // same hour: same URL
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  // Both pages were 304s (the second found through the cached Link), and
  // the unchanged pipelines came from memory.
  EXPECT_EQ(conditional.load(), 2);
  EXPECT_EQ(full.load(), 2);
  AwaitRequests(server_, after_first + 2);
  EXPECT_EQ(server_.request_count(), after_first + 2);
  EXPECT_EQ(observer_.codes().back(), "304");
  ASSERT_EQ(second->finished.size(), first->finished.size());
  ASSERT_EQ(second->active.size(), first->active.size());
  const auto a = ById(first->finished);
  const auto b = ById(second->finished);
  for (const auto& [id, run] : a) EXPECT_EQ(ToJsonLine(b.at(id)), ToJsonLine(run)) << id;
}

TEST_F(GitlabSourceTest, ChangedPipelineIsReadAgain) {
  std::atomic<bool> changed{false};
  ServeListingWith([&](const httplib::Request&, httplib::Response& res) {
    std::string body = ReadFixture("gitlab/edge_list_pipelines.json");
    if (changed) {
      // 297 finished: its updated_at moved.
      const std::string from = "\"updated_at\": \"2022-09-21T01:58:00.000Z\"";
      body.replace(body.find(from), from.size(), "\"updated_at\": \"2022-09-21T01:59:59.000Z\"");
    }
    res.set_content(body, "application/json");
  });
  StartServer();
  auto source = MakeSource();
  ASSERT_TRUE(source->Poll(kSince).ok());
  AwaitRequests(server_, 26);
  const std::size_t reads = CountMatching("/pipelines/297");
  EXPECT_EQ(reads, 1u);
  changed = true;
  ASSERT_TRUE(source->Poll(kSince).ok());
  AwaitRequests(server_, 28);
  EXPECT_EQ(CountMatching("/pipelines/297"), 2u);  // only it
  EXPECT_EQ(CountMatching("/pipelines/287"), 3u);  // details, jobs, report: once
}

TEST_F(GitlabSourceTest, GroupsDiscoverProjectsAndAreReadOnSchedule) {
  settings_.groups = {GitlabGroup{"test-group", true, NameFilter{{}, {"*/sandbox-*"}}, false}};
  std::atomic<int> discovery_status{200};
  std::vector<std::string> discovery_targets;
  std::mutex mu;
  server_.server().Get("/api/v4/groups/test-group/projects",
                       [&](const httplib::Request& req, httplib::Response& res) {
                         {
                           std::lock_guard lock(mu);
                           discovery_targets.push_back(req.target);
                         }
                         res.status = discovery_status.load();
                         res.set_content(ReadFixture("gitlab/edge_group_projects.json"), "application/json");
                       });
  gitlab_.ServeListing();
  gitlab_.ServePipelines();
  gitlab_.ServeListing("both", "test-group/platform/tools");
  gitlab_.ServePipelines("test-group/platform/tools");
  StartServer();
  auto source = MakeSource();
  auto poll = source->Poll(kSince);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_TRUE(poll->partial_errors.empty());
  {
    std::lock_guard lock(mu);
    ASSERT_EQ(discovery_targets.size(), 1u);
    EXPECT_EQ(discovery_targets[0],
              "/api/v4/groups/test-group/projects?include_subgroups=true&archived=false&"
              "with_shared=false&simple=true&order_by=id&sort=asc&per_page=100");
  }
  // The listed project once, the discovered subgroup project; not the
  // excluded sandbox nor the archived one.
  const auto targets = gitlab_.listing_targets();
  ASSERT_EQ(targets.size(), 4u);
  EXPECT_EQ(std::count_if(targets.begin(), targets.end(),
                          [](const std::string& t) {
                            return t.rfind("/api/v4/projects/test-group%2Fplatform%2Ftools/pipelines?", 0) == 0;
                          }),
            2);
  EXPECT_EQ(CountMatching("sandbox"), 0u);
  EXPECT_EQ(CountMatching("test-group/old"), 0u);
  std::set<std::string> pipelines;
  for (const auto& r : poll->finished) pipelines.insert(r.pipeline);
  EXPECT_EQ(pipelines, (std::set<std::string>{"test-group/platform/tools", "test-group/test-project"}));

  // Within discovery_interval the list is not read again; a failing
  // discovery later keeps the projects found before.
  clock_.Advance(std::chrono::minutes(10));
  ASSERT_TRUE(source->Poll(kSince).ok());
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(discovery_targets.size(), 1u);
  }
  clock_.Advance(std::chrono::minutes(30));
  discovery_status = 401;
  auto failed = source->Poll(kSince);
  ASSERT_TRUE(failed.ok()) << failed.status().ToString();
  ASSERT_EQ(failed->partial_errors.size(), 1u);
  EXPECT_NE(failed->partial_errors[0].find("group test-group"), std::string::npos) << failed->partial_errors[0];
  pipelines.clear();
  for (const auto& r : failed->finished) pipelines.insert(r.pipeline);
  EXPECT_EQ(pipelines.size(), 2u);
}

TEST_F(GitlabSourceTest, UnauthorizedIsAnErrorWithoutRetry) {
  ServeListingWith([](const httplib::Request&, httplib::Response& res) {
    res.status = 401;
    res.set_content(R"({"message":"401 Unauthorized"})", "application/json");
  });
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_FALSE(poll.ok());
  EXPECT_EQ(poll.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(poll.status().message().find("test-group/test-project"), std::string::npos);
  AwaitRequests(server_, 1);
  EXPECT_EQ(server_.request_count(), 1u);
  EXPECT_TRUE(waits().empty());
}

TEST_F(GitlabSourceTest, ForbiddenIsAnErrorWithoutRetry) {
  ServeListingWith([](const httplib::Request&, httplib::Response& res) {
    res.status = 403;
    res.set_content(R"({"message":"403 Forbidden"})", "application/json");
  });
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_FALSE(poll.ok());
  EXPECT_EQ(poll.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(poll.status().message().find("forbidden"), std::string::npos);
  EXPECT_TRUE(waits().empty());
}

TEST_F(GitlabSourceTest, RateLimitResetWaitsThenSucceeds) {
  std::atomic<int> calls{0};
  ServeListingWith([&](const httplib::Request&, httplib::Response& res) {
    if (calls++ == 0) {
      // GitLab: 429 with RateLimit-Reset as a Unix time (and no Retry-After here).
      res.status = 429;
      res.set_header("RateLimit-Limit", "2000");
      res.set_header("RateLimit-Remaining", "0");
      res.set_header("RateLimit-Reset",
                     std::to_string(static_cast<long long>(ToUnixSeconds(clock_.Now())) + 30));
      res.set_content("Retry later", "text/plain");
      return;
    }
    res.set_header("RateLimit-Remaining", "1999");
    res.set_content(ReadFixture("gitlab/docs_list_pipelines.json"), "application/json");
  });
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_EQ(poll->active.size(), 2u);
  ASSERT_EQ(waits().size(), 1u);
  EXPECT_EQ(waits()[0], Millis(30'000));
  EXPECT_EQ(observer_.codes(), (std::vector<std::string>{"429", "200"}));
  EXPECT_EQ(observer_.remaining(), (std::vector<double>{0, 1999}));
}

TEST_F(GitlabSourceTest, RetryAfterWinsAndTooFarFailsFast) {
  std::atomic<int> calls{0};
  std::atomic<int> retry_after{7};
  ServeListingWith([&](const httplib::Request&, httplib::Response& res) {
    if (calls++ % 2 == 0) {
      res.status = 429;
      res.set_header("Retry-After", std::to_string(retry_after.load()));
      res.set_header("RateLimit-Remaining", "0");
      res.set_header("RateLimit-Reset",
                     std::to_string(static_cast<long long>(ToUnixSeconds(clock_.Now())) + 600));
      return;
    }
    res.set_content(ReadFixture("gitlab/docs_list_pipelines.json"), "application/json");
  });
  StartServer();
  auto source = MakeSource();
  auto poll = source->Poll(kSince);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_EQ(waits(), std::vector<Millis>{Millis(7'000)});

  retry_after = 3600;  // past max_rate_limit_wait (2 min by default)
  auto limited = source->Poll(kSince);
  ASSERT_FALSE(limited.ok());
  EXPECT_EQ(limited.status().code(), ErrorCode::kRateLimited);
  EXPECT_NE(limited.status().message().find("will retry on a later poll"), std::string::npos);
  EXPECT_EQ(waits().size(), 1u);
}

TEST_F(GitlabSourceTest, ServerErrorsAreRetriedThenReported) {
  std::atomic<int> calls{0};
  std::atomic<int> failures{2};
  ServeListingWith([&](const httplib::Request&, httplib::Response& res) {
    ++calls;
    if (failures-- > 0) {
      res.status = 500;
      res.set_content(R"({"message":"500 Internal Server Error"})", "application/json");
      return;
    }
    res.set_content(ReadFixture("gitlab/docs_list_pipelines.json"), "application/json");
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
  EXPECT_NE(failed.status().message().find("HTTP 500"), std::string::npos);
  EXPECT_EQ(calls.load(), 6);  // max_attempts = 3
}

TEST_F(GitlabSourceTest, MalformedAndTruncatedJsonAreParseErrors) {
  const std::string full = ReadFixture("gitlab/edge_list_pipelines.json");
  for (const std::string& body : {std::string("[ {\"id\": 1,"), full.substr(0, full.size() - 200),
                                  std::string("<html>502 Bad Gateway</html>"),
                                  std::string(R"({"message":"not a list"})")}) {
    TestServer server;
    server.server().Get(gitlab_.PipelinesPath(), [body](const httplib::Request&, httplib::Response& res) {
      res.set_content(body, "application/json");
    });
    server.Start();
    settings_.url = server.base_url();
    auto poll = MakeSource()->Poll(kSince);
    ASSERT_FALSE(poll.ok());
    EXPECT_EQ(poll.status().code(), ErrorCode::kParse) << poll.status().ToString();
    EXPECT_NE(poll.status().message().find("GET " + server.base_url() +
                                           "/api/v4/projects/test-group%2Ftest-project/pipelines page 1"),
              std::string::npos)
        << poll.status().message();
    AwaitRequests(server, 1);
    EXPECT_EQ(server.request_count(), 1u);  // a bad payload is not retried
  }
}

TEST_F(GitlabSourceTest, SlowResponseTimesOut) {
  common_.api.timeout = Millis(200);
  common_.api.max_attempts = 2;
  ServeListingWith([](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    res.set_content("[]", "application/json");
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

// `n` pending pipelines (no further requests), padded to grow the page.
std::string ManyPipelines(int n, std::size_t pad = 0) {
  std::string out = "[";
  const std::string filler(pad, 'x');
  for (int i = 0; i < n; ++i) {
    if (i) out += ',';
    out += R"({"id":)" + std::to_string(100000 + i) + R"(,"iid":)" + std::to_string(i) +
           R"(,"status":"pending","source":"push","ref":"main","sha":")" + filler +
           R"(","created_at":"2022-09-21T01:00:00.000Z","updated_at":"2022-09-21T01:00:01.000Z",)"
           R"("web_url":"http://127.0.0.1/p"})";
  }
  return out + "]";
}

TEST_F(GitlabSourceTest, VeryLargePageParses) {
  const std::string body = ManyPipelines(20'000);
  ServeListingWith([body](const httplib::Request&, httplib::Response& res) {
    res.set_content(body, "application/json");
  });
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_EQ(poll->active.size(), 20'000u);
}

TEST_F(GitlabSourceTest, BodyOverTheLimitIsRefused) {
  common_.api.http.max_body_bytes = 256 * 1024;
  common_.api.max_attempts = 1;
  const std::string body = ManyPipelines(500, 1'000);  // about 700 KB
  ServeListingWith([body](const httplib::Request&, httplib::Response& res) {
    res.set_content(body, "application/json");
  });
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_FALSE(poll.ok());
  EXPECT_EQ(poll.status().code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(poll.status().message().find("larger than 262144 bytes"), std::string::npos)
      << poll.status().message();
}

TEST_F(GitlabSourceTest, OneFailingProjectIsPartialAllFailingIsAnError) {
  settings_.projects = {FakeGitlab::kProject, "test-group/gone"};
  gitlab_.ServeListing();
  gitlab_.ServePipelines();
  StartServer();  // no route for test-group/gone: 404
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_EQ(poll->finished.size(), 8u);
  ASSERT_EQ(poll->partial_errors.size(), 1u);
  EXPECT_NE(poll->partial_errors[0].find("test-group/gone"), std::string::npos);
  EXPECT_NE(poll->partial_errors[0].find("not_found"), std::string::npos);

  settings_.projects = {"test-group/a", "test-group/b"};
  auto failed = MakeSource()->Poll(kSince);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), ErrorCode::kNotFound);
  EXPECT_NE(failed.status().message().find("all 2 projects failed"), std::string::npos);
}

TEST_F(GitlabSourceTest, MissingDetailsLeaveThePipelineForTheNextPoll) {
  server_.server().Get(gitlab_.PipelinesPath() + "/291", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{\"id\": 291, \"status\":", "application/json");
  });
  gitlab_.ServeListing();
  gitlab_.ServePipelines();
  StartServer();
  auto source = MakeSource();
  auto poll = source->Poll(kSince);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  const auto finished = ById(poll->finished);
  EXPECT_EQ(finished.size(), 7u);
  EXPECT_FALSE(finished.count("291"));
  ASSERT_EQ(poll->partial_errors.size(), 1u);
  EXPECT_NE(poll->partial_errors[0].find("details of 1 pipelines unavailable, left for the next poll"),
            std::string::npos)
      << poll->partial_errors[0];
  // Not cached: the next poll asks again.
  auto again = source->Poll(kSince);
  ASSERT_TRUE(again.ok());
  AwaitRequests(server_, 25 + 3);
  EXPECT_EQ(CountMatching("/pipelines/291"), 2u);
}

TEST_F(GitlabSourceTest, RateLimitedJobsStopAskingAndKeepTheRuns) {
  std::atomic<int> job_calls{0};
  server_.server().Get(gitlab_.PipelinesPath() + R"(/(\d+)/jobs)",
                       [&](const httplib::Request&, httplib::Response& res) {
                         ++job_calls;
                         res.status = 429;
                         res.set_header("Retry-After", "86400");
                       });
  gitlab_.ServeListing();
  gitlab_.ServePipelines();
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_EQ(job_calls.load(), 1);
  // The first finished pipeline's details came before the limit; the rest
  // go without details this poll and wait for the next one.
  ASSERT_EQ(poll->partial_errors.size(), 2u) << poll->partial_errors[0];
  EXPECT_NE(poll->partial_errors[0].find("rate_limited"), std::string::npos) << poll->partial_errors[0];
  EXPECT_NE(poll->partial_errors[1].find("jobs or test reports of 1 finished pipelines unavailable"),
            std::string::npos)
      << poll->partial_errors[1];
  ASSERT_EQ(poll->finished.size(), 1u);
  EXPECT_EQ(poll->finished[0].run_id, "287");
  EXPECT_EQ(poll->finished[0].tests_total, std::nullopt);  // not asked once limited
}

TEST_F(GitlabSourceTest, TokenNeverReachesLogsOrErrors) {
  std::mutex mu;
  std::vector<std::string> lines;
  const LogLevel level = Logging::Level();
  Logging::SetLevel(LogLevel::kDebug);
  Logging::SetSink([&](std::string_view line) {
    std::lock_guard lock(mu);
    lines.emplace_back(line);
  });

  // Registered first: routes match in order.
  server_.server().Get(gitlab_.PipelinesPath() + "/291", [](const httplib::Request& req, httplib::Response& res) {
    res.status = 400;
    res.set_content(req.get_header_value("PRIVATE-TOKEN"), "text/plain");
  });
  std::atomic<int> mode{0};
  ServeListingWith([&](const httplib::Request& req, httplib::Response& res) {
    // A careless server echoing the credentials back in its bodies.
    const std::string echo = "{\"message\":\"" + req.get_header_value("PRIVATE-TOKEN") + "\"}";
    switch (mode.load()) {
      case 0: res.status = 401; break;
      case 1: res.status = 500; break;
      case 2: res.status = 403; break;
      case 3:
        res.set_content("not json " + echo, "application/json");
        return;
      case 4:
        res.status = 429;
        res.set_header("Retry-After", "1");
        break;
      default:
        res.set_content(ReadFixture("gitlab/edge_list_pipelines.json"), "application/json");
        return;
    }
    res.set_content(echo, "application/json");
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
  for (const auto& m : messages) EXPECT_EQ(m.find(kToken), std::string::npos) << m;
  std::lock_guard lock(mu);
  EXPECT_FALSE(lines.empty());
  for (const auto& line : lines) {
    EXPECT_EQ(line.find(kToken), std::string::npos) << line;
    // The redactor is a safety net: it should never have had to act.
    EXPECT_EQ(line.find("<redacted>"), std::string::npos) << line;
  }
  // The server did receive it.
  EXPECT_EQ(server_.last_headers(gitlab_.PipelinesPath()).find("PRIVATE-TOKEN")->second, kToken);
}

}  // namespace
}  // namespace cicd::exporter
