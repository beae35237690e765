// Unit tests of the CircleCI parsers: the real webhook deliveries (zulip's
// recorded fixtures), the docs' API v2 skeletons, and the project's edge
// cases (null commit fields, tags without branch, ids as strings).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>

#include "cicd/core/json.h"
#include "cicd/exporter/sources/circleci.h"
#include "support/fixtures.h"

namespace cicd::exporter::circleci {
namespace {

using cicd::testing::ReadFixture;

TimePoint T(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

RunRecord Event(const std::string& fixture) {
  auto run = ParseWorkflowCompletedEvent(ReadFixture(fixture), "circleci");
  EXPECT_TRUE(run.ok()) << fixture << ": " << run.status().ToString();
  return run.ok() ? *run : RunRecord{};
}

TEST(CircleciParse, SlugsAreNormalised) {
  EXPECT_EQ(NormalizeSlug("gh/org/repo"), "gh/org/repo");
  EXPECT_EQ(NormalizeSlug("github/org/repo"), "gh/org/repo");
  EXPECT_EQ(NormalizeSlug("bitbucket/org/repo.js"), "bb/org/repo.js");
  EXPECT_EQ(NormalizeSlug("circleci/89xcrx7UvWQfzcUPAEmu5Q/63AY3yf3XeUQojmQcGZTtB"),
            "circleci/89xcrx7UvWQfzcUPAEmu5Q/63AY3yf3XeUQojmQcGZTtB");
  EXPECT_FALSE(NormalizeSlug("gh/org"));
  EXPECT_FALSE(NormalizeSlug("gh/org/repo/extra"));
  EXPECT_FALSE(NormalizeSlug("gitlab/org/repo"));
  EXPECT_FALSE(NormalizeSlug("gh//repo"));
  EXPECT_FALSE(NormalizeSlug("gh/../repo"));
  EXPECT_FALSE(NormalizeSlug("gh/{YOUR_USER_NAME}/hello-world"));  // the docs' placeholder
}

TEST(CircleciParse, WorkflowStatuses) {
  const std::map<std::string, std::pair<RunStatus, std::optional<std::string>>> want = {
      {"success", {RunStatus::kCompleted, "success"}},
      {"failed", {RunStatus::kCompleted, "failure"}},
      {"error", {RunStatus::kCompleted, "error"}},
      {"canceled", {RunStatus::kCompleted, "cancellation"}},
      {"unauthorized", {RunStatus::kCompleted, "error"}},
      {"not_run", {RunStatus::kCompleted, "skip"}},
      {"running", {RunStatus::kRunning, std::nullopt}},
      {"failing", {RunStatus::kRunning, std::nullopt}},
      {"on_hold", {RunStatus::kRunning, std::nullopt}},
  };
  for (const auto& [status, expected] : want) {
    const auto m = MapWorkflowStatus(status);
    ASSERT_TRUE(m) << status;
    EXPECT_EQ(m->status, expected.first) << status;
    EXPECT_EQ(m->result, expected.second) << status;
  }
  EXPECT_FALSE(MapWorkflowStatus("done"));
}

TEST(CircleciParse, RealGithubWorkflowCompleted) {
  const RunRecord r = Event("circleci/zulip_webhook_github_workflow_completed.json");
  EXPECT_EQ(r.source, "circleci");
  EXPECT_EQ(r.pipeline, "gh/zulip-testing/circleci-webhook-test/sample");
  EXPECT_EQ(r.branch, "main");
  EXPECT_EQ(r.run_id, "7381218b-d04c-4aa3-b8b8-8c00a9319d1f");
  EXPECT_EQ(r.number, 4);
  EXPECT_FALSE(r.attempt);
  EXPECT_EQ(r.event, "webhook");
  EXPECT_EQ(r.trigger, "push");
  EXPECT_EQ(r.status, RunStatus::kCompleted);
  EXPECT_EQ(r.result, "success");
  // No jobs in a delivery: the start is the workflow's creation, and no
  // queue time is made up.
  EXPECT_FALSE(r.created_at);
  EXPECT_EQ(r.started_at, T("2022-09-20T12:54:26.737Z"));
  EXPECT_EQ(r.finished_at, T("2022-09-20T12:54:38.599Z"));
  EXPECT_DOUBLE_EQ(*r.duration_seconds, 11.862);
  EXPECT_FALSE(r.queue_seconds);
  EXPECT_EQ(r.url,
            "https://app.circleci.com/pipelines/github/zulip-testing/circleci-webhook-test/4/"
            "workflows/7381218b-d04c-4aa3-b8b8-8c00a9319d1f");
  EXPECT_FALSE(r.tests_total);
}

TEST(CircleciParse, RealTagWorkflowHasNoBranch) {
  // vcs.branch null, no tag key, every commit field null.
  const RunRecord r = Event("circleci/zulip_webhook_github_tag_workflow_completed.json");
  EXPECT_EQ(r.pipeline, "gh/prah23/circleci-webhook-test/sample");
  EXPECT_EQ(r.branch, "");
  EXPECT_EQ(r.number, 20);
  EXPECT_DOUBLE_EQ(*r.duration_seconds, 19.333);
  EXPECT_TRUE(Validate(r).ok());
}

TEST(CircleciParse, RealBitbucketApiTriggeredWorkflow) {
  const RunRecord r = Event("circleci/zulip_webhook_bitbucket_manual_workflow_completed.json");
  EXPECT_EQ(r.pipeline, "bb/hariprashant1/circleci-webhook-testing/sample");
  EXPECT_EQ(r.branch, "master");
  EXPECT_EQ(r.event, "api");
  EXPECT_EQ(r.trigger, "other");
  EXPECT_EQ(r.number, 2);
  EXPECT_EQ(r.started_at, T("2022-11-07T11:45:36.683Z"));
  EXPECT_EQ(r.finished_at, T("2022-11-07T11:45:46.906Z"));
}

TEST(CircleciParse, DocsGitlabFailedWorkflow) {
  const RunRecord r = Event("circleci/docs_webhook_workflow_completed_gitlab_failed.json");
  EXPECT_EQ(r.pipeline, "circleci/DdaVtNusHqi24D4YT3X4eu/6EkDPZoN4ZdMKKZtBkRodt/build");
  EXPECT_EQ(r.result, "failure");
  EXPECT_EQ(r.event, "gitlab");
  EXPECT_EQ(r.trigger, "push");  // trigger_parameters.gitlab.type
  EXPECT_EQ(r.branch, "main");   // trigger_parameters.git.branch, no vcs block
  EXPECT_DOUBLE_EQ(*r.duration_seconds, 6.181);
}

TEST(CircleciParse, JobCompletedDeliveryIsNotARun) {
  const std::string body = ReadFixture("circleci/zulip_webhook_gitlab_job_completed.json");
  EXPECT_FALSE(ParseWorkflowCompletedEvent(body, "circleci").ok());
  // Its pipeline still reads: number and user ids are strings there.
  auto doc = json::Parse(body);
  ASSERT_TRUE(doc.ok());
  auto p = PipelineFromJson(doc->at("pipeline"));
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->id, "18448206-98fd-4ed2-abef-896da41340c0");
  EXPECT_EQ(p->number, 3);
  EXPECT_EQ(p->event, "gitlab");
  EXPECT_EQ(p->trigger, "push");
  EXPECT_EQ(p->branch, "main");
  EXPECT_EQ(p->created_at, T("2022-09-30T21:03:00.809Z"));
}

TEST(CircleciParse, DocsPipelinesPage) {
  auto page = ParsePipelinesPage(ReadFixture("circleci/docs_list_pipelines_project.json"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_EQ(page->next_page_token, "");  // null
  ASSERT_EQ(page->pipelines.size(), 1u);
  const Pipeline& p = page->pipelines[0];
  EXPECT_EQ(p.id, "03fcbba0-d847-4c8b-a553-6fdd7854b893");
  EXPECT_EQ(p.number, 1);
  EXPECT_EQ(p.created_at, T("2020-01-10T19:45:58.517Z"));
  EXPECT_EQ(p.updated_at, "2020-01-10T19:45:58.517Z");
  EXPECT_EQ(p.event, "api");
  EXPECT_EQ(p.trigger, "");  // left to TriggerFromEvent
  EXPECT_EQ(p.branch, "master");
}

TEST(CircleciParse, DocsJobDetailsSkeleton) {
  auto job = ParseJobDetails(ReadFixture("circleci/docs_job_details_placeholder.json"));
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(job->number, 0);
  EXPECT_EQ(job->status, "");  // null
  EXPECT_EQ(job->queued_at, T("2020-01-13T18:51:40Z"));
  EXPECT_EQ(job->started_at, T("2020-01-24T11:33:40Z"));
  EXPECT_EQ(job->stopped_at, T("2020-01-13T18:51:40Z"));
}

TEST(CircleciParse, EdgePipelines) {
  auto page = ParsePipelinesPage(ReadFixture("circleci/edge_pipelines.json"));
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->pipelines.size(), 3u);
  ASSERT_EQ(page->errors.size(), 1u);
  EXPECT_NE(page->errors[0].find("items[3]: pipeline without a string \"id\""), std::string::npos);
  EXPECT_EQ(page->pipelines[0].number, 3);  // "3"
  EXPECT_EQ(page->pipelines[0].trigger, "push");
  EXPECT_EQ(page->pipelines[0].branch, "main");
  EXPECT_EQ(page->pipelines[1].branch, "v1.2.0");  // a tag without branch
  EXPECT_EQ(page->pipelines[2].branch, "");        // null branch, null commit
  EXPECT_EQ(page->pipelines[2].event, "schedule");
  EXPECT_EQ(page->pipelines[2].updated_at, "");
}

TEST(CircleciParse, EdgeWorkflowsAndJobs) {
  auto pipes = ParsePipelinesPage(ReadFixture("circleci/edge_pipelines.json"));
  ASSERT_TRUE(pipes.ok());
  const Pipeline& p = pipes->pipelines[0];
  auto page = ParseWorkflowsPage(ReadFixture("circleci/edge_workflows.json"), p, "cc", "gh/acme/app",
                                 "https://app.circleci.com");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->runs.size(), 5u);
  ASSERT_EQ(page->errors.size(), 2u);
  EXPECT_NE(page->errors[0].find("unknown status \"exploded\""), std::string::npos);
  EXPECT_NE(page->errors[1].find("no \"created_at\""), std::string::npos);
  EXPECT_EQ(page->names, (std::vector<std::string>{"build-and-test", "deploy", "release",
                                                   "nightly", "secure"}));
  std::map<std::string, RunRecord> by_id;
  for (const auto& r : page->runs) {
    EXPECT_TRUE(Validate(r).ok()) << r.run_id;
    by_id[r.run_id] = r;
  }
  RunRecord ok = by_id.at("w-ok");
  EXPECT_EQ(ok.pipeline, "gh/acme/app/build-and-test");
  EXPECT_EQ(ok.url, "https://app.circleci.com/pipelines/github/acme/app/3/workflows/w-ok");
  EXPECT_EQ(ok.trigger, "push");
  EXPECT_EQ(ok.number, 3);
  EXPECT_FALSE(ok.created_at);
  EXPECT_FALSE(ok.queue_seconds);
  EXPECT_EQ(ok.duration_seconds, 300.0);
  EXPECT_EQ(by_id.at("w-fail").result, "failure");
  EXPECT_EQ(by_id.at("w-hold").status, RunStatus::kRunning);
  EXPECT_FALSE(by_id.at("w-hold").finished_at);
  EXPECT_EQ(by_id.at("w-notrun").result, "skip");
  EXPECT_EQ(by_id.at("w-notrun").duration_seconds, 0.0);  // never ran
  EXPECT_EQ(by_id.at("w-unauth").result, "error");

  auto jobs = ParseJobsPage(ReadFixture("circleci/edge_workflow_jobs.json"));
  ASSERT_TRUE(jobs.ok()) << jobs.status().ToString();
  ASSERT_EQ(jobs->jobs.size(), 4u);
  EXPECT_EQ(jobs->jobs[0].number, 41);  // "41"
  EXPECT_FALSE(jobs->jobs[2].number);   // the approval has none
  // The list has no queued_at: only the start is known.
  JobTimes list_only = SummarizeJobs(jobs->jobs);
  EXPECT_EQ(list_only.first_started, T("2025-02-04T12:00:20Z"));
  EXPECT_FALSE(list_only.queue_seconds);
  // With the details' queued_at: build waited 15 s, test 30 s.
  for (int i : {0, 1}) {
    auto d = ParseJobDetails(ReadFixture("circleci/edge_job_" + std::to_string(41 + i) + ".json"));
    ASSERT_TRUE(d.ok());
    jobs->jobs[i].queued_at = d->queued_at;
  }
  const JobTimes times = SummarizeJobs(jobs->jobs);
  EXPECT_EQ(times.queue_seconds, 30.0);
  ApplyJobTimes(ok, *ok.started_at, times);
  EXPECT_EQ(ok.created_at, T("2025-02-04T12:00:01Z"));
  EXPECT_EQ(ok.started_at, T("2025-02-04T12:00:20Z"));
  EXPECT_EQ(ok.queue_seconds, 30.0);
  EXPECT_EQ(ok.duration_seconds, 281.0);
  // Jobs that never started leave the run as it was.
  RunRecord notrun = by_id.at("w-notrun");
  ApplyJobTimes(notrun, *notrun.started_at, SummarizeJobs({jobs->jobs[3]}));
  EXPECT_FALSE(notrun.created_at);
  EXPECT_FALSE(notrun.queue_seconds);
}

TEST(CircleciParse, BadDocumentsAreErrors) {
  EXPECT_FALSE(ParsePipelinesPage("[]").ok());
  EXPECT_FALSE(ParsePipelinesPage("{\"items\": [").ok());
  EXPECT_FALSE(ParsePipelinesPage("{\"next_page_token\": null}").ok());
  EXPECT_FALSE(ParseJobsPage("<html>").ok());
  EXPECT_FALSE(ParseWorkflowCompletedEvent("{\"type\":\"workflow-completed\"}", "cc").ok());
}

}  // namespace
}  // namespace cicd::exporter::circleci
