// Component tests of the Buildkite source (STYLE.md level 2): a local
// cpp-httplib server plays recorded payloads to a real HttplibFetcher and
// ApiClient; the exporter keeps its last good data through the fault matrix.
// Nothing really waits in the source tests: the sleeper advances a fake clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <map>
#include <mutex>
#include <thread>

#include "cicd/core/json.h"
#include "cicd/core/log.h"
#include "cicd/exporter/app.h"
#include "cicd/exporter/sources/buildkite.h"
#include "support/fault_matrix.h"
#include "support/fixtures.h"
#include "support/test_server.h"

namespace cicd::exporter {
namespace {

using cicd::testing::ReadFixture;
using cicd::testing::TestServer;

constexpr char kToken[] = "bkua_componentTestToken0123456789abcdef";
constexpr char kBuildsPath[] = "/organizations/acme/builds";

TimePoint T(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

// A one-build fixture as a listing page.
std::string AsPage(const std::string& fixture) { return "[" + ReadFixture(fixture) + "]"; }

class BuildkiteSourceTest : public ::testing::Test {
 protected:
  BuildkiteSourceTest() : clock_(T("2025-02-04T13:00:00Z")) {
    common_.name = "bk";
    common_.type = "buildkite";
    common_.api.timeout = Millis(2'000);
    common_.api.max_attempts = 3;
    common_.api.initial_backoff = Millis(10);
    common_.api.max_backoff = Millis(40);
    settings_.token = kToken;
    settings_.organization = "acme";
  }

  void StartServer() {
    server_.Start();
    settings_.api_url = server_.base_url();
  }

  std::unique_ptr<BuildkiteSource> MakeSource() {
    fetcher_ = std::make_unique<HttplibFetcher>(common_.api.http);
    SourceDeps deps;
    deps.fetcher = fetcher_.get();
    deps.clock = &clock_;
    deps.sleep = [this](Millis d) {
      std::lock_guard lock(waits_mu_);
      waits_.push_back(d);
      clock_.Advance(d);
      return true;
    };
    return std::make_unique<BuildkiteSource>(common_, settings_, deps);
  }

  std::vector<Millis> waits() {
    std::lock_guard lock(waits_mu_);
    return waits_;
  }

  // Both listings answer `body`.
  void ServeBuilds(const std::string& body) {
    server_.server().Get(kBuildsPath, [body](const httplib::Request&, httplib::Response& res) {
      res.set_content(body, "application/json");
    });
  }

  TestServer server_;
  FakeClock clock_;
  SourceCommon common_;
  BuildkiteSettings settings_;
  std::unique_ptr<HttplibFetcher> fetcher_;
  std::mutex waits_mu_;
  std::vector<Millis> waits_;
};

const TimePoint kSince = T("2024-05-01T00:00:00Z");

std::map<std::string, RunRecord> ByNumber(const std::vector<RunRecord>& runs) {
  std::map<std::string, RunRecord> out;
  for (const auto& r : runs) out[std::to_string(r.number.value_or(-1))] = r;
  return out;
}

TEST_F(BuildkiteSourceTest, PaginatesBothListingsByLinkHeader) {
  const std::string finished_pages[] = {
      AsPage("buildkite/monorobot_get_build_181734_mixed_job_types.json"),
      // docs (finished 2015, before `since`) and the real buildkite-cli build
      ReadFixture("buildkite/docs_list_builds_pipeline.json").substr(
          0, ReadFixture("buildkite/docs_list_builds_pipeline.json").rfind(']')) +
          "," + ReadFixture("buildkite/cli_list_builds_pipeline_redacted.json").substr(1),
      ReadFixture("buildkite/edge_builds_mixed.json")};
  const std::string edge = ReadFixture("buildkite/edge_builds_mixed.json");
  server_.server().Get(kBuildsPath, [&](const httplib::Request& req, httplib::Response& res) {
    res.set_header("RateLimit-Remaining", "180");
    res.set_header("RateLimit-Limit", "200");
    res.set_header("RateLimit-Reset", "42");
    if (!req.has_param("finished_from")) {
      res.set_content(edge, "application/json");
      return;
    }
    const int page = req.has_param("page") ? std::stoi(req.get_param_value("page")) : 1;
    if (page < 3) {
      // Buildkite's links repeat the query, percent-encoded.
      res.set_header("Link", "<" + server_.base_url() + kBuildsPath +
                                 "?finished_from=2024-05-01T00%3A00%3A00Z&page=" +
                                 std::to_string(page + 1) + "&per_page=100>; rel=\"next\"");
    }
    res.set_content(finished_pages[page - 1], "application/json");
  });
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_TRUE(poll->partial_errors.empty());

  auto requests = server_.requests();
  std::sort(requests.begin(), requests.end());
  const std::string finished = std::string(kBuildsPath) + "?finished_from=2024-05-01T00:00:00Z";
  EXPECT_EQ(requests,
            (std::vector<std::string>{
                std::string(kBuildsPath) +
                    "?created_from=2024-04-30T00:00:00Z&per_page=100&state[]=scheduled"
                    "&state[]=running&state[]=failing&state[]=canceling",
                finished + "&page=2&per_page=100", finished + "&page=3&per_page=100",
                finished + "&per_page=100"}));

  const auto done = ByNumber(poll->finished);
  // 181734, the cli build 584 and the edge page's 6 finished builds; the
  // docs build finished in 2015 and 5 edge builds are malformed.
  EXPECT_EQ(done.size(), 8u);
  ASSERT_TRUE(done.count("181734"));
  EXPECT_EQ(done.at("181734").pipeline, "acme/pipeline2");
  EXPECT_DOUBLE_EQ(*done.at("181734").queue_seconds, 1.83);
  EXPECT_TRUE(done.count("584"));
  EXPECT_FALSE(done.count("1"));
  for (const char* n : {"101", "102", "103", "104", "105", "110"}) EXPECT_TRUE(done.count(n)) << n;
  const auto active = ByNumber(poll->active);
  EXPECT_EQ(active.size(), 4u);
  for (const char* n : {"106", "107", "108", "109"}) EXPECT_TRUE(active.count(n)) << n;
  EXPECT_EQ(active.at("108").status, RunStatus::kQueued);
  for (const auto& r : poll->finished) EXPECT_TRUE(Validate(r).ok()) << r.run_id;
  for (const auto& r : poll->active) EXPECT_TRUE(Validate(r).ok()) << r.run_id;
}

TEST_F(BuildkiteSourceTest, SendsBearerTokenAndAcceptsJson) {
  ServeBuilds("[]");
  StartServer();
  ASSERT_TRUE(MakeSource()->Poll(kSince).ok());
  const auto h = server_.last_headers(kBuildsPath);
  ASSERT_TRUE(h.count("Authorization"));
  EXPECT_EQ(h.find("Authorization")->second, std::string("Bearer ") + kToken);
  EXPECT_EQ(h.find("Accept")->second, "application/json");
}

TEST_F(BuildkiteSourceTest, PipelineFilterOnTheSlug) {
  settings_.pipelines.include = {"app", "deploy*"};
  settings_.pipelines.exclude = {"deploy"};
  ServeBuilds(ReadFixture("buildkite/edge_builds_mixed.json"));
  StartServer();
  auto poll = MakeSource()->Poll(T("2025-02-04T00:00:00Z"));
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  for (const auto& r : poll->finished) EXPECT_EQ(r.pipeline, "acme/app");
  EXPECT_EQ(poll->finished.size(), 5u);  // 104 is in "deploy"
}

TEST_F(BuildkiteSourceTest, BasePathAndFinishedFilter) {
  server_.server().Get(std::string("/v2") + kBuildsPath,
                       [](const httplib::Request&, httplib::Response& res) {
                         res.set_content(ReadFixture("buildkite/edge_builds_mixed.json"),
                                         "application/json");
                       });
  server_.Start();
  settings_.api_url = server_.base_url() + "/v2/";
  // A server that ignores finished_from must not make old builds new: 103
  // and 105 finished at 12:00:01 and 12:00:00, 110 at 12:00:10.
  auto poll = MakeSource()->Poll(T("2025-02-04T12:00:30Z"));
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  const auto done = ByNumber(poll->finished);
  EXPECT_EQ(done.size(), 3u);
  EXPECT_TRUE(done.count("101") && done.count("102") && done.count("104"));
}

TEST_F(BuildkiteSourceTest, NeverSendsTheTokenToAnotherHost) {
  server_.server().Get(kBuildsPath, [](const httplib::Request&, httplib::Response& res) {
    res.set_header("Link", "<https://evil.example.com/steal>; rel=\"next\"");
    res.set_content("[]", "application/json");
  });
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_FALSE(poll.ok());
  EXPECT_NE(poll.status().message().find("not followed"), std::string::npos);
  EXPECT_EQ(server_.request_count(), 1u);
}

TEST_F(BuildkiteSourceTest, MaxPagesCutsTheListing) {
  settings_.max_pages = 2;
  server_.server().Get(kBuildsPath, [&](const httplib::Request& req, httplib::Response& res) {
    const int page = req.has_param("page") ? std::stoi(req.get_param_value("page")) : 1;
    res.set_header("Link", "<" + server_.base_url() + kBuildsPath +
                               "?page=" + std::to_string(page + 1) + ">; rel=\"next\"");
    res.set_content(AsPage("buildkite/monorobot_get_build_181734_mixed_job_types.json"),
                    "application/json");
  });
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_EQ(server_.request_count(), 4u);  // two pages of each listing
  EXPECT_EQ(poll->finished.size(), 1u);    // the same build on both pages, once
}

TEST_F(BuildkiteSourceTest, UnauthorizedFailsAtOnce) {
  server_.server().Get(kBuildsPath, [](const httplib::Request&, httplib::Response& res) {
    res.status = 401;
    res.set_content(R"({"message":"Authentication required"})", "application/json");
  });
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_FALSE(poll.ok());
  EXPECT_EQ(poll.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(poll.status().message().find("acme finished builds"), std::string::npos);
  EXPECT_EQ(server_.request_count(), 1u);
  EXPECT_TRUE(waits().empty());
}

TEST_F(BuildkiteSourceTest, RateLimitResetInSecondsIsWaitedFor) {
  std::atomic<int> calls{0};
  server_.server().Get(kBuildsPath, [&](const httplib::Request&, httplib::Response& res) {
    if (calls++ == 0) {
      res.status = 429;
      res.set_header("RateLimit-Remaining", "0");
      res.set_header("RateLimit-Limit", "200");
      res.set_header("RateLimit-Reset", "42");
      return;
    }
    res.set_header("RateLimit-Remaining", "199");
    res.set_content("[]", "application/json");
  });
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_EQ(waits(), std::vector<Millis>{Millis(42'000)});
  EXPECT_EQ(calls.load(), 3);  // the retried finished listing and the active one
}

TEST_F(BuildkiteSourceTest, RetryAfterIsHonoured) {
  std::atomic<int> calls{0};
  server_.server().Get(kBuildsPath, [&](const httplib::Request&, httplib::Response& res) {
    if (calls++ == 0) {
      res.status = 429;
      res.set_header("Retry-After", "7");
      return;
    }
    res.set_content("[]", "application/json");
  });
  StartServer();
  ASSERT_TRUE(MakeSource()->Poll(kSince).ok());
  EXPECT_EQ(waits(), std::vector<Millis>{Millis(7'000)});
}

TEST_F(BuildkiteSourceTest, ForbiddenIsAPermissionError) {
  server_.server().Get(kBuildsPath, [](const httplib::Request&, httplib::Response& res) {
    res.status = 403;
    res.set_content(R"({"message":"Forbidden"})", "application/json");
  });
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_FALSE(poll.ok());
  EXPECT_EQ(poll.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(poll.status().message().find("permissions"), std::string::npos);
}

TEST_F(BuildkiteSourceTest, ServerErrorsAreRetriedThenReported) {
  std::atomic<int> failures{2};
  server_.server().Get(kBuildsPath, [&](const httplib::Request&, httplib::Response& res) {
    if (failures-- > 0) {
      res.status = 502;
      return;
    }
    res.set_content("[]", "application/json");
  });
  StartServer();
  auto source = MakeSource();
  ASSERT_TRUE(source->Poll(kSince).ok());
  EXPECT_EQ(waits().size(), 2u);
  failures = 100;
  auto failed = source->Poll(kSince);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(failed.status().message().find("HTTP 502"), std::string::npos);
}

TEST_F(BuildkiteSourceTest, MalformedAndTruncatedJsonAreParseErrors) {
  const std::string full = ReadFixture("buildkite/edge_builds_mixed.json");
  for (const std::string& body : {std::string("[{\"id\": \"x\","), full.substr(0, full.size() / 2),
                                  std::string("<html>oops"), std::string("{\"builds\":[]}")}) {
    TestServer server;
    server.server().Get(kBuildsPath, [body](const httplib::Request&, httplib::Response& res) {
      res.set_content(body, "application/json");
    });
    server.Start();
    settings_.api_url = server.base_url();
    auto poll = MakeSource()->Poll(kSince);
    ASSERT_FALSE(poll.ok());
    EXPECT_EQ(poll.status().code(), ErrorCode::kParse) << poll.status().ToString();
    EXPECT_NE(poll.status().message().find("GET " + server.base_url() + kBuildsPath +
                                           " (finished builds) page 1"),
              std::string::npos)
        << poll.status().message();
    EXPECT_EQ(server.request_count(), 1u);  // a bad payload is not retried
  }
}

TEST_F(BuildkiteSourceTest, SlowResponseTimesOut) {
  common_.api.timeout = Millis(200);
  common_.api.max_attempts = 2;
  server_.server().Get(kBuildsPath, [](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    res.set_content("[]", "application/json");
  });
  StartServer();
  auto poll = MakeSource()->Poll(kSince);
  ASSERT_FALSE(poll.ok());
  EXPECT_EQ(poll.status().code(), ErrorCode::kTimeout) << poll.status().ToString();
}

std::string ManyBuilds(int n) {
  std::string out = "[";
  for (int i = 0; i < n; ++i) {
    if (i) out += ',';
    out += R"({"id":"b-)" + std::to_string(i) + R"(","number":)" + std::to_string(i) +
           R"(,"state":")" + (i % 2 ? "passed" : "running") +
           R"(","branch":"main","source":"webhook","pipeline":{"slug":"app"},)"
           R"("created_at":"2025-02-04T10:00:00Z","started_at":"2025-02-04T10:00:02Z",)"
           R"("finished_at":)" +
           (i % 2 ? "\"2025-02-04T10:05:00Z\"" : "null") +
           R"(,"jobs":[{"type":"waiter"},{"type":"script","runnable_at":"2025-02-04T10:00:01Z",)"
           R"("started_at":"2025-02-04T10:00:02Z"}]})";
  }
  return out + "]";
}

TEST_F(BuildkiteSourceTest, VeryLargePageParses) {
  ServeBuilds(ManyBuilds(5'000));
  StartServer();
  auto poll = MakeSource()->Poll(T("2025-02-04T00:00:00Z"));
  ASSERT_TRUE(poll.ok()) << poll.status().ToString();
  EXPECT_EQ(poll->finished.size(), 2'500u);
  EXPECT_EQ(poll->active.size(), 2'500u);
  EXPECT_EQ(poll->finished[0].queue_seconds, 1.0);
}

TEST_F(BuildkiteSourceTest, TokenNeverReachesLogsOrErrors) {
  std::mutex mu;
  std::vector<std::string> lines;
  const LogLevel level = Logging::Level();
  Logging::SetLevel(LogLevel::kDebug);
  Logging::SetSink([&](std::string_view line) {
    std::lock_guard lock(mu);
    lines.emplace_back(line);
  });
  std::atomic<int> mode{0};
  server_.server().Get(kBuildsPath, [&](const httplib::Request& req, httplib::Response& res) {
    // A careless server echoing the credentials back in its bodies.
    const std::string echo = "{\"message\":\"" + req.get_header_value("Authorization") + "\"}";
    const int statuses[] = {401, 403, 500, 200, 429};
    res.status = statuses[std::min(mode.load(), 4)];
    if (mode == 4) res.set_header("Retry-After", "1");
    res.set_content(mode == 3 ? "not json " + echo : echo, "application/json");
    if (mode >= 5) {
      res.status = 200;
      res.set_content(ReadFixture("buildkite/edge_builds_mixed.json"), "application/json");
    }
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
    EXPECT_EQ(line.find("<redacted>"), std::string::npos) << line;
  }
}

// The whole exporter over a Buildkite organisation that turns faulty and
// back: the last good data stays, the self-metrics say what happened.
std::string RecentBuilds() {
  const TimePoint now = std::chrono::system_clock::now();
  std::string out = "[";
  for (int i = 0; i < 3; ++i) {
    const TimePoint created = now - std::chrono::minutes(30 - i * 5);
    if (i) out += ",";
    out += R"({"id":"bk-)" + std::to_string(i) + R"(","number":)" + std::to_string(10 + i) +
           R"(,"state":")" + (i == 1 ? "failed" : "passed") +
           R"(","branch":"main","source":"webhook","web_url":"https://buildkite.com/acme/app/builds/1",)"
           R"("pipeline":{"slug":"app"},"created_at":")" + FormatRfc3339(created) +
           R"(","started_at":")" + FormatRfc3339(created + std::chrono::seconds(5)) +
           R"(","finished_at":")" + FormatRfc3339(created + std::chrono::minutes(3)) +
           R"(","jobs":[]})";
  }
  return out + "]";
}

TEST(BuildkiteExporterFaults, LastGoodDataSurvivesEveryFault) {
  std::mutex mu;
  std::string mode = "ok";
  std::vector<std::string> logs;
  Logging::SetLevel(LogLevel::kDebug);
  Logging::SetSink([&](std::string_view l) {
    std::lock_guard lock(mu);
    logs.emplace_back(l);
  });
  TestServer server;
  server.server().Get(kBuildsPath, [&](const httplib::Request& req, httplib::Response& res) {
    std::string m;
    {
      std::lock_guard lock(mu);
      m = mode;
    }
    cicd::testing::ServeFault(m, req.has_param("finished_from") ? RecentBuilds() : "[]", res);
  });
  server.Start();
  const ExporterConfig config = ParseExporterConfig(
      "state_file: ''\n"
      "sources:\n"
      "  - type: buildkite\n"
      "    url: " + server.base_url() + "\n"
      "    token: " + kToken + "\n"
      "    organization: acme\n"
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
      err = s.at("buildkite").last_error;
    });
    EXPECT_EQ(err.find(kToken), std::string::npos) << err;
    return err;
  };
  using cicd::testing::MetricValue;
  const std::string success =
      "cicd_pipeline_runs_total{source=\"buildkite\",pipeline=\"acme/app\",branch=\"main\","
      "result=\"success\"}";
  auto requests = [](const std::string& m, const std::string& code) {
    const std::string v = MetricValue(
        m, "cicd_exporter_api_requests_total{code=\"" + code + "\",source=\"buildkite\"}");
    return v.empty() ? 0 : std::stoi(v);
  };

  exporter->PollAllOnce();
  std::string m = scrape();
  ASSERT_EQ(MetricValue(m, success), "2") << m;
  EXPECT_EQ(MetricValue(m, "cicd_exporter_source_up{source=\"buildkite\"}"), "1");
  EXPECT_EQ(requests(m, "200"), 2);  // finished and active listings
  const std::string last_success =
      MetricValue(m, "cicd_exporter_source_last_success_timestamp_seconds{source=\"buildkite\"}");
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
    EXPECT_EQ(MetricValue(m, success), "2");  // never blanked, never doubled
    EXPECT_EQ(MetricValue(m, "cicd_exporter_source_up{source=\"buildkite\"}"), "0");
    EXPECT_EQ(MetricValue(m, "cicd_exporter_poll_failures_total{source=\"buildkite\"}"),
              std::to_string(++failures));
    EXPECT_EQ(requests(m, f.code), before + f.requests);
    EXPECT_EQ(
        MetricValue(m, "cicd_exporter_source_last_success_timestamp_seconds{source=\"buildkite\"}"),
        last_success);
    EXPECT_NE(last_error().find(f.error_part), std::string::npos) << last_error();
  }
  {
    std::lock_guard lock(mu);
    mode = "ok";
  }
  exporter->PollAllOnce();
  m = scrape();
  EXPECT_EQ(MetricValue(m, "cicd_exporter_source_up{source=\"buildkite\"}"), "1");
  EXPECT_EQ(MetricValue(m, success), "2");
  EXPECT_EQ(MetricValue(m, "cicd_exporter_runs_counted_total{source=\"buildkite\"}"), "3");
  exporter.reset();
  Logging::SetSink(nullptr);
  Logging::SetLevel(LogLevel::kInfo);
  std::lock_guard lock(mu);
  for (const auto& l : logs) EXPECT_EQ(l.find(kToken), std::string::npos) << l;
}

}  // namespace
}  // namespace cicd::exporter
