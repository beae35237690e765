// Unit tests of the pure GitHub Actions parsers against recorded payloads
// (tests/fixtures/github/, copied unchanged) and the project's edge cases
// (edge_*.json).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "cicd/core/json.h"
#include "cicd/exporter/sources/github.h"
#include "support/fixtures.h"

namespace cicd::exporter::github {
namespace {

using cicd::testing::ReadFixture;

TimePoint T(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

boost::json::value Json(const std::string& text) {
  auto v = json::Parse(text);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return v.ok() ? *v : boost::json::value();
}

// components.examples.<name>.value of the OpenAPI description.
boost::json::value Example(const std::string& name) {
  static const boost::json::value all = Json(ReadFixture("github/openapi_actions_examples.json"));
  const auto* ex = json::Find(all, name);
  EXPECT_NE(ex, nullptr) << name;
  const auto* v = ex ? json::Find(*ex, "value") : nullptr;
  return v ? *v : boost::json::value();
}

std::optional<double> Secs(std::optional<TimePoint> t) {
  if (!t) return std::nullopt;
  return ToUnixSeconds(*t);
}

TEST(GithubMapping, StatusCoversTheDocumentedValues) {
  for (const char* s : {"queued", "waiting", "requested", "pending"}) {
    EXPECT_EQ(MapStatus(s), RunStatus::kQueued) << s;
  }
  EXPECT_EQ(MapStatus("in_progress"), RunStatus::kRunning);
  EXPECT_EQ(MapStatus("completed"), RunStatus::kCompleted);
  EXPECT_EQ(MapStatus("Completed"), std::nullopt);
  EXPECT_EQ(MapStatus(""), std::nullopt);
}

TEST(GithubMapping, ConclusionToOpenTelemetryResult) {
  EXPECT_EQ(MapConclusion("success"), "success");
  EXPECT_EQ(MapConclusion("failure"), "failure");
  EXPECT_EQ(MapConclusion("cancelled"), "cancellation");
  EXPECT_EQ(MapConclusion("skipped"), "skip");
  EXPECT_EQ(MapConclusion("timed_out"), "timeout");
  for (const char* c : {"action_required", "neutral", "stale", "startup_failure", "new_value"}) {
    EXPECT_EQ(MapConclusion(c), "error") << c;
  }
}

TEST(GithubMapping, ConclusionEnumOfTheJobSchemaIsCovered) {
  // The job schema is the one place the spec lists conclusions; every one
  // must map into the run record vocabulary.
  const auto schemas = Json(cicd::testing::ReadFixture("github/openapi_actions_schemas.json"));
  const auto& conclusion = schemas.at("job").at("properties").at("conclusion");
  const auto& values = conclusion.at("enum").as_array();
  EXPECT_EQ(values.size(), 7u);
  for (const auto& v : values) {
    EXPECT_TRUE(IsRunResult(MapConclusion(v.as_string()))) << v;
  }
}

TEST(GithubMapping, StripRefAndRepositoryNames) {
  EXPECT_EQ(StripRef(".github/workflows/build.yml@main"), ".github/workflows/build.yml");
  EXPECT_EQ(StripRef(".github/workflows/ci.yml@refs/heads/a@b"), ".github/workflows/ci.yml");
  EXPECT_EQ(StripRef(".github/workflows/ci.yaml@v2"), ".github/workflows/ci.yaml");
  EXPECT_EQ(StripRef(".github/workflows/ci.yml"), ".github/workflows/ci.yml");
  EXPECT_EQ(StripRef("dynamic/pages@x"), "dynamic/pages");

  EXPECT_TRUE(IsRepositoryName("octo-org/octo-repo"));
  EXPECT_TRUE(IsRepositoryName("PyTables/PyTables"));
  EXPECT_TRUE(IsRepositoryName("a_b/c.d-e"));
  for (const char* bad :
       {"", "octo", "/repo", "owner/", "a/b/c", "a b/c", "o/..", "o/r?x", "o/r#1", "o/r%2F"}) {
    EXPECT_FALSE(IsRepositoryName(bad)) << bad;
  }
}

TEST(GithubParse, OpenApiWorkflowRunExample) {
  auto run = RunFromJson(Example("workflow-run"), "github", "octo-org/octo-repo");
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->source, "github");
  EXPECT_EQ(run->pipeline, "octo-org/octo-repo/.github/workflows/build.yml");
  EXPECT_EQ(run->branch, "main");
  EXPECT_EQ(run->run_id, "30433642");
  EXPECT_EQ(run->number, 562);
  EXPECT_EQ(run->attempt, 1);
  EXPECT_EQ(run->event, "push");
  EXPECT_EQ(run->status, RunStatus::kQueued);
  EXPECT_EQ(run->result, std::nullopt);  // conclusion null
  EXPECT_EQ(run->created_at, T("2020-01-22T19:33:08Z"));
  EXPECT_EQ(run->started_at, T("2020-01-22T19:33:08Z"));  // run_started_at
  EXPECT_EQ(run->finished_at, std::nullopt);
  EXPECT_EQ(run->duration_seconds, std::nullopt);
  EXPECT_EQ(run->tests_total, std::nullopt);  // GitHub reports no tests
  EXPECT_EQ(run->url, "https://github.com/octo-org/octo-repo/actions/runs/30433642");
  EXPECT_EQ(run->Key(), "30433642");
}

TEST(GithubParse, RepositoryFromThePayloadWhenNotGiven) {
  // The example's repository object is octocat/Hello-World although its URLs
  // say octo-org/octo-repo: the configured name wins when given.
  auto run = RunFromJson(Example("workflow-run"), "gh", "");
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->pipeline, "octocat/Hello-World/.github/workflows/build.yml");
}

TEST(GithubParse, OpenApiWorkflowRunPaginatedExample) {
  const std::string body = boost::json::serialize(Example("workflow-run-paginated"));
  auto page = ParseRunsPage(body, "github", "octo-org/octo-repo");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->total_count, 1);
  EXPECT_TRUE(page->errors.empty());
  ASSERT_EQ(page->runs.size(), 1u);
  const RunRecord& r = page->runs[0];
  EXPECT_EQ(r.run_id, "30433642");
  EXPECT_EQ(r.branch, "master");  // this example differs from workflow-run
  EXPECT_EQ(r.pipeline, "octo-org/octo-repo/.github/workflows/build.yml");
  EXPECT_EQ(r.status, RunStatus::kQueued);
  EXPECT_EQ(r.created_at, T("2020-01-22T19:33:08Z"));
}

TEST(GithubParse, OpenApiJobExample) {
  const boost::json::value example = Example("job");
  auto job = JobFromJson(example);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(job->id, 399444496);
  EXPECT_EQ(job->run_id, 29679449);
  EXPECT_EQ(job->run_attempt, std::nullopt);
  EXPECT_EQ(job->name, "build");
  EXPECT_EQ(job->status, "completed");
  EXPECT_EQ(job->conclusion, "success");
  EXPECT_EQ(job->created_at, std::nullopt);  // the example lacks created_at
  EXPECT_EQ(job->started_at, T("2020-01-20T17:42:40Z"));
  EXPECT_EQ(job->completed_at, T("2020-01-20T17:44:39Z"));
  // Its steps use -08:00 offsets for the same instants.
  const auto& steps = example.at("steps").as_array();
  EXPECT_EQ(T(steps.front().at("started_at").as_string().c_str()), *job->started_at);
  EXPECT_EQ(T(steps.back().at("completed_at").as_string().c_str()), *job->completed_at);
}

TEST(GithubParse, OpenApiJobPaginatedExample) {
  auto page = ParseJobsPage(boost::json::serialize(Example("job-paginated")));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->total_count, 1);
  ASSERT_EQ(page->jobs.size(), 1u);
  EXPECT_EQ(page->jobs[0].id, 399444496);
  EXPECT_EQ(page->jobs[0].started_at, T("2020-01-20T17:42:40Z"));
  EXPECT_EQ(page->jobs[0].completed_at, T("2020-01-20T17:44:39Z"));
}

struct DeliveryExpectation {
  std::int64_t id;
  std::string action;
  std::string pipeline;
  RunStatus status;
  std::optional<std::string> result;
  const char* created;
  const char* started;
  const char* finished;  // nullptr = none
  std::optional<double> queue;
  std::optional<double> duration;
  std::string event;
  std::string branch;
  std::int64_t number;
};

TEST(GithubParse, WebhookWorkflowRunDeliveries) {
  const auto deliveries = Json(ReadFixture("github/webhook_workflow_run_examples.json"));
  ASSERT_TRUE(deliveries.is_array());
  const std::string test_yml = "octo-org/octo-repo/.github/workflows/test.yml";
  const std::vector<DeliveryExpectation> want = {
      // 0: an old delivery: action "completed" but the run still queued, and
      // no workflow_run.path (taken from the delivery's workflow.path); the
      // delivery's repository differs from the run's.
      {1589141559, "completed", "octo-org/octo-repo/.github/workflows/syntax.yml",
       RunStatus::kQueued, std::nullopt, "2021-12-16T19:37:22Z", "2021-12-16T19:37:22Z", nullptr,
       0.0, std::nullopt, "workflow_dispatch", "main", 36},
      {289782451, "completed", test_yml, RunStatus::kCompleted, "success", "2020-10-05T16:33:24Z",
       "2020-10-05T16:33:49Z", "2020-10-05T16:33:49Z", 25.0, 0.0, "repository_dispatch", "master",
       163},
      {289782451, "completed", test_yml, RunStatus::kCompleted, "success", "2020-10-05T16:33:24Z",
       "2020-10-05T16:33:49Z", "2020-10-05T16:33:49Z", 25.0, 0.0, "repository_dispatch", "master",
       163},
      {289782451, "requested", test_yml, RunStatus::kQueued, std::nullopt, "2020-10-05T16:33:24Z",
       "2020-10-05T16:33:49Z", nullptr, 25.0, std::nullopt, "repository_dispatch", "master", 163},
      // 4: action_required; updated_at (16:33:24) precedes run_started_at, so
      // the finish is clamped to the start.
      {289782451, "requested", test_yml, RunStatus::kCompleted, "error", "2020-10-05T16:33:24Z",
       "2020-10-05T16:33:49Z", "2020-10-05T16:33:49Z", 25.0, 0.0, "repository_dispatch", "master",
       163},
  };
  ASSERT_EQ(deliveries.as_array().size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE("delivery " + std::to_string(i));
    const auto& d = deliveries.as_array()[i];
    const auto& w = want[i];
    EXPECT_EQ(d.at("action").as_string(), w.action);
    auto run = WorkflowRunEventFromJson(d, "github");
    ASSERT_TRUE(run.ok()) << run.status().ToString();
    EXPECT_EQ(run->run_id, std::to_string(w.id));
    EXPECT_EQ(run->pipeline, w.pipeline);
    EXPECT_EQ(run->status, w.status);
    EXPECT_EQ(run->result, w.result);
    EXPECT_EQ(run->created_at, T(w.created));
    EXPECT_EQ(run->started_at, T(w.started));
    EXPECT_EQ(Secs(run->finished_at), w.finished ? Secs(T(w.finished)) : std::nullopt);
    EXPECT_EQ(run->queue_seconds, w.queue);
    EXPECT_EQ(run->duration_seconds, w.duration);
    EXPECT_EQ(run->event, w.event);
    EXPECT_EQ(run->branch, w.branch);
    EXPECT_EQ(run->number, w.number);
    EXPECT_EQ(run->attempt, 1);
    EXPECT_TRUE(Validate(*run).ok());
    // The byte-level entry point agrees.
    auto again = ParseWorkflowRunEvent(boost::json::serialize(d), "github");
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(ToJsonLine(*again), ToJsonLine(*run));
  }
}

TEST(GithubParse, WebhookDeliveryWithNullFieldsDoesNotCrash) {
  auto d = Json(ReadFixture("github/webhook_workflow_run_examples.json")).as_array()[0];
  auto& run = d.as_object()["workflow_run"].as_object();
  run["created_at"] = nullptr;
  run["name"] = nullptr;
  run["head_branch"] = nullptr;
  run["run_attempt"] = nullptr;
  auto r = WorkflowRunEventFromJson(d, "github");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->created_at, std::nullopt);
  EXPECT_EQ(r->started_at, T("2021-12-16T19:37:22Z"));
  EXPECT_EQ(r->queue_seconds, std::nullopt);
  EXPECT_EQ(r->branch, "");
  EXPECT_EQ(r->attempt, std::nullopt);

  run["run_started_at"] = nullptr;  // queued with no time at all
  EXPECT_FALSE(WorkflowRunEventFromJson(d, "github").ok());
  d.as_object().erase("workflow_run");
  EXPECT_EQ(WorkflowRunEventFromJson(d, "github").status().code(), ErrorCode::kParse);
  EXPECT_FALSE(ParseWorkflowRunEvent("[1,2]", "github").ok());
  EXPECT_FALSE(ParseWorkflowRunEvent("", "github").ok());
}

TEST(GithubParse, WebhookWorkflowJobDeliveries) {
  const auto deliveries = Json(ReadFixture("github/webhook_workflow_job_examples.json"));
  ASSERT_EQ(deliveries.as_array().size(), 8u);
  struct Want {
    std::int64_t id, run_id;
    const char* status;
    std::optional<std::string> conclusion;
    const char* created;  // nullptr = absent
    const char* started;
    const char* completed;
  };
  const std::vector<Want> want = {
      {2832853555, 940463255, "in_progress", std::nullopt, nullptr, "2021-06-15T19:22:27Z",
       nullptr},
      {289782451, 2202229078, "completed", "failure", "2021-08-05T10:33:58Z",
       "2021-08-05T10:34:58Z", "2021-08-05T10:38:16Z"},
      {289782451, 2202229078, "completed", "success", "2021-08-05T10:33:58Z",
       "2021-08-05T10:34:58Z", "2021-08-05T10:38:16Z"},
      {289782451, 2202229078, "in_progress", std::nullopt, "2021-09-13T02:21:13Z",
       "2021-09-13T02:21:13Z", nullptr},
      {14541957942, 5373506832, "in_progress", std::nullopt, "2023-06-26T03:31:29Z",
       "2023-06-26T03:31:36Z", nullptr},
      {289782451, 2202229078, "queued", std::nullopt, "2021-09-13T02:21:13Z",
       "2021-09-13T02:21:13Z", nullptr},
      {12877621891, 4747967848, "waiting", std::nullopt, "2023-04-19T21:12:12Z",
       "2023-04-19T21:12:12Z", nullptr},
      {12877621891, 4747967848, "waiting", std::nullopt, "2023-04-19T21:12:12Z",
       "2023-04-19T21:12:12Z", nullptr},
  };
  for (std::size_t i = 0; i < want.size(); ++i) {
    SCOPED_TRACE("delivery " + std::to_string(i));
    auto job = JobFromJson(deliveries.as_array()[i].at("workflow_job"));
    ASSERT_TRUE(job.ok()) << job.status().ToString();
    EXPECT_EQ(job->id, want[i].id);
    EXPECT_EQ(job->run_id, want[i].run_id);
    EXPECT_EQ(job->status, want[i].status);
    EXPECT_TRUE(MapStatus(job->status).has_value());
    EXPECT_EQ(job->conclusion, want[i].conclusion);
    EXPECT_EQ(Secs(job->created_at), want[i].created ? Secs(T(want[i].created)) : std::nullopt);
    EXPECT_EQ(job->started_at, T(want[i].started));
    EXPECT_EQ(Secs(job->completed_at),
              want[i].completed ? Secs(T(want[i].completed)) : std::nullopt);
  }
}

TEST(GithubParse, EdgeRunsMixed) {
  auto page = ParseRunsPage(ReadFixture("github/edge_runs_mixed.json"), "gh", "octo-org/octo-repo");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->total_count, 19);
  ASSERT_EQ(page->runs.size(), 14u);
  ASSERT_EQ(page->errors.size(), 5u);
  EXPECT_EQ(page->errors[0], "workflow_runs[13]: workflow run without a numeric \"id\"");
  EXPECT_EQ(page->errors[1], "workflow_runs[14]: workflow run 9015: unknown status \"exploded\"");
  EXPECT_NE(page->errors[2].find("workflow_runs[15]: workflow run 9016: \"created_at\""),
            std::string::npos)
      << page->errors[2];
  EXPECT_NE(page->errors[3].find("workflow_runs[16]: workflow run 9017: missing required field "
                                 "\"result\""),
            std::string::npos)
      << page->errors[3];
  EXPECT_NE(page->errors[4].find("workflow_runs[17]: workflow run 9018: \"created_at\": not an "
                                 "RFC 3339 time"),
            std::string::npos)
      << page->errors[4];

  std::map<std::string, RunRecord> by_id;
  for (const auto& r : page->runs) {
    EXPECT_TRUE(Validate(r).ok()) << r.run_id;
    by_id[r.run_id] = r;
  }
  const std::string ci = "octo-org/octo-repo/.github/workflows/ci.yml";

  // A re-run: created_at is the first attempt's (three days earlier); the
  // attempt was created at run_started_at.
  const RunRecord& rerun = by_id["9001"];
  EXPECT_EQ(rerun.pipeline, ci);  // "@refs/heads/main" stripped
  EXPECT_EQ(rerun.attempt, 2);
  EXPECT_EQ(rerun.number, 42);
  EXPECT_EQ(rerun.Key(), "9001#2");
  EXPECT_EQ(rerun.created_at, T("2025-02-04T12:00:00Z"));
  EXPECT_EQ(rerun.started_at, T("2025-02-04T12:00:00Z"));
  EXPECT_EQ(rerun.finished_at, T("2025-02-04T12:10:00Z"));  // updated_at
  EXPECT_EQ(rerun.queue_seconds, std::nullopt);  // unknown until its jobs say
  EXPECT_EQ(rerun.duration_seconds, 600.0);
  EXPECT_EQ(rerun.result, "success");

  const RunRecord& failed = by_id["9002"];
  EXPECT_EQ(failed.branch, "");  // head_branch null
  EXPECT_EQ(failed.event, "pull_request");
  EXPECT_EQ(failed.result, "failure");
  EXPECT_EQ(failed.queue_seconds, 5.0);
  EXPECT_EQ(failed.duration_seconds, 1200.0);

  EXPECT_EQ(by_id["9003"].result, "cancellation");
  EXPECT_EQ(by_id["9004"].result, "skip");
  EXPECT_EQ(by_id["9005"].result, "timeout");
  EXPECT_EQ(by_id["9005"].duration_seconds, 6 * 3600.0);
  // startup_failure without run_started_at: the start falls back to created_at.
  EXPECT_EQ(by_id["9006"].result, "error");
  EXPECT_EQ(by_id["9006"].started_at, T("2025-02-04T11:04:00Z"));
  EXPECT_EQ(by_id["9006"].duration_seconds, 0.0);
  EXPECT_EQ(by_id["9007"].result, "error");
  EXPECT_EQ(by_id["9008"].result, "error");
  EXPECT_EQ(by_id["9009"].result, "error");
  EXPECT_EQ(by_id["9009"].finished_at, T("2025-02-04T11:07:30Z"));  // not before the start
  EXPECT_EQ(by_id["9009"].duration_seconds, 0.0);
  EXPECT_EQ(by_id["9009"].queue_seconds, 30.0);

  EXPECT_EQ(by_id["9010"].status, RunStatus::kRunning);
  EXPECT_EQ(by_id["9010"].finished_at, std::nullopt);
  EXPECT_EQ(by_id["9010"].result, std::nullopt);
  for (const char* id : {"9011", "9012", "9013"}) {
    EXPECT_EQ(by_id[id].status, RunStatus::kQueued) << id;
    EXPECT_EQ(by_id[id].finished_at, std::nullopt) << id;
  }
  EXPECT_EQ(by_id["9011"].pipeline, "octo-org/octo-repo/.github/workflows/deploy.yaml");
  EXPECT_EQ(by_id["9019"].pipeline, "octo-org/octo-repo/.github/workflows/deploy.yaml");
  EXPECT_EQ(by_id["9019"].event, "schedule");
}

TEST(GithubParse, EdgeJobsOfAReRun) {
  auto page = ParseJobsPage(ReadFixture("github/edge_jobs_rerun.json"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->jobs.size(), 5u);
  ASSERT_EQ(page->errors.size(), 1u);
  EXPECT_EQ(page->errors[0], "jobs[5]: job without a numeric \"id\"");
  EXPECT_EQ(page->jobs[3].created_at, std::nullopt);
  EXPECT_EQ(page->jobs[4].started_at, T("2025-02-04T12:02:00Z"));  // 04:02:00-08:00
  EXPECT_EQ(page->jobs[4].completed_at, T("2025-02-04T12:09:50Z"));

  auto runs = ParseRunsPage(ReadFixture("github/edge_runs_mixed.json"), "gh", "octo-org/octo-repo");
  ASSERT_TRUE(runs.ok());
  RunRecord run = runs->runs[0];
  ASSERT_EQ(run.run_id, "9001");

  // Job 7001 was carried over from attempt 1 (started days before this
  // attempt) and 7003 was skipped: neither says when this attempt's first
  // job got a runner.
  const JobTimes times = SummarizeJobs(page->jobs, run);
  EXPECT_EQ(times.first_started, T("2025-02-04T12:00:40Z"));
  EXPECT_EQ(times.last_completed, T("2025-02-04T12:09:50Z"));

  ApplyJobTimes(run, times);
  EXPECT_EQ(run.created_at, T("2025-02-04T12:00:00Z"));
  EXPECT_EQ(run.started_at, T("2025-02-04T12:00:00Z"));
  EXPECT_EQ(run.queue_seconds, 40.0);
  EXPECT_EQ(run.finished_at, T("2025-02-04T12:09:50Z"));  // not updated_at 12:10:00
  EXPECT_EQ(run.duration_seconds, 590.0);
  EXPECT_TRUE(Validate(run).ok());
}

TEST(GithubParse, JobTimesNeverMakeNegativeQueueOrDuration) {
  RunRecord run;
  run.source = "gh";
  run.pipeline = "o/r/.github/workflows/ci.yml";
  run.run_id = "1";
  run.attempt = 1;
  run.status = RunStatus::kCompleted;
  run.result = "success";
  run.created_at = T("2025-02-04T12:00:10Z");
  run.started_at = T("2025-02-04T12:00:10Z");
  run.finished_at = T("2025-02-04T12:05:00Z");
  Job early;  // clock skew: the job claims to start before the run existed
  early.id = 1;
  early.started_at = T("2025-02-04T12:00:05Z");
  early.completed_at = T("2025-02-04T12:00:06Z");
  // On a first attempt a job is never "carried over", so it counts.
  const JobTimes times = SummarizeJobs({early}, run);
  EXPECT_EQ(times.first_started, T("2025-02-04T12:00:05Z"));
  ApplyJobTimes(run, times);
  EXPECT_EQ(run.queue_seconds, 0.0);
  EXPECT_EQ(run.finished_at, T("2025-02-04T12:00:10Z"));
  EXPECT_EQ(run.duration_seconds, 0.0);

  // No jobs: nothing changes.
  RunRecord before = run;
  ApplyJobTimes(run, SummarizeJobs({}, run));
  EXPECT_EQ(ToJsonLine(run), ToJsonLine(before));
}

TEST(GithubParse, MalformedAndTruncatedJsonAreParseErrors) {
  const std::string good = ReadFixture("github/edge_runs_mixed.json");
  for (const std::string& body :
       {good.substr(0, good.size() / 2), std::string("{not json"), std::string(""),
        std::string("[]"), std::string("{\"total_count\":1}"),
        std::string("{\"workflow_runs\":{}}"), std::string("{\"workflow_runs\":[]} trailing"),
        std::string("\x01\x02\xff", 3)}) {
    auto page = ParseRunsPage(body, "gh", "o/r");
    ASSERT_FALSE(page.ok()) << body.substr(0, 40);
    EXPECT_EQ(page.status().code(), ErrorCode::kParse) << body.substr(0, 40);
    auto jobs = ParseJobsPage(body);
    ASSERT_FALSE(jobs.ok());
    EXPECT_EQ(jobs.status().code(), ErrorCode::kParse);
  }
  auto empty = ParseRunsPage("{\"total_count\":0,\"workflow_runs\":[]}", "gh", "o/r");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->runs.empty());
  // Items of the wrong type are skipped, not fatal.
  auto odd = ParseRunsPage("{\"workflow_runs\":[1,\"x\",null,[]]}", "gh", "o/r");
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->errors.size(), 4u);
}

// The GHALogs sample (D2KLab/gha-dataset) carries no licence, so it is read
// from the shared folder and never copied into the repository.
TEST(GithubParse, GhaLogsRunWithJobs) {
  const std::string path =
      std::string(CICD_SHARED_DIR) + "/fixtures/github/ghalogs_run_with_jobs.json";
  if (!std::filesystem::exists(path)) {
    GTEST_SKIP() << "GHALogs sample not present at " << path
                 << " (not copied: it has no licence); skipping";
  }
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  const auto doc = Json(ss.str());
  const std::string repo(doc.at("repository_name").as_string());
  EXPECT_EQ(repo, "pytables/pytables");

  auto run = RunFromJson(doc.at("metadata"), "github", repo);
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(run->pipeline, "pytables/pytables/.github/workflows/wheels.yml");
  EXPECT_EQ(run->run_id, "6261949618");
  EXPECT_EQ(run->number, 200);
  EXPECT_EQ(run->attempt, 1);
  EXPECT_EQ(run->branch, "releases/v3.9.0");
  EXPECT_EQ(run->event, "push");
  EXPECT_EQ(run->status, RunStatus::kCompleted);
  EXPECT_EQ(run->result, "success");
  EXPECT_EQ(run->created_at, T("2023-09-21T12:55:26Z"));
  EXPECT_EQ(run->started_at, T("2023-09-21T12:55:26Z"));
  EXPECT_EQ(run->finished_at, T("2023-09-21T17:30:42Z"));  // updated_at
  EXPECT_EQ(run->queue_seconds, 0.0);
  EXPECT_EQ(run->duration_seconds, 16516.0);
  EXPECT_EQ(run->url, "https://github.com/PyTables/PyTables/actions/runs/6261949618");

  // Its 18 jobs are log summaries, not API jobs: each step has a start
  // ("2023-09-21 17:21:41.391000", UTC without a zone) and a duration. The
  // first logged step approximates the job's start.
  const auto& insights = doc.at("log_insights").as_array();
  ASSERT_EQ(insights.size(), 18u);
  std::vector<Job> jobs;
  for (const auto& li : insights) {
    Job job;
    job.id = static_cast<std::int64_t>(jobs.size()) + 1;
    job.name = std::string(li.at("file").as_string());
    for (const auto& step : li.at("steps").as_array()) {
      const TimePoint start = T((std::string(step.at("start_date").as_string()) + "Z").c_str());
      const TimePoint end = start + std::chrono::duration_cast<TimePoint::duration>(
                                        Seconds(step.at("duration_sec").to_number<double>()));
      if (!job.started_at || start < *job.started_at) job.started_at = start;
      if (!job.completed_at || end > *job.completed_at) job.completed_at = end;
    }
    jobs.push_back(job);
  }
  const JobTimes times = SummarizeJobs(jobs, *run);
  ApplyJobTimes(*run, times);
  // "2_Build ubuntu-latest wheels for aarch64" starts first, 11.649 s after
  // the run was created; "5_Test 3.8 x64 wheels for windows-latest" ends last,
  // 6 s before updated_at.
  ASSERT_TRUE(run->queue_seconds.has_value());
  EXPECT_DOUBLE_EQ(*run->queue_seconds, 11.649);
  EXPECT_EQ(FormatRfc3339Millis(*run->finished_at), "2023-09-21T17:30:35.981Z");
  EXPECT_NEAR(*run->duration_seconds, 16509.981766, 1e-3);
  EXPECT_TRUE(Validate(*run).ok());
}

}  // namespace
}  // namespace cicd::exporter::github
