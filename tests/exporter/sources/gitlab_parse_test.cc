// Unit tests of the pure GitLab CI parsers against recorded payloads
// (tests/fixtures/gitlab/: GitLab documentation examples, CC BY-SA 4.0, and
// go-gitlab test data, Apache-2.0) and the project's edge cases (edge_*).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <sstream>

#include "cicd/core/json.h"
#include "cicd/exporter/sources/gitlab.h"
#include "support/fixtures.h"

namespace cicd::exporter::gitlab {
namespace {

using cicd::testing::ReadFixture;

TimePoint T(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

constexpr char kProject[] = "test-group/test-project";

// The headers of a recorded .http response, names lower-cased.
std::map<std::string, std::string> HttpHeaders(const std::string& text) {
  std::map<std::string, std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos || line.rfind("HTTP/", 0) == 0) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string v = line.substr(colon + 1);
    v.erase(0, v.find_first_not_of(' '));
    out[name] = v;
  }
  return out;
}

TEST(GitlabMapping, StatusesOfPipelinesAndJobs) {
  for (const char* s : {"created", "waiting_for_resource", "preparing", "pending", "scheduled"}) {
    EXPECT_EQ(MapStatus(s), RunStatus::kQueued) << s;
    EXPECT_EQ(MapResult(s), std::nullopt) << s;
  }
  for (const char* s : {"running", "canceling"}) {
    EXPECT_EQ(MapStatus(s), RunStatus::kRunning) << s;
    EXPECT_EQ(MapResult(s), std::nullopt) << s;
  }
  EXPECT_EQ(MapStatus("success"), RunStatus::kCompleted);
  EXPECT_EQ(MapResult("success"), "success");
  EXPECT_EQ(MapResult("failed"), "failure");
  EXPECT_EQ(MapResult("canceled"), "cancellation");
  EXPECT_EQ(MapResult("skipped"), "skip");
  EXPECT_EQ(MapResult("manual"), "skip");
  for (const char* s : {"failed", "canceled", "skipped", "manual"}) {
    EXPECT_EQ(MapStatus(s), RunStatus::kCompleted) << s;
    EXPECT_TRUE(IsRunResult(*MapResult(s))) << s;
  }
  // Unknown stays unknown: never guessed into a result.
  EXPECT_EQ(MapStatus("Success"), std::nullopt);
  EXPECT_EQ(MapStatus("exploded"), std::nullopt);
  EXPECT_EQ(MapResult("exploded"), std::nullopt);
}

TEST(GitlabMapping, SourceToTrigger) {
  EXPECT_EQ(TriggerFromEvent("push"), "push");
  EXPECT_EQ(TriggerFromEvent("merge_request_event"), "pull_request");
  EXPECT_EQ(TriggerFromEvent("schedule"), "schedule");
  EXPECT_EQ(TriggerFromEvent("web"), "manual");
  for (const char* s : {"api", "trigger", "pipeline", "parent_pipeline", "chat"}) {
    EXPECT_EQ(TriggerFromEvent(s), "other") << s;
  }
}

TEST(GitlabMapping, ProjectPaths) {
  EXPECT_TRUE(IsProjectPath("test-group/test-project"));
  EXPECT_TRUE(IsProjectPath("gitlab-org/gitlab-test"));
  EXPECT_TRUE(IsProjectPath("group/sub.group/my_project"));
  EXPECT_FALSE(IsProjectPath("group"));
  EXPECT_TRUE(IsProjectPath("group", /*allow_single=*/true));
  for (const char* bad : {"", "/a", "a/", "a//b", "a/../b", "./a", "a/b c", "a/b?x", "a/%2F"}) {
    EXPECT_FALSE(IsProjectPath(bad, true)) << bad;
  }
}

TEST(GitlabTime, BothFormatsOfOnePayloadFamily) {
  // REST: RFC 3339 with milliseconds, or an offset (docs_list_pipeline_jobs
  // commit.created_at); webhooks: "YYYY-MM-DD HH:MM:SS UTC".
  EXPECT_EQ(*ParseTime("2022-09-21T01:05:07.200Z"), T("2022-09-21T01:05:07.200Z"));
  EXPECT_EQ(*ParseTime("2015-12-24T16:51:14.000+01:00"), T("2015-12-24T15:51:14Z"));
  EXPECT_EQ(*ParseTime("2016-08-12 15:23:28 UTC"), T("2016-08-12T15:23:28Z"));
  EXPECT_FALSE(ParseTime("2016-08-12 15:23:28 CET").ok());
  EXPECT_FALSE(ParseTime("yesterday").ok());
}

TEST(GitlabPagination, OffsetHeadersOfTheDocs) {
  const auto h = HttpHeaders(ReadFixture("gitlab/docs_pagination_offset_headers.http"));
  ASSERT_TRUE(h.count("x-next-page"));
  ASSERT_TRUE(h.count("link"));
  EXPECT_EQ(NextPage(h.at("x-next-page"), h.at("link")), 3);
  // Without X-Next-Page the Link header's rel="next" says the same.
  EXPECT_EQ(NextPage("", h.at("link")), 3);
  EXPECT_EQ(NextPage("3", ""), 3);
  // Last page: X-Next-Page is empty and there is no rel="next".
  EXPECT_EQ(NextPage("", "<https://gitlab.example.com/api/v4/projects/8/issues/8/notes?page=2&per_page=3>; "
                         "rel=\"prev\", <https://gitlab.example.com/api/v4/projects/8/issues/8/notes?page=1&per_page=3>; "
                         "rel=\"first\""),
            std::nullopt);
  EXPECT_EQ(NextPage("x", ""), std::nullopt);
  EXPECT_EQ(NextPage("0", ""), std::nullopt);
}

TEST(GitlabPagination, KeysetLinkHasNoPageNumber) {
  const auto h = HttpHeaders(ReadFixture("gitlab/docs_pagination_keyset_headers.http"));
  ASSERT_TRUE(h.count("link"));
  EXPECT_EQ(NextPage("", h.at("link")), std::nullopt);
  // The source follows such a link as it is.
  EXPECT_EQ(NextLink(h.at("link")),
            "https://gitlab.example.com/api/v4/projects?pagination=keyset&per_page=50&order_by=id&"
            "sort=asc&id_after=42");
}

TEST(GitlabPipeline, DetailsOfTheDocs) {
  auto p = ParsePipeline(ReadFixture("gitlab/docs_get_pipeline.json"), "gitlab", kProject);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  const RunRecord& r = p->run;
  EXPECT_EQ(r.source, "gitlab");
  EXPECT_EQ(r.pipeline, "test-group/test-project");
  EXPECT_EQ(r.run_id, "287");
  EXPECT_EQ(r.number, 144);
  EXPECT_EQ(r.attempt, std::nullopt);
  EXPECT_EQ(r.branch, "main");
  EXPECT_EQ(r.event, "push");
  EXPECT_EQ(r.trigger, "push");
  EXPECT_EQ(r.status, RunStatus::kCompleted);
  EXPECT_EQ(r.result, "success");
  EXPECT_EQ(r.created_at, T("2022-09-21T01:05:07.200Z"));
  EXPECT_EQ(r.started_at, T("2022-09-21T01:05:14.197Z"));
  EXPECT_EQ(r.finished_at, T("2022-09-21T01:05:50.175Z"));
  EXPECT_EQ(p->updated_at, T("2022-09-21T01:05:50.185Z"));
  // GitLab's own figures, not the wall times (36 s and 7 s in this file).
  EXPECT_TRUE(p->has_duration);
  EXPECT_TRUE(p->has_queued_duration);
  EXPECT_EQ(r.duration_seconds, 34.0);
  EXPECT_EQ(r.queue_seconds, 6.0);
  EXPECT_EQ(r.url, "http://127.0.0.1:3000/test-group/test-project/-/pipelines/287");
  EXPECT_EQ(r.tests_total, std::nullopt);
  EXPECT_TRUE(Validate(r).ok());
}

TEST(GitlabPipeline, ListItemsOfTheDocsLackDurations) {
  auto page = ParsePipelinesPage(ReadFixture("gitlab/docs_list_pipelines.json"), "gitlab", "foo/bar");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(page->errors.empty());
  ASSERT_EQ(page->pipelines.size(), 2u);
  const Pipeline& a = page->pipelines[0];
  EXPECT_EQ(a.run.run_id, "47");
  EXPECT_EQ(a.run.number, 12);
  EXPECT_EQ(a.run.pipeline, "foo/bar");
  EXPECT_EQ(a.run.branch, "new-pipeline");
  EXPECT_EQ(a.run.status, RunStatus::kQueued);
  EXPECT_EQ(a.run.result, std::nullopt);
  EXPECT_EQ(a.run.event, "push");
  EXPECT_EQ(a.run.created_at, T("2016-08-11T11:28:34.085Z"));
  EXPECT_EQ(a.updated_at, T("2016-08-11T11:32:35.169Z"));
  EXPECT_EQ(a.run.url, "https://example.com/foo/bar/pipelines/47");
  EXPECT_FALSE(a.has_duration);
  EXPECT_FALSE(a.has_queued_duration);
  EXPECT_EQ(a.run.started_at, std::nullopt);
  EXPECT_EQ(a.run.queue_seconds, std::nullopt);  // unknown until it starts
  EXPECT_TRUE(Validate(a.run).ok());
  const Pipeline& b = page->pipelines[1];
  EXPECT_EQ(b.run.run_id, "48");
  EXPECT_EQ(b.run.event, "web");
  EXPECT_EQ(b.run.trigger, "manual");
  EXPECT_EQ(b.run.created_at, T("2016-08-12T10:06:04.561Z"));
}

TEST(GitlabPipeline, EdgeListingKeepsGoodItemsAndNamesTheBadOne) {
  auto page = ParsePipelinesPage(ReadFixture("gitlab/edge_list_pipelines.json"), "gitlab", kProject);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->pipelines.size(), 11u);
  ASSERT_EQ(page->errors.size(), 1u);
  EXPECT_EQ(page->errors[0], "[10]: pipeline 300: unknown status \"exploded\"");
}

TEST(GitlabPipeline, NeverStartedAndManualPipelines) {
  const auto details = json::Parse(ReadFixture("gitlab/edge_pipeline_details.json"));
  ASSERT_TRUE(details.ok());
  auto read = [&](const char* id) {
    auto p = PipelineFromJson(details->at(id), "gitlab", kProject);
    EXPECT_TRUE(p.ok()) << id << ": " << p.status().ToString();
    return p.ok() ? p->run : RunRecord{};
  };
  // Canceled while pending: it waited 240 s and never ran.
  const RunRecord canceled = read("293");
  EXPECT_EQ(canceled.result, "cancellation");
  EXPECT_EQ(canceled.trigger, "manual");
  EXPECT_EQ(canceled.started_at, T("2022-09-21T01:34:00Z"));
  EXPECT_EQ(canceled.finished_at, T("2022-09-21T01:34:00Z"));
  EXPECT_EQ(canceled.duration_seconds, 0.0);
  EXPECT_EQ(canceled.queue_seconds, 240.0);
  // Skipped: no start and no finish; updated_at is when it ended.
  const RunRecord skipped = read("294");
  EXPECT_EQ(skipped.result, "skip");
  EXPECT_EQ(skipped.branch, "v1.2.0");  // a tag is a ref like a branch
  EXPECT_EQ(skipped.trigger, "other");
  EXPECT_EQ(skipped.finished_at, T("2022-09-21T01:40:01Z"));
  EXPECT_EQ(skipped.duration_seconds, 0.0);
  // Stopped at a manual job: GitLab's running time, finished when it stopped.
  const RunRecord manual = read("295");
  EXPECT_EQ(manual.result, "skip");
  EXPECT_EQ(manual.started_at, T("2022-09-21T01:45:05Z"));
  EXPECT_EQ(manual.finished_at, T("2022-09-21T01:46:00Z"));
  EXPECT_EQ(manual.duration_seconds, 40.0);
  EXPECT_EQ(manual.queue_seconds, 5.0);
  // No queued_duration: started - created for now (jobs refine it).
  const RunRecord scheduled = read("292");
  EXPECT_EQ(scheduled.trigger, "schedule");
  EXPECT_EQ(scheduled.queue_seconds, 30.0);
  EXPECT_EQ(scheduled.duration_seconds, 1800.0);
  // Running: no duration yet, started_at known.
  const RunRecord running = read("297");
  EXPECT_EQ(running.status, RunStatus::kRunning);
  EXPECT_EQ(running.result, std::nullopt);
  EXPECT_EQ(running.duration_seconds, std::nullopt);
  EXPECT_EQ(running.finished_at, std::nullopt);
  EXPECT_EQ(running.queue_seconds, 10.0);
  EXPECT_EQ(read("296").event, "parent_pipeline");
  EXPECT_EQ(read("296").trigger, "other");
}

TEST(GitlabPipeline, MalformedPipelinesAreErrors) {
  for (const char* body : {R"({"status":"success"})", R"({"id":1})", R"({"id":1,"status":"success","created_at":5})",
                           R"({"id":1,"status":"success","created_at":"soon"})", R"([1])", "{\"id\":"}) {
    EXPECT_FALSE(ParsePipeline(body, "gitlab", kProject).ok()) << body;
  }
  // A completed pipeline with no time at all cannot be placed.
  auto timeless = ParsePipeline(R"({"id":1,"status":"success"})", "gitlab", kProject);
  ASSERT_FALSE(timeless.ok());
  EXPECT_NE(timeless.status().message().find("pipeline 1: missing required field"), std::string::npos)
      << timeless.status().message();
  EXPECT_FALSE(ParsePipelinesPage(R"({"id":1})", "gitlab", kProject).ok());  // not an array
  EXPECT_FALSE(ParsePipelinesPage("[{\"id\":1,", "gitlab", kProject).ok());  // truncated
}

TEST(GitlabPipeline, WebhookWithItsOwnTimeFormat) {
  auto r = ParsePipelineEvent(ReadFixture("gitlab/webhooks_pipeline.json"), "gitlab");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pipeline, "gitlab-org/gitlab-test");
  EXPECT_EQ(r->run_id, "31");
  EXPECT_EQ(r->number, 123);
  EXPECT_EQ(r->branch, "master");
  EXPECT_EQ(r->event, "merge_request_event");
  EXPECT_EQ(r->trigger, "pull_request");
  EXPECT_EQ(r->result, "success");
  EXPECT_EQ(r->created_at, T("2016-08-12T15:23:28Z"));
  EXPECT_EQ(r->finished_at, T("2016-08-12T15:26:29Z"));
  // No started_at in webhooks: finished_at - duration (63 s).
  EXPECT_EQ(r->started_at, T("2016-08-12T15:25:26Z"));
  EXPECT_EQ(r->duration_seconds, 63.0);
  EXPECT_EQ(r->queue_seconds, 12.0);
  EXPECT_EQ(r->url, "http://192.168.64.1:3005/gitlab-org/gitlab-test/-/pipelines/31");
  EXPECT_FALSE(ParsePipelineEvent(ReadFixture("gitlab/docs_get_pipeline.json"), "gitlab").ok());
}

TEST(GitlabJobs, JobsOfTheDocs) {
  auto page = ParseJobsPage(ReadFixture("gitlab/docs_list_pipeline_jobs.json"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(page->errors.empty());
  ASSERT_EQ(page->jobs.size(), 2u);
  const Job& a = page->jobs[0];
  EXPECT_EQ(a.id, 6);
  EXPECT_EQ(a.name, "rspec:other");
  EXPECT_EQ(a.stage, "test");
  EXPECT_EQ(a.status, "failed");
  EXPECT_EQ(a.failure_reason, "stuck_or_timeout_failure");
  EXPECT_FALSE(a.allow_failure);
  EXPECT_EQ(a.created_at, T("2015-12-24T15:51:21.727Z"));
  EXPECT_EQ(a.started_at, T("2015-12-24T17:54:24.729Z"));
  EXPECT_EQ(a.finished_at, T("2015-12-24T17:54:24.921Z"));
  EXPECT_DOUBLE_EQ(*a.duration_seconds, 0.192);
  EXPECT_DOUBLE_EQ(*a.queue_seconds, 0.023);
  EXPECT_EQ(a.downstream_pipeline_id, std::nullopt);
  const Job& b = page->jobs[1];
  EXPECT_EQ(b.id, 7);
  EXPECT_EQ(b.name, "teaspoon");
  EXPECT_EQ(b.failure_reason, "script_failure");
  EXPECT_EQ(b.started_at, T("2015-12-24T17:54:27.722Z"));

  // A failing script outweighs the timed-out job: the build failed.
  const JobsSummary both = SummarizeJobs(page->jobs);
  EXPECT_EQ(both.first_started, T("2015-12-24T17:54:24.729Z"));
  EXPECT_EQ(both.failed_result, "failure");
  // The timed-out job alone makes the run a timeout.
  EXPECT_EQ(SummarizeJobs({a}).failed_result, "timeout");
}

TEST(GitlabJobs, EdgeTimeoutWithAllowedFailureAndSkippedJob) {
  auto page = ParseJobsPage(ReadFixture("gitlab/edge_jobs_timeout.json"));
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->jobs.size(), 4u);
  EXPECT_EQ(page->jobs[0].started_at, std::nullopt);  // skipped: never started
  const JobsSummary s = SummarizeJobs(page->jobs);
  EXPECT_EQ(s.first_started, T("2022-09-21T01:20:30.250Z"));
  // lint failed too, but is allowed to: the run timed out.
  EXPECT_EQ(s.failed_result, "timeout");

  RunRecord run;
  run.result = "failure";
  run.created_at = T("2022-09-21T01:20:00Z");
  run.queue_seconds = 30.0;
  ApplyJobs(run, s, /*keep_queue=*/false);
  EXPECT_EQ(run.queue_seconds, 30.25);
  EXPECT_EQ(run.result, "timeout");
  run.queue_seconds = 6.0;
  ApplyJobs(run, s, /*keep_queue=*/true);  // GitLab's queued_duration wins
  EXPECT_EQ(run.queue_seconds, 6.0);
  RunRecord success;
  success.result = "success";
  ApplyJobs(success, s, true);
  EXPECT_EQ(success.result, "success");  // only a failed run is refined
}

TEST(GitlabJobs, SystemFailuresAreErrorsAndQueueNeverNegative) {
  Job runner;
  runner.id = 1;
  runner.status = "failed";
  runner.failure_reason = "runner_system_failure";
  runner.started_at = T("2022-09-21T01:00:00Z");
  const JobsSummary s = SummarizeJobs({runner});
  EXPECT_EQ(s.failed_result, "error");
  RunRecord run;
  run.result = "failure";
  run.created_at = T("2022-09-21T01:00:05Z");  // clocks disagree
  ApplyJobs(run, s, false);
  EXPECT_EQ(run.queue_seconds, 0.0);
  EXPECT_EQ(run.result, "error");
  EXPECT_EQ(SummarizeJobs({}).failed_result, std::nullopt);
}

TEST(GitlabJobs, BridgesOfTheDocsAreNotJobsOfTheParent) {
  auto page = ParseJobsPage(ReadFixture("gitlab/docs_list_pipeline_bridges.json"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->jobs.size(), 1u);
  const Job& bridge = page->jobs[0];
  EXPECT_EQ(bridge.id, 7);
  EXPECT_EQ(bridge.name, "teaspoon");
  EXPECT_EQ(bridge.downstream_pipeline_id, 5);
  EXPECT_EQ(bridge.duration_seconds, 240.0);  // an integer here
  EXPECT_EQ(bridge.started_at, T("2015-12-24T17:54:27.722Z"));
  // Its 240 s are the downstream pipeline's, a run of its own.
  const JobsSummary s = SummarizeJobs(page->jobs);
  EXPECT_EQ(s.first_started, std::nullopt);
  EXPECT_EQ(s.failed_result, std::nullopt);
}

TEST(GitlabJobs, MalformedJobs) {
  EXPECT_FALSE(ParseJobsPage(R"({"jobs":[]})").ok());
  EXPECT_FALSE(ParseJobsPage("[{\"id\":6,\"status\":").ok());
  auto page = ParseJobsPage(R"([{"id":1,"started_at":"noon"},{"name":"x"},{"id":2}])");
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->jobs.size(), 1u);
  ASSERT_EQ(page->errors.size(), 2u);
  EXPECT_NE(page->errors[0].find("[0]: job 1: \"started_at\""), std::string::npos) << page->errors[0];
}

TEST(GitlabTests, SummaryOfTheDocs) {
  auto c = ParseTestReport(ReadFixture("gitlab/docs_pipeline_test_report_summary.json"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->total, 3363);
  EXPECT_EQ(c->failed, 0);
  EXPECT_EQ(c->skipped, 12);
}

TEST(GitlabTests, FullReportCountsErrorsAsFailed) {
  auto c = ParseTestReport(ReadFixture("gitlab/get_pipeline_testreport.json"));
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->total, 9);
  EXPECT_EQ(c->failed, 4);  // failed_count 0 + error_count 4
  EXPECT_EQ(c->skipped, 0);
}

TEST(GitlabTests, NoSuitesIsUnknownNotZero) {
  auto c = ParseTestReport(
      R"({"total":{"time":0,"count":0,"success":0,"failed":0,"skipped":0,"error":0,"suite_error":null},"test_suites":[]})");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->total, std::nullopt);
  EXPECT_EQ(c->failed, std::nullopt);
  EXPECT_EQ(c->skipped, std::nullopt);
  EXPECT_FALSE(ParseTestReport("[]").ok());
  EXPECT_FALSE(ParseTestReport(R"({"total":{"count":)").ok());
  EXPECT_FALSE(ParseTestReport(R"({"total":{"count":-1},"test_suites":[{}]})").ok());
}

TEST(GitlabProjects, GroupListing) {
  auto p = ParseProjectsPage(ReadFixture("gitlab/edge_group_projects.json"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  ASSERT_EQ(p->size(), 4u);
  EXPECT_EQ((*p)[1].path_with_namespace, "test-group/platform/tools");
  EXPECT_EQ((*p)[1].id, 22);
  EXPECT_FALSE((*p)[1].archived);
  EXPECT_TRUE((*p)[3].archived);
  EXPECT_FALSE(ParseProjectsPage(R"([{"id":1}])").ok());
}

}  // namespace
}  // namespace cicd::exporter::gitlab
