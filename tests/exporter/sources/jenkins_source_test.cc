// Component tests of JenkinsSource: a local HTTP server plays the recorded
// and edge_ fixture payloads under a /jenkins path prefix; requests go through
// the real HttplibFetcher and ApiClient.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cicd/core/http_client.h"
#include "cicd/core/json.h"
#include "cicd/core/log.h"
#include "cicd/core/yaml.h"
#include "cicd/exporter/sources/jenkins.h"
#include "support/fixtures.h"
#include "support/test_server.h"

namespace cicd::exporter {
namespace {

using cicd::testing::ReadFixture;

// "Now" of the edge fixtures: 2026-01-01T00:00:00Z.
constexpr std::int64_t kT0 = 1767225600000;

class FakeJenkins {
 public:
  FakeJenkins() {
    server_.server().Get(".*", [this](const httplib::Request& req, httplib::Response& res) {
      Route route{404, R"({"error":"not found"})", Millis(0), nullptr};
      {
        std::lock_guard lock(mu_);
        // Recorded here rather than read from TestServer::requests(): its
        // logger runs after the response is sent, so a test checking right
        // after a poll could miss the last request.
        std::string target = req.path;
        for (auto p = req.params.begin(); p != req.params.end(); ++p) {
          target += (p == req.params.begin() ? "?" : "&") + p->first + "=" + p->second;
        }
        requests_.push_back(std::move(target));
        headers_[req.path] = req.headers;
        if (auto it = routes_.find(req.path); it != routes_.end()) route = it->second;
      }
      // Sleeps in slices so a test does not wait for a slow handler at teardown.
      const auto until = std::chrono::steady_clock::now() + route.delay;
      while (!stopping_ && std::chrono::steady_clock::now() < until) {
        std::this_thread::sleep_for(Millis(5));
      }
      res.status = route.status;
      res.set_content(route.handler ? route.handler(req) : route.body, "application/json");
    });
  }

  ~FakeJenkins() { stopping_ = true; }

  // `path` is below the /jenkins prefix, decoded as the server sees it.
  void Serve(const std::string& path, std::string body, int status = 200,
             Millis delay = Millis(0)) {
    std::lock_guard lock(mu_);
    routes_["/jenkins" + path] = Route{status, std::move(body), delay, nullptr};
  }
  // Answers `path` with what `handler` makes of each request.
  void ServeWith(const std::string& path,
                 std::function<std::string(const httplib::Request&)> handler) {
    std::lock_guard lock(mu_);
    routes_["/jenkins" + path] = Route{200, "", Millis(0), std::move(handler)};
  }
  void ServeFixture(const std::string& path, const std::string& fixture) {
    Serve(path, ReadFixture("jenkins/" + fixture));
  }

  void Start() {
    if (!started_) server_.Start();
    started_ = true;
  }
  std::string url() const { return server_.base_url() + "/jenkins"; }
  // Every request's decoded path and query, in arrival order.
  std::vector<std::string> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  // Requests whose path and query contain `needle`.
  int Count(const std::string& needle) const {
    const auto all = requests();
    return static_cast<int>(std::count_if(all.begin(), all.end(), [&](const std::string& r) {
      return r.find(needle) != std::string::npos;
    }));
  }
  // Headers of the last request to `path` (below the prefix, no query).
  httplib::Headers LastHeaders(const std::string& path) const {
    std::lock_guard lock(mu_);
    const auto it = headers_.find("/jenkins" + path);
    return it == headers_.end() ? httplib::Headers() : it->second;
  }

 private:
  struct Route {
    int status;
    std::string body;
    Millis delay;
    std::function<std::string(const httplib::Request&)> handler;  // else `body`
  };
  // Declared before the server so the handler never outlives them.
  mutable std::mutex mu_;
  std::map<std::string, Route> routes_;
  std::vector<std::string> requests_;
  std::map<std::string, httplib::Headers> headers_;
  std::atomic<bool> stopping_{false};
  cicd::testing::TestServer server_;
  bool started_ = false;
};

// root: "top job", folder team {app, folder deep {leaf}}, multibranch mb
// {main, feature%2Flogin}, and "agent" (an item without builds).
void ServeTree(FakeJenkins& j) {
  j.ServeFixture("/api/json", "edge_root.json");
  j.ServeFixture("/job/team/api/json", "edge_folder_team.json");
  j.ServeFixture("/job/team/job/deep/api/json", "edge_folder_deep.json");
  j.ServeFixture("/job/mb/api/json", "edge_multibranch.json");
  j.ServeFixture("/job/top job/api/json", "edge_builds_simple.json");
  j.Serve("/job/agent/api/json",
          R"({"_class":"com.cloudbees.tiger.plugins.palace.templates.DockerSlaveTemplate"})");
  j.ServeFixture("/job/team/job/app/api/json", "edge_builds_app.json");
  j.ServeFixture("/job/team/job/deep/job/leaf/api/json", "edge_builds_simple.json");
  j.ServeFixture("/job/mb/job/main/api/json", "edge_builds_simple.json");
  j.ServeFixture("/job/mb/job/feature%2Flogin/api/json", "edge_builds_simple.json");
  j.ServeFixture("/queue/api/json", "edge_queue.json");
  j.ServeFixture("/queue/item/909/api/json", "edge_queue_item_909.json");
  j.ServeFixture("/queue/item/912/api/json", "edge_queue_item_912.json");
  // Item 908 is not served: Jenkins forgot it (404).
}

const RunRecord* FindRun(const std::vector<RunRecord>& runs, const std::string& pipeline,
                         const std::string& branch, const std::string& run_id) {
  for (const auto& r : runs) {
    if (r.pipeline == pipeline && r.branch == branch && r.run_id == run_id) return &r;
  }
  return nullptr;
}

std::set<std::string> Pipelines(const std::vector<RunRecord>& runs) {
  std::set<std::string> out;
  for (const auto& r : runs) {
    out.insert(r.branch.empty() ? r.pipeline : r.pipeline + "@" + r.branch);
  }
  return out;
}

std::string Joined(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += s + "\n";
  return out;
}

class JenkinsSourceTest : public ::testing::Test {
 protected:
  JenkinsSourceTest() {
    common_.name = "ci";
    common_.type = "jenkins";
    common_.api.timeout = Millis(2000);
    common_.api.max_attempts = 2;
    common_.api.initial_backoff = Millis(1);
    common_.api.max_backoff = Millis(2);
    common_.api.requests_per_second = 0;  // no rate limit in tests
    ServeTree(jenkins_);
  }

  SourceDeps Deps() {
    SourceDeps deps;
    deps.fetcher = &fetcher_;
    deps.clock = &clock_;
    deps.sleep = [](Millis) { return true; };
    return deps;
  }

  std::unique_ptr<JenkinsSource> Make() {
    jenkins_.Start();
    settings_.url = jenkins_.url();
    return std::make_unique<JenkinsSource>(common_, settings_, Deps());
  }

  PollResult PollOk(JenkinsSource& source, TimePoint since) {
    auto result = source.Poll(since);
    EXPECT_TRUE(result.ok()) << result.status().ToString();
    return result.ok() ? *result : PollResult{};
  }

  FakeJenkins jenkins_;
  HttplibFetcher fetcher_;
  FakeClock clock_{FromUnixMillis(kT0)};
  SourceCommon common_;
  JenkinsSettings settings_;
  const TimePoint since_ = FromUnixMillis(kT0 - 2 * 3'600'000);
};

TEST_F(JenkinsSourceTest, WalksFoldersAndReadsBuilds) {
  auto source = Make();
  const PollResult poll = PollOk(*source, since_);
  EXPECT_TRUE(poll.partial_errors.empty()) << Joined(poll.partial_errors);

  EXPECT_EQ(Pipelines(poll.finished),
            (std::set<std::string>{"top job", "team/app", "team/deep/leaf", "mb@main",
                                   "mb@feature/login"}));
  // team/app #7 finished before `since`.
  EXPECT_EQ(poll.finished.size(), 8u);
  for (const auto& r : poll.finished) {
    EXPECT_TRUE(Validate(r).ok()) << r.pipeline << " " << r.run_id;
    EXPECT_EQ(r.source, "ci");
  }
  EXPECT_EQ(FindRun(poll.finished, "team/app", "", "7"), nullptr);

  const RunRecord* top = FindRun(poll.finished, "top job", "", "3");
  ASSERT_NE(top, nullptr);
  EXPECT_EQ(top->result, "success");
  EXPECT_EQ(top->started_at, FromUnixMillis(1767225000000));
  EXPECT_EQ(top->finished_at, FromUnixMillis(1767225000000 + 30000));
  EXPECT_FALSE(top->queue_seconds.has_value());
  EXPECT_FALSE(top->tests_total.has_value());

  const RunRecord* b11 = FindRun(poll.finished, "team/app", "", "11");
  ASSERT_NE(b11, nullptr);
  EXPECT_EQ(b11->result, "success");
  EXPECT_EQ(b11->tests_total, 120);
  EXPECT_EQ(b11->tests_failed, 0);
  EXPECT_EQ(b11->tests_skipped, 3);
  EXPECT_DOUBLE_EQ(b11->queue_seconds.value_or(-1), 4.2);

  const RunRecord* b10 = FindRun(poll.finished, "team/app", "", "10");
  ASSERT_NE(b10, nullptr);
  EXPECT_EQ(b10->result, "failure");
  EXPECT_EQ(b10->tests_failed, 2);
  EXPECT_DOUBLE_EQ(b10->queue_seconds.value_or(-1), 4.0);

  // #9's queue time comes from its queue item (inQueueSince 15 s before start).
  const RunRecord* b9 = FindRun(poll.finished, "team/app", "", "9");
  ASSERT_NE(b9, nullptr);
  EXPECT_EQ(b9->result, "cancellation");
  EXPECT_EQ(b9->created_at, FromUnixMillis(1767225285000));
  EXPECT_DOUBLE_EQ(b9->queue_seconds.value_or(-1), 15.0);

  // #8's queue item is gone (404): unknown, and the poll is still clean.
  const RunRecord* b8 = FindRun(poll.finished, "team/app", "", "8");
  ASSERT_NE(b8, nullptr);
  EXPECT_EQ(b8->result, "skip");
  EXPECT_FALSE(b8->queue_seconds.has_value());

  const RunRecord* branch = FindRun(poll.finished, "mb", "feature/login", "3");
  ASSERT_NE(branch, nullptr);
  EXPECT_EQ(branch->result, "success");

  ASSERT_EQ(poll.active.size(), 3u);
  const RunRecord* running = FindRun(poll.active, "team/app", "", "12");
  ASSERT_NE(running, nullptr);
  EXPECT_EQ(running->status, RunStatus::kRunning);
  EXPECT_FALSE(running->result.has_value());
  EXPECT_FALSE(running->tests_total.has_value());
  EXPECT_EQ(running->started_at, FromUnixMillis(1767225540000));
  EXPECT_DOUBLE_EQ(running->queue_seconds.value_or(-1), 2.0);

  // The queue: items of known jobs only (not the agent placeholder, not ghost).
  const RunRecord* queued = FindRun(poll.active, "team/app", "", "queue-913");
  ASSERT_NE(queued, nullptr);
  EXPECT_EQ(queued->status, RunStatus::kQueued);
  EXPECT_EQ(queued->created_at, FromUnixMillis(1767225590000));
  EXPECT_EQ(queued->url, jenkins_.url() + "/queue/item/913/");
  const RunRecord* queued_branch = FindRun(poll.active, "mb", "feature/login", "queue-914");
  ASSERT_NE(queued_branch, nullptr);
  EXPECT_EQ(queued_branch->created_at, FromUnixMillis(1767225595000));
  for (const auto& r : poll.active) EXPECT_TRUE(Validate(r).ok()) << r.run_id;

  // Only the needed fields are asked for, at most builds_per_job builds.
  const auto requests = jenkins_.requests();
  const std::string builds_prefix = "/jenkins/job/team/job/app/api/json?tree=builds[";
  const auto it = std::find_if(requests.begin(), requests.end(), [&](const std::string& r) {
    return r.rfind(builds_prefix, 0) == 0;
  });
  ASSERT_NE(it, requests.end()) << Joined(requests);
  EXPECT_NE(it->find("queueId"), std::string::npos) << *it;
  EXPECT_NE(it->find("queuingDurationMillis"), std::string::npos) << *it;
  EXPECT_NE(it->find("]{0,50}"), std::string::npos) << *it;
  EXPECT_EQ(jenkins_.Count("/jenkins/job/team/api/json?tree=jobs[name,url,_class]"), 1);
  EXPECT_EQ(jenkins_.Count("/jenkins/job/mb/job/feature%2Flogin/api/json?tree=builds["), 1);
  // Queue items only for builds without a queue time: 912, 909, 908.
  EXPECT_EQ(jenkins_.Count("/queue/item/"), 3) << Joined(requests);
  EXPECT_EQ(jenkins_.Count("/queue/item/911/"), 0);
  EXPECT_EQ(jenkins_.Count("/jenkins/queue/api/json?tree=items["), 1);
}

TEST_F(JenkinsSourceTest, SinceFiltersFinishedRunsButNotActiveOnes) {
  auto source = Make();
  const PollResult poll = PollOk(*source, FromUnixMillis(kT0 - 10 * 60'000));
  EXPECT_EQ(poll.finished.size(), 6u);  // four #3 builds, team/app #9 and #8
  EXPECT_EQ(FindRun(poll.finished, "team/app", "", "11"), nullptr);
  EXPECT_NE(FindRun(poll.finished, "team/app", "", "9"), nullptr);
  EXPECT_EQ(poll.active.size(), 3u);
}

TEST_F(JenkinsSourceTest, DepthBoundStopsTheWalk) {
  settings_.max_depth = 1;
  auto source = Make();
  PollResult poll = PollOk(*source, since_);
  EXPECT_EQ(Pipelines(poll.finished),
            (std::set<std::string>{"top job", "team/app", "mb@main", "mb@feature/login"}));
  EXPECT_EQ(jenkins_.Count("/jenkins/job/team/job/deep/"), 0);

  settings_.max_depth = 0;
  auto root_only = Make();
  const int team_requests = jenkins_.Count("/jenkins/job/team/");
  const int mb_requests = jenkins_.Count("/jenkins/job/mb/");
  poll = PollOk(*root_only, since_);
  EXPECT_EQ(Pipelines(poll.finished), (std::set<std::string>{"top job"}));
  EXPECT_TRUE(poll.active.empty());  // queued items of unwalked jobs are not reported
  EXPECT_EQ(jenkins_.Count("/jenkins/job/team/"), team_requests);
  EXPECT_EQ(jenkins_.Count("/jenkins/job/mb/"), mb_requests);
  EXPECT_TRUE(poll.partial_errors.empty());
}

TEST_F(JenkinsSourceTest, MaxJobsBoundsTheWalk) {
  settings_.max_jobs = 2;
  auto source = Make();
  const PollResult poll = PollOk(*source, since_);
  // Breadth first: the root's own jobs ("top job", "agent") come first.
  EXPECT_EQ(Pipelines(poll.finished), (std::set<std::string>{"top job"}));
  EXPECT_EQ(jenkins_.Count("/jenkins/job/mb/"), 0);
  EXPECT_EQ(jenkins_.Count("/jenkins/job/team/job/app/"), 0);
  EXPECT_TRUE(poll.partial_errors.empty());
}

TEST_F(JenkinsSourceTest, IncludeAndExcludeFilterFullJobPaths) {
  settings_.jobs.include = {"team/*", "mb/*"};
  settings_.jobs.exclude = {"team/deep/*", "mb/feature/*"};
  auto source = Make();
  const PollResult poll = PollOk(*source, since_);
  EXPECT_EQ(Pipelines(poll.finished), (std::set<std::string>{"team/app", "mb@main"}));
  EXPECT_EQ(jenkins_.Count("/jenkins/job/top job/"), 0);
  EXPECT_EQ(jenkins_.Count("/jenkins/job/team/job/deep/job/leaf/"), 0);
  EXPECT_EQ(jenkins_.Count("/jenkins/job/mb/job/feature"), 0);
  // The queued build of the excluded branch is not reported either.
  EXPECT_EQ(FindRun(poll.active, "mb", "feature/login", "queue-914"), nullptr);
  EXPECT_NE(FindRun(poll.active, "team/app", "", "queue-913"), nullptr);
}

TEST_F(JenkinsSourceTest, SendsBasicAuthOnEveryRequest) {
  settings_.user = "alice";
  settings_.token = "11a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7";
  auto source = Make();
  PollOk(*source, since_);
  const std::string expected = "Basic YWxpY2U6MTFhMmIzYzRkNWU2ZjdhOGI5YzBkMWUyZjNhNGI1YzZkNw==";
  for (const std::string path : {"/api/json", "/job/team/job/app/api/json", "/queue/api/json",
                                 "/queue/item/909/api/json"}) {
    const auto headers = jenkins_.LastHeaders(path);
    const auto it = headers.find("Authorization");
    ASSERT_NE(it, headers.end()) << path;
    EXPECT_EQ(it->second, expected) << path;
  }
}

TEST_F(JenkinsSourceTest, AnonymousSendsNoAuthorization) {
  auto source = Make();
  PollOk(*source, since_);
  const auto headers = jenkins_.LastHeaders("/api/json");
  EXPECT_FALSE(headers.empty());
  EXPECT_EQ(headers.find("Authorization"), headers.end());
}

TEST_F(JenkinsSourceTest, UnauthorizedRootFailsThePoll) {
  jenkins_.Serve("/api/json", R"({"message":"Unauthorized"})", 401);
  auto source = Make();
  auto result = source->Poll(since_);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(result.status().message().find("jenkins source ci"), std::string::npos)
      << result.status().message();
  EXPECT_EQ(jenkins_.Count("/api/json"), 1);  // 401 is not retried
}

TEST_F(JenkinsSourceTest, MalformedRootFailsThePoll) {
  jenkins_.Serve("/api/json", R"({"jobs": [{"name": "a", )");
  auto source = Make();
  auto result = source->Poll(since_);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), ErrorCode::kParse);
}

TEST_F(JenkinsSourceTest, UnreachableServerFailsThePoll) {
  settings_.url = "http://127.0.0.1:1/jenkins";
  auto source = std::make_unique<JenkinsSource>(common_, settings_, Deps());
  auto result = source->Poll(since_);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().code(), ErrorCode::kOk);
}

TEST_F(JenkinsSourceTest, ServerErrorOnOneJobIsPartial) {
  jenkins_.Serve("/job/top job/api/json", "<html>Oops</html>", 500);
  auto source = Make();
  const PollResult poll = PollOk(*source, since_);
  ASSERT_EQ(poll.partial_errors.size(), 1u) << Joined(poll.partial_errors);
  EXPECT_NE(poll.partial_errors[0].find("job top job"), std::string::npos)
      << poll.partial_errors[0];
  EXPECT_NE(poll.partial_errors[0].find("500"), std::string::npos) << poll.partial_errors[0];
  EXPECT_EQ(poll.finished.size(), 7u);
  EXPECT_EQ(FindRun(poll.finished, "top job", "", "3"), nullptr);
  EXPECT_NE(FindRun(poll.finished, "team/app", "", "11"), nullptr);
  EXPECT_EQ(jenkins_.Count("/jenkins/job/top job/api/json"), 2);  // retried once
}

TEST_F(JenkinsSourceTest, MalformedJsonForOneJobIsPartial) {
  const std::string app = ReadFixture("jenkins/edge_builds_app.json");
  jenkins_.Serve("/job/team/job/app/api/json", app.substr(0, app.size() / 2));
  auto source = Make();
  const PollResult poll = PollOk(*source, since_);
  ASSERT_EQ(poll.partial_errors.size(), 1u) << Joined(poll.partial_errors);
  EXPECT_NE(poll.partial_errors[0].find("parse_error"), std::string::npos)
      << poll.partial_errors[0];
  EXPECT_NE(poll.partial_errors[0].find("job team/app"), std::string::npos);
  EXPECT_EQ(Pipelines(poll.finished),
            (std::set<std::string>{"top job", "team/deep/leaf", "mb@main", "mb@feature/login"}));
  // The job is still known, so its queued item is.
  EXPECT_NE(FindRun(poll.active, "team/app", "", "queue-913"), nullptr);
}

TEST_F(JenkinsSourceTest, SlowJobTimesOutAsPartial) {
  common_.api.timeout = Millis(200);
  common_.api.max_attempts = 1;
  jenkins_.Serve("/job/team/job/deep/job/leaf/api/json",
                 ReadFixture("jenkins/edge_builds_simple.json"), 200, Millis(3000));
  auto source = Make();
  const auto start = std::chrono::steady_clock::now();
  const PollResult poll = PollOk(*source, since_);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(poll.partial_errors.size(), 1u) << Joined(poll.partial_errors);
  EXPECT_EQ(poll.partial_errors[0].rfind("timeout", 0), 0u) << poll.partial_errors[0];
  EXPECT_NE(poll.partial_errors[0].find("team/deep/leaf"), std::string::npos);
  EXPECT_EQ(poll.finished.size(), 7u);
  EXPECT_LT(elapsed, std::chrono::milliseconds(2000));
}

TEST_F(JenkinsSourceTest, FailingFolderIsPartial) {
  jenkins_.Serve("/job/team/api/json", "down", 503);
  auto source = Make();
  const PollResult poll = PollOk(*source, since_);
  ASSERT_EQ(poll.partial_errors.size(), 1u) << Joined(poll.partial_errors);
  EXPECT_NE(poll.partial_errors[0].find("folder team"), std::string::npos)
      << poll.partial_errors[0];
  EXPECT_EQ(Pipelines(poll.finished),
            (std::set<std::string>{"top job", "mb@main", "mb@feature/login"}));
}

TEST_F(JenkinsSourceTest, VanishedJobIsSkippedQuietly) {
  jenkins_.Serve("/job/top job/api/json", "gone", 404);
  auto source = Make();
  const PollResult poll = PollOk(*source, since_);
  EXPECT_TRUE(poll.partial_errors.empty()) << Joined(poll.partial_errors);
  EXPECT_EQ(poll.finished.size(), 7u);
}

TEST_F(JenkinsSourceTest, FailingQueueIsPartialAndBuildsStillCome) {
  jenkins_.Serve("/queue/api/json", "{\"items\": [", 200);
  auto source = Make();
  const PollResult poll = PollOk(*source, since_);
  ASSERT_EQ(poll.partial_errors.size(), 1u) << Joined(poll.partial_errors);
  EXPECT_NE(poll.partial_errors[0].find("queue"), std::string::npos);
  EXPECT_EQ(poll.finished.size(), 8u);
  ASSERT_EQ(poll.active.size(), 1u);
  EXPECT_EQ(poll.active[0].run_id, "12");
}

TEST_F(JenkinsSourceTest, QueueItemLookupsAreRemembered) {
  auto source = Make();
  PollOk(*source, since_);
  EXPECT_EQ(jenkins_.Count("/queue/item/"), 3);
  const PollResult second = PollOk(*source, since_);
  EXPECT_EQ(jenkins_.Count("/queue/item/"), 3);
  const RunRecord* b9 = FindRun(second.finished, "team/app", "", "9");
  ASSERT_NE(b9, nullptr);
  EXPECT_DOUBLE_EQ(b9->queue_seconds.value_or(-1), 15.0);
  EXPECT_FALSE(FindRun(second.finished, "team/app", "", "8")->queue_seconds.has_value());
}

TEST_F(JenkinsSourceTest, QueueItemsOfOldBuildsAreNotAskedFor) {
  clock_.Advance(std::chrono::hours(1));
  auto source = Make();
  const PollResult poll = PollOk(*source, since_);
  EXPECT_EQ(jenkins_.Count("/queue/item/"), 0);
  EXPECT_FALSE(FindRun(poll.finished, "team/app", "", "9")->queue_seconds.has_value());
}

TEST_F(JenkinsSourceTest, QueueItemsCanBeTurnedOff) {
  settings_.fetch_queue_items = false;
  auto source = Make();
  const PollResult poll = PollOk(*source, since_);
  EXPECT_EQ(jenkins_.Count("/queue/item/"), 0);
  EXPECT_FALSE(FindRun(poll.finished, "team/app", "", "9")->queue_seconds.has_value());
  EXPECT_FALSE(FindRun(poll.active, "team/app", "", "12")->queue_seconds.has_value());
  EXPECT_EQ(poll.active.size(), 3u);  // the global queue is still read
}

TEST_F(JenkinsSourceTest, BuildsPerJobAndFactoryFromConfig) {
  jenkins_.Start();
  ::setenv("CICD_TEST_JENKINS_SOURCE_TOKEN", "cfg-token-5e6f7a8b9c", 1);
  YamlMap y(LoadYaml("url: " + jenkins_.url() +
                         "\n"
                         "user: bob\n"
                         "token: ${CICD_TEST_JENKINS_SOURCE_TOKEN}\n"
                         "jobs: {include: ['team/*']}\n"
                         "max_depth: 3\n"
                         "builds_per_job: 5\n",
                     "test.yml"),
            "sources[0]");
  SourceFactory factory = ParseJenkinsConfig(y, common_);
  y.Finish();
  auto source = factory(common_, Deps());
  ASSERT_NE(source, nullptr);
  auto result = source->Poll(since_);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(Pipelines(result->finished), (std::set<std::string>{"team/app", "team/deep/leaf"}));
  EXPECT_EQ(jenkins_.Count("]{0,5}"), 2);
  const auto headers = jenkins_.LastHeaders("/api/json");
  const auto it = headers.find("Authorization");
  ASSERT_NE(it, headers.end());
  EXPECT_EQ(it->second, BasicAuthHeader("bob", "cfg-token-5e6f7a8b9c"));
}

TEST_F(JenkinsSourceTest, TokenNeverReachesLogsOrErrors) {
  const std::string token = "tok-VERY-secret-0xC0FFEE-42";
  const std::string header = BasicAuthHeader("robot", token);
  const std::string encoded = header.substr(header.find(' ') + 1);
  settings_.user = "robot";
  settings_.token = token;
  // Failures of every kind, each of which logs or returns a message.
  jenkins_.Serve("/job/top job/api/json", "boom", 500);
  jenkins_.Serve("/job/team/job/deep/job/leaf/api/json", "{\"builds\": [");
  jenkins_.Serve("/queue/item/912/api/json", "nope", 503);

  std::mutex mu;
  std::vector<std::string> lines;
  const LogLevel old_level = Logging::Level();
  Logging::SetLevel(LogLevel::kDebug);
  Logging::SetSink([&](std::string_view line) {
    std::lock_guard lock(mu);
    lines.emplace_back(line);
  });
  std::vector<std::string> messages;
  {
    auto source = Make();
    auto first = source->Poll(since_);
    if (first.ok()) {
      messages = first->partial_errors;
    } else {
      messages.push_back(first.status().ToString());
    }
    jenkins_.Serve("/api/json", "denied", 401);
    clock_.Advance(settings_.discovery_interval);  // the root is listed again
    auto second = source->Poll(since_);
    EXPECT_FALSE(second.ok());
    messages.push_back(second.status().ToString());
  }
  Logging::SetSink(nullptr);
  Logging::SetLevel(old_level);

  EXPECT_GE(messages.size(), 3u) << Joined(messages);
  EXPECT_FALSE(lines.empty());  // debug logging did run
  for (const auto& m : messages) {
    EXPECT_EQ(m.find(token), std::string::npos) << m;
    EXPECT_EQ(m.find(encoded), std::string::npos) << m;
  }
  for (const auto& line : lines) {
    EXPECT_EQ(line.find(token), std::string::npos) << line;
    EXPECT_EQ(line.find(encoded), std::string::npos) << line;
    // Not even redacted: the secret never reached the logger.
    EXPECT_EQ(line.find("<redacted>"), std::string::npos) << line;
  }
  // The server did receive it.
  EXPECT_EQ(jenkins_.LastHeaders("/api/json").find("Authorization")->second, header);
}


// A job's build history as Jenkins serves it: `builds` lists the newest 100
// at most, `allBuilds` every build, and the tree query's {M,N} range selects
// entries [M, N) of that list, newest first. Each build is the recorded
// edge_builds_simple.json build with its number and times changed.
class BuildHistory {
 public:
  BuildHistory() {
    auto doc = json::Parse(ReadFixture("jenkins/edge_builds_simple.json"));
    EXPECT_TRUE(doc.ok());
    if (doc.ok()) template_ = doc->at("builds").as_array().at(0).as_object();
  }
  // Build `number` started at `start_ms`, 30 s long, finished unless `running`.
  void Add(std::int64_t number, std::int64_t start_ms, bool running = false) {
    std::lock_guard lock(mu_);
    boost::json::object b = template_;
    b["number"] = number;
    b["timestamp"] = start_ms;
    b["building"] = running;
    b["result"] = running ? boost::json::value(nullptr) : boost::json::value("SUCCESS");
    b["duration"] = running ? 0 : 30000;
    b["url"] = "http://jenkins.example:8080/jenkins/job/any/" + std::to_string(number) + "/";
    builds_.insert(builds_.begin(), std::move(b));  // newest first
  }
  void Finish(std::int64_t number) {
    std::lock_guard lock(mu_);
    for (auto& b : builds_) {
      if (b["number"].as_int64() != number) continue;
      b["building"] = false;
      b["result"] = "FAILURE";
      b["duration"] = 30000;
    }
  }
  std::string Serve(const httplib::Request& req) {
    const std::string tree = req.get_param_value("tree");
    const std::string list = tree.substr(0, tree.find('['));
    const auto open = tree.rfind('{');
    const auto comma = tree.find(',', open);
    const std::size_t from = std::stoul(tree.substr(open + 1, comma - open - 1));
    const std::size_t to = std::stoul(tree.substr(comma + 1));
    std::lock_guard lock(mu_);
    const std::size_t size =
        list == "builds" ? std::min<std::size_t>(builds_.size(), 100) : builds_.size();
    boost::json::array page;
    for (std::size_t i = from; i < std::min(to, size); ++i) page.push_back(builds_[i]);
    boost::json::object out{{"_class", "hudson.model.FreeStyleProject"}};
    out[list] = std::move(page);
    return boost::json::serialize(out);
  }

 private:
  std::mutex mu_;
  boost::json::object template_;
  std::vector<boost::json::object> builds_;
};

std::set<std::string> RunIds(const std::vector<RunRecord>& runs, const std::string& pipeline) {
  std::set<std::string> out;
  for (const auto& r : runs) {
    if (r.pipeline == pipeline) out.insert(r.run_id);
  }
  return out;
}

std::set<std::string> Numbers(int from, int to) {
  std::set<std::string> out;
  for (int n = from; n <= to; ++n) out.insert(std::to_string(n));
  return out;
}

constexpr char kJobListing[] = "tree=jobs[name,url,_class]";

TEST_F(JenkinsSourceTest, JobListIsCachedBetweenWalks) {
  settings_.discovery_interval = Millis(10 * 60'000);
  auto source = Make();
  PollOk(*source, since_);
  // root, team, team/deep, mb
  EXPECT_EQ(jenkins_.Count(kJobListing), 4);
  EXPECT_EQ(jenkins_.Count("/jenkins/job/team/job/app/api/json?tree=builds["), 1);

  clock_.Advance(std::chrono::minutes(9));
  const PollResult second = PollOk(*source, since_);
  EXPECT_EQ(jenkins_.Count(kJobListing), 4);  // the cached list was used
  EXPECT_EQ(jenkins_.Count("/jenkins/job/team/job/app/api/json?tree=builds["), 2);
  EXPECT_EQ(Pipelines(second.finished),
            (std::set<std::string>{"top job", "team/app", "team/deep/leaf", "mb@main",
                                   "mb@feature/login"}));
  EXPECT_NE(FindRun(second.active, "team/app", "", "queue-913"), nullptr);

  // A job created since is found once the interval has passed.
  jenkins_.Serve("/api/json", R"({"jobs":[{"_class":"hudson.model.FreeStyleProject",)"
                              R"("name":"new job","url":"http://j/job/new%20job/"},)"
                              R"({"_class":"com.cloudbees.hudson.plugins.folder.Folder",)"
                              R"("name":"team","url":"http://j/job/team/"}]})");
  jenkins_.ServeFixture("/job/new job/api/json", "edge_builds_simple.json");
  clock_.Advance(std::chrono::minutes(1));
  const PollResult third = PollOk(*source, since_);
  EXPECT_EQ(jenkins_.Count(kJobListing), 4 + 3);  // root, team, team/deep
  EXPECT_EQ(Pipelines(third.finished),
            (std::set<std::string>{"new job", "team/app", "team/deep/leaf"}));
}

TEST_F(JenkinsSourceTest, ZeroDiscoveryIntervalWalksEveryPoll) {
  settings_.discovery_interval = Millis(0);
  auto source = Make();
  PollOk(*source, since_);
  PollOk(*source, since_);
  EXPECT_EQ(jenkins_.Count(kJobListing), 8);
}

TEST_F(JenkinsSourceTest, VanishedJobMakesTheNextPollWalkAgain) {
  auto source = Make();
  PollOk(*source, since_);
  EXPECT_EQ(jenkins_.Count(kJobListing), 4);
  // "top job" is deleted: its builds answer 404 and the root no longer lists it.
  jenkins_.Serve("/job/top job/api/json", "gone", 404);
  auto root = json::Parse(ReadFixture("jenkins/edge_root.json"));
  ASSERT_TRUE(root.ok());
  auto& jobs = root->at("jobs").as_array();
  ASSERT_EQ(jobs.at(0).at("name").as_string(), "top job");
  jobs.erase(jobs.begin());
  jenkins_.Serve("/api/json", boost::json::serialize(*root));
  const PollResult second = PollOk(*source, since_);
  EXPECT_TRUE(second.partial_errors.empty()) << Joined(second.partial_errors);
  EXPECT_EQ(jenkins_.Count(kJobListing), 4);  // noticed during this poll
  PollOk(*source, since_);
  EXPECT_EQ(jenkins_.Count(kJobListing), 8);  // walked again at once
  EXPECT_EQ(jenkins_.Count("/jenkins/job/top job/"), 2);  // not asked again
  const PollResult fourth = PollOk(*source, since_);
  EXPECT_EQ(jenkins_.Count(kJobListing), 8);  // and cached again
  EXPECT_EQ(fourth.finished.size(), 7u);
}

TEST_F(JenkinsSourceTest, PartlyFailedWalkIsRetriedNextPoll) {
  jenkins_.Serve("/job/team/api/json", "down", 503);
  auto source = Make();
  const PollResult first = PollOk(*source, since_);
  ASSERT_EQ(first.partial_errors.size(), 1u) << Joined(first.partial_errors);
  jenkins_.ServeFixture("/job/team/api/json", "edge_folder_team.json");
  const PollResult second = PollOk(*source, since_);
  EXPECT_TRUE(second.partial_errors.empty()) << Joined(second.partial_errors);
  EXPECT_EQ(Pipelines(second.finished),
            (std::set<std::string>{"top job", "team/app", "team/deep/leaf", "mb@main",
                                   "mb@feature/login"}));
}

class JenkinsPagingTest : public JenkinsSourceTest {
 protected:
  JenkinsPagingTest() {
    jenkins_.Serve("/api/json", R"({"jobs":[{"_class":"hudson.model.FreeStyleProject",)"
                                R"("name":"busy","url":"http://j/job/busy/"}]})");
    jenkins_.ServeWith("/job/busy/api/json",
                       [this](const httplib::Request& req) { return history_.Serve(req); });
    jenkins_.Serve("/queue/api/json", R"({"items":[]})");
    settings_.builds_per_job = 5;
    settings_.fetch_queue_items = false;
  }
  // Build n starts n minutes after kT0 - 3 h.
  static std::int64_t Start(int n) { return kT0 - 3 * 3'600'000 + n * 60'000; }
  void AddFinished(int from, int to) {
    for (int n = from; n <= to; ++n) history_.Add(n, Start(n));
  }
  int BuildRequests() const { return jenkins_.Count("/jenkins/job/busy/api/json?tree="); }

  BuildHistory history_;
};

TEST_F(JenkinsPagingTest, MoreBuildsThanOnePageBetweenPollsAreAllRead) {
  AddFinished(1, 3);
  auto source = Make();
  const TimePoint since = FromUnixMillis(Start(0));
  PollResult poll = PollOk(*source, since);
  EXPECT_EQ(RunIds(poll.finished, "busy"), Numbers(1, 3));
  EXPECT_EQ(BuildRequests(), 1);  // a short page: nothing older exists

  // 12 builds (more than two pages of 5) finish before the next poll.
  AddFinished(4, 15);
  clock_.Advance(std::chrono::minutes(1));
  poll = PollOk(*source, since);
  EXPECT_TRUE(poll.partial_errors.empty()) << Joined(poll.partial_errors);
  EXPECT_EQ(RunIds(poll.finished, "busy"), Numbers(1, 15));  // none lost
  const auto requests = jenkins_.requests();
  ASSERT_EQ(BuildRequests(), 4) << Joined(requests);
  // The newest page from `builds`, the older ones from `allBuilds`, and no
  // further back than the newest build of the previous poll (#3, on page 3).
  EXPECT_EQ(jenkins_.Count("tree=builds[number,"), 2);
  EXPECT_EQ(jenkins_.Count("]{0,5}"), 2);
  EXPECT_EQ(jenkins_.Count("tree=allBuilds[number,"), 2);
  EXPECT_EQ(jenkins_.Count("]{5,10}"), 1);
  EXPECT_EQ(jenkins_.Count("]{10,15}"), 1);
  for (const auto& r : poll.finished) EXPECT_TRUE(Validate(r).ok()) << r.run_id;

  // Fewer new builds than a page: one request again.
  AddFinished(16, 17);
  poll = PollOk(*source, since);
  EXPECT_EQ(BuildRequests(), 5);
  EXPECT_EQ(RunIds(poll.finished, "busy"), Numbers(13, 17));
}

TEST_F(JenkinsPagingTest, PagesBackToABuildThatWasRunning) {
  AddFinished(1, 2);
  history_.Add(3, Start(3), /*running=*/true);
  auto source = Make();
  const TimePoint since = FromUnixMillis(Start(0));
  PollResult poll = PollOk(*source, since);
  EXPECT_EQ(RunIds(poll.active, "busy"), (std::set<std::string>{"3"}));

  // #3 finishes after 9 newer builds did.
  AddFinished(4, 12);
  history_.Finish(3);
  poll = PollOk(*source, since);
  EXPECT_EQ(RunIds(poll.finished, "busy"), Numbers(3, 12));
  EXPECT_TRUE(poll.active.empty());
  const RunRecord* three = FindRun(poll.finished, "busy", "", "3");
  ASSERT_NE(three, nullptr);
  EXPECT_EQ(three->result, "failure");
  EXPECT_EQ(BuildRequests(), 1 + 2);  // {0,5} #12-#8, {5,10} #7-#3
}

TEST_F(JenkinsPagingTest, FirstPollPagesBackToSince) {
  AddFinished(1, 40);
  auto source = Make();
  // Builds from #21 on finished after `since`.
  const TimePoint since = FromUnixMillis(Start(21));
  const PollResult poll = PollOk(*source, since);
  EXPECT_EQ(RunIds(poll.finished, "busy"), Numbers(21, 40));
  // #40-#36, #35-#31, #30-#26, #25-#21, then #20-#16 holds a build finished
  // before `since`: five pages, not the eight of the whole history.
  EXPECT_EQ(BuildRequests(), 5);
}

TEST_F(JenkinsPagingTest, MaxBuildPagesBoundsThePaging) {
  settings_.max_build_pages = 2;
  AddFinished(1, 1);
  auto source = Make();
  const TimePoint since = FromUnixMillis(Start(0));
  PollOk(*source, since);
  AddFinished(2, 30);
  const PollResult poll = PollOk(*source, since);
  EXPECT_EQ(RunIds(poll.finished, "busy"), Numbers(21, 30));
  EXPECT_EQ(BuildRequests(), 1 + 2);
  EXPECT_TRUE(poll.partial_errors.empty());
}

TEST_F(JenkinsPagingTest, BuildsListBeyondAHundredContinuesInAllBuilds) {
  settings_.builds_per_job = 150;  // Jenkins's `builds` stops at 100
  AddFinished(1, 1);
  auto source = Make();
  const TimePoint since = FromUnixMillis(Start(0));
  PollOk(*source, since);
  AddFinished(2, 160);
  const PollResult poll = PollOk(*source, since);
  EXPECT_EQ(RunIds(poll.finished, "busy"), Numbers(1, 160));
  EXPECT_EQ(jenkins_.Count("]{0,150}"), 2);
  EXPECT_EQ(jenkins_.Count("tree=allBuilds[number,"), 1);
  EXPECT_EQ(jenkins_.Count("]{100,250}"), 1);
}

TEST_F(JenkinsPagingTest, FailedPageKeepsTheCursorForTheNextPoll) {
  AddFinished(1, 2);
  auto source = Make();
  const TimePoint since = FromUnixMillis(Start(0));
  PollOk(*source, since);
  AddFinished(3, 14);
  jenkins_.Serve("/job/busy/api/json", "<html>down</html>", 500);
  const PollResult failed = PollOk(*source, since);
  ASSERT_EQ(failed.partial_errors.size(), 1u);
  jenkins_.ServeWith("/job/busy/api/json",
                     [this](const httplib::Request& req) { return history_.Serve(req); });
  const PollResult poll = PollOk(*source, since);
  EXPECT_EQ(RunIds(poll.finished, "busy"), Numbers(1, 14));
}

}  // namespace
}  // namespace cicd::exporter
