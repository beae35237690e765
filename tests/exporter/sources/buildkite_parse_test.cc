// Unit tests of the Buildkite parsers on recorded payloads (tests/fixtures/
// buildkite, see NOTICE.md): every field the run record takes is checked
// against its value in the file.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>

#include "cicd/core/json.h"
#include "cicd/exporter/sources/buildkite.h"
#include "support/fixtures.h"

namespace cicd::exporter::buildkite {
namespace {

using cicd::testing::ReadFixture;

TimePoint T(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

boost::json::value Doc(const std::string& fixture) {
  auto doc = json::Parse(ReadFixture(fixture));
  EXPECT_TRUE(doc.ok()) << fixture;
  return doc.ok() ? *doc : boost::json::value();
}

RunRecord Build(const std::string& fixture) {
  auto run = BuildFromJson(Doc(fixture), "buildkite", "acme");
  EXPECT_TRUE(run.ok()) << run.status().ToString();
  return run.ok() ? *run : RunRecord{};
}

TEST(BuildkiteParse, StatesMapToStatusAndOtelResult) {
  const std::map<std::string, std::pair<RunStatus, std::optional<std::string>>> want = {
      {"scheduled", {RunStatus::kQueued, std::nullopt}},
      {"creating", {RunStatus::kQueued, std::nullopt}},
      {"running", {RunStatus::kRunning, std::nullopt}},
      {"failing", {RunStatus::kRunning, std::nullopt}},
      {"canceling", {RunStatus::kRunning, std::nullopt}},
      {"passed", {RunStatus::kCompleted, "success"}},
      {"blocked", {RunStatus::kCompleted, "success"}},
      {"failed", {RunStatus::kCompleted, "failure"}},
      {"canceled", {RunStatus::kCompleted, "cancellation"}},
      {"skipped", {RunStatus::kCompleted, "skip"}},
      {"not_run", {RunStatus::kCompleted, "skip"}},
  };
  for (const auto& [state, expected] : want) {
    const auto m = MapState(state);
    ASSERT_TRUE(m) << state;
    EXPECT_EQ(m->status, expected.first) << state;
    EXPECT_EQ(m->result, expected.second) << state;
  }
  EXPECT_FALSE(MapState("finished"));  // a query alias, never a build's state
  EXPECT_FALSE(MapState(""));
}

TEST(BuildkiteParse, SlugCharacters) {
  EXPECT_TRUE(IsSlug("my-great-org"));
  EXPECT_TRUE(IsSlug("pipeline_2"));
  EXPECT_FALSE(IsSlug(""));
  EXPECT_FALSE(IsSlug("a/b"));
  EXPECT_FALSE(IsSlug("a b"));
  EXPECT_FALSE(IsSlug("../x"));
}

// monorobot's cached real GET of build 181734: 4 script jobs, a trigger, a
// waiter with only id/graphql_id/type and a manual (block) job with label.
TEST(BuildkiteParse, RealBuildWithMixedJobTypes) {
  const RunRecord r = Build("buildkite/monorobot_get_build_181734_mixed_job_types.json");
  EXPECT_EQ(r.source, "buildkite");
  // The configured organisation, not the spliced "ahrefs"/"org" of the URLs.
  EXPECT_EQ(r.pipeline, "acme/pipeline2");
  EXPECT_EQ(r.branch, "develop");
  EXPECT_EQ(r.run_id, "018fd828-7bce-4c40-a75e-df46ea0bae8d");
  EXPECT_EQ(r.number, 181734);
  EXPECT_FALSE(r.attempt);
  EXPECT_EQ(r.event, "webhook");
  EXPECT_EQ(r.trigger, "push");
  EXPECT_EQ(r.status, RunStatus::kCompleted);
  EXPECT_EQ(r.result, "failure");
  EXPECT_EQ(r.created_at, T("2024-06-02T08:54:42.920Z"));
  EXPECT_EQ(r.started_at, T("2024-06-02T08:54:47.128Z"));
  EXPECT_EQ(r.finished_at, T("2024-06-02T09:19:17.829Z"));
  EXPECT_DOUBLE_EQ(*r.duration_seconds, 1470.701);
  // Longest script-job agent wait: ":pipeline:" 15:04:39.995 -> 15:04:41.825.
  // (Build 0.724, Test 0.664, Fail 1.311; the trigger job's 1.393 is not
  // an agent wait.)
  EXPECT_DOUBLE_EQ(*r.queue_seconds, 1.83);
  EXPECT_EQ(r.url, "https://buildkite.com/org/pipeline2/builds/181734");
  EXPECT_FALSE(r.tests_total);
  EXPECT_FALSE(r.tests_failed);
  EXPECT_FALSE(r.tests_skipped);
}

TEST(BuildkiteParse, RealSingleJobBuild) {
  const RunRecord r = Build("buildkite/monorobot_get_build_181733_single_job.json");
  EXPECT_EQ(r.pipeline, "acme/pipeline2");
  EXPECT_EQ(r.branch, "other-branch");
  EXPECT_EQ(r.number, 181733);
  EXPECT_EQ(r.result, "success");
  // setup: runnable 08:54:42.961, started 08:54:47.128.
  EXPECT_DOUBLE_EQ(*r.queue_seconds, 4.167);
  EXPECT_DOUBLE_EQ(*r.duration_seconds, 1470.701);
}

TEST(BuildkiteParse, DocsGetBuildWithMixedTimeFormats) {
  // The pipeline's created_at is "2013-09-03 13:24:38 UTC": not read.
  const RunRecord r = Build("buildkite/docs_get_build.json");
  EXPECT_EQ(r.pipeline, "acme/great-pipeline");
  EXPECT_EQ(r.number, 2);
  EXPECT_EQ(r.result, "success");
  EXPECT_EQ(r.started_at, T("2015-05-09T21:05:59.874Z"));
  EXPECT_EQ(r.finished_at, T("2015-05-09T21:08:59.874Z"));
  EXPECT_EQ(r.duration_seconds, 180.0);
  EXPECT_EQ(r.queue_seconds, 60.0);  // RSpec: runnable 21:06:59, started 21:07:59
  EXPECT_EQ(r.url, "https://buildkite.com/my-great-org/my-pipeline/builds/2");
}

TEST(BuildkiteParse, DocsAndCliListPages) {
  auto docs = ParseBuildsPage(ReadFixture("buildkite/docs_list_builds_pipeline.json"), "bk", "o");
  ASSERT_TRUE(docs.ok()) << docs.status().ToString();
  ASSERT_EQ(docs->runs.size(), 1u);
  EXPECT_TRUE(docs->errors.empty());
  EXPECT_EQ(docs->slugs, std::vector<std::string>{"great-pipeline"});
  EXPECT_EQ(docs->runs[0].run_id, "f62a1b4d-10f9-4790-bc1c-e2c3a0c80983");
  EXPECT_EQ(docs->runs[0].number, 1);
  EXPECT_EQ(docs->runs[0].duration_seconds, 0.0);  // started_at == finished_at in the docs
  EXPECT_EQ(docs->runs[0].queue_seconds, 60.0);

  // The real, hand-redacted buildkite-cli listing: jobs [] and branch "".
  auto cli = ParseBuildsPage(ReadFixture("buildkite/cli_list_builds_pipeline_redacted.json"), "bk",
                             "buildkite");
  ASSERT_TRUE(cli.ok()) << cli.status().ToString();
  ASSERT_EQ(cli->runs.size(), 1u);
  const RunRecord& r = cli->runs[0];
  EXPECT_EQ(r.pipeline, "buildkite/buildkite-cli");
  EXPECT_EQ(r.run_id, "018f7ee5-xxxx-429f-83ad-89e3b6c6c3ef");
  EXPECT_EQ(r.number, 584);
  EXPECT_EQ(r.branch, "");
  EXPECT_EQ(r.result, "success");
  EXPECT_EQ(r.created_at, T("2024-05-16T00:55:26.401Z"));
  EXPECT_EQ(r.started_at, T("2024-05-16T00:55:30.670Z"));
  EXPECT_EQ(r.finished_at, T("2024-05-16T00:58:58.887Z"));
  // No jobs: the build's own created -> started.
  EXPECT_DOUBLE_EQ(*r.queue_seconds, 4.269);
  EXPECT_DOUBLE_EQ(*r.duration_seconds, 208.217);
  EXPECT_EQ(r.url, "https://buildkite.com/buildkite/buildkite-cli/builds/xx");
}

TEST(BuildkiteParse, EdgeCases) {
  auto page = ParseBuildsPage(ReadFixture("buildkite/edge_builds_mixed.json"), "bk", "acme");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  std::map<std::int64_t, RunRecord> by_number;
  for (const auto& r : page->runs) {
    EXPECT_TRUE(Validate(r).ok()) << r.run_id;
    by_number[*r.number] = r;
  }
  ASSERT_EQ(page->runs.size(), 10u);
  ASSERT_EQ(page->errors.size(), 5u);
  EXPECT_NE(page->errors[0].find("builds[10]: "), std::string::npos);
  EXPECT_NE(page->errors[0].find("unknown state \"exploded\""), std::string::npos);
  EXPECT_NE(page->errors[1].find("\"started_at\""), std::string::npos) << page->errors[1];
  EXPECT_NE(page->errors[2].find("without a string \"id\""), std::string::npos);
  EXPECT_NE(page->errors[3].find("no pipeline \"slug\""), std::string::npos);
  EXPECT_NE(page->errors[4].find("finished_at"), std::string::npos) << page->errors[4];

  // Waiter and manual jobs carry no times and the trigger job's 8 minutes are
  // another build's: the longest script wait is 45.5 s; a script job still
  // scheduled (no started_at) adds nothing.
  EXPECT_EQ(by_number.at(101).queue_seconds, 45.5);
  EXPECT_EQ(by_number.at(101).duration_seconds, 600.0);

  const RunRecord& canceled = by_number.at(102);  // canceled while scheduled
  EXPECT_EQ(canceled.result, "cancellation");
  EXPECT_EQ(canceled.started_at, T("2025-02-04T12:30:00Z"));
  EXPECT_EQ(canceled.duration_seconds, 0.0);
  EXPECT_EQ(canceled.queue_seconds, 1800.0);  // it waited half an hour
  EXPECT_EQ(canceled.event, "api");
  EXPECT_EQ(canceled.trigger, "other");

  EXPECT_EQ(by_number.at(103).result, "skip");  // no "jobs" key at all
  EXPECT_EQ(by_number.at(103).trigger, "other");  // trigger_job
  EXPECT_EQ(by_number.at(104).result, "success");  // blocked
  EXPECT_EQ(by_number.at(104).pipeline, "acme/deploy");
  EXPECT_EQ(by_number.at(104).trigger, "manual");  // ui
  EXPECT_EQ(by_number.at(105).result, "skip");  // not_run
  EXPECT_EQ(by_number.at(105).trigger, "schedule");

  for (std::int64_t n : {106, 107, 109}) {
    EXPECT_EQ(by_number.at(n).status, RunStatus::kRunning) << n;
    EXPECT_FALSE(by_number.at(n).result) << n;
    EXPECT_FALSE(by_number.at(n).finished_at) << n;
  }
  EXPECT_EQ(by_number.at(106).queue_seconds, 30.0);
  const RunRecord& scheduled = by_number.at(108);
  EXPECT_EQ(scheduled.status, RunStatus::kQueued);
  EXPECT_FALSE(scheduled.started_at);
  EXPECT_FALSE(scheduled.queue_seconds);  // unknown until it starts, never 0
  EXPECT_EQ(scheduled.branch, "");

  // Clock skews never give a negative queue or duration.
  const RunRecord& skewed = by_number.at(110);
  EXPECT_EQ(skewed.result, "failure");
  EXPECT_EQ(skewed.queue_seconds, 0.0);
  EXPECT_EQ(skewed.duration_seconds, 0.0);
}

TEST(BuildkiteParse, ScriptJobQueueSkipsJobsWithoutTimes) {
  auto build = Doc("buildkite/monorobot_get_build_181734_mixed_job_types.json");
  // Only the waiter and the manual job: no agent wait is known.
  boost::json::array jobs;
  for (const auto& j : build.at("jobs").as_array()) {
    const auto type = json::GetString(j, "type");
    if (type == "waiter" || type == "manual") jobs.push_back(j);
  }
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_FALSE(ScriptJobQueueSeconds(jobs));
  EXPECT_FALSE(ScriptJobQueueSeconds(boost::json::value(nullptr)));
}

TEST(BuildkiteParse, BadDocumentsAreErrors) {
  EXPECT_FALSE(ParseBuildsPage("{\"builds\": []}", "bk", "o").ok());
  EXPECT_FALSE(ParseBuildsPage("[{\"id\": \"x\",", "bk", "o").ok());
  EXPECT_FALSE(ParseBuildsPage("<html>", "bk", "o").ok());
  auto empty = ParseBuildsPage("[]", "bk", "o");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->runs.empty());
}

}  // namespace
}  // namespace cicd::exporter::buildkite
