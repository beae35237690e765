// Unit tests of the Jenkins parsers and config (no I/O): every expected value
// below is the value written in the fixture file named by the test.
#include <gtest/gtest.h>

#include <cstdlib>

#include "cicd/core/log.h"
#include "cicd/core/yaml.h"
#include "cicd/exporter/sources/jenkins.h"
#include "support/fixtures.h"

namespace cicd::exporter {
namespace {

using cicd::testing::ReadFixture;

std::string Fixture(const std::string& name) { return ReadFixture("jenkins/" + name); }

const JenkinsJob kFish = MakeJenkinsJob({}, "fish", false);

// ---- job lists ----------------------------------------------------------

TEST(JenkinsJobList, RootFolderFixtureClassesAndKinds) {
  auto items = ParseJenkinsJobList(Fixture("jobsInRootFolder.json"));
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ASSERT_EQ(items->size(), 6u);
  const auto& v = *items;
  EXPECT_EQ(v[0].name, "Test Tool");
  EXPECT_EQ(v[0].item_class, "hudson.maven.MavenModuleSet");
  EXPECT_EQ(v[0].url, "http://localhost:32769/job/fish-test/");
  EXPECT_EQ(v[0].kind, JenkinsItemKind::kJob);
  EXPECT_EQ(v[1].name, "Test MultiBranch Project");
  EXPECT_EQ(v[1].item_class,
            "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject");
  EXPECT_EQ(v[1].url, "http://localhost:32769/job/fish-multibranch/");
  EXPECT_EQ(v[1].kind, JenkinsItemKind::kMultibranch);
  EXPECT_EQ(v[2].name, "Test Folder");
  EXPECT_EQ(v[2].item_class, "com.cloudbees.hudson.plugins.folder.Folder");
  EXPECT_EQ(v[2].url, "http://localhost:32769/job/fish-folder/");
  EXPECT_EQ(v[2].kind, JenkinsItemKind::kFolder);
  EXPECT_EQ(v[3].name, "Test Docker Slave");
  EXPECT_EQ(v[3].item_class, "com.cloudbees.tiger.plugins.palace.templates.DockerSlaveTemplate");
  EXPECT_EQ(v[3].url, "http://localhost:32769/job/fish-agent/");
  EXPECT_EQ(v[3].kind, JenkinsItemKind::kJob);
  EXPECT_EQ(v[4].name, "Test Free Style");
  EXPECT_EQ(v[4].item_class, "hudson.model.FreeStyleProject");
  EXPECT_EQ(v[4].url, "http://localhost:32769/job/fish-project/");
  EXPECT_EQ(v[4].kind, JenkinsItemKind::kJob);
  EXPECT_EQ(v[5].name, "Test Workflow Job");
  EXPECT_EQ(v[5].item_class, "org.jenkinsci.plugins.workflow.job.WorkflowJob");
  EXPECT_EQ(v[5].url, "http://localhost:32769/job/fish-workflow/");
  EXPECT_EQ(v[5].kind, JenkinsItemKind::kJob);
}

TEST(JenkinsJobList, FolderFixture) {
  auto items = ParseJenkinsJobList(Fixture("jobsInJenkinsFolder.json"));
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ((*items)[0].name, "Test Project");
  EXPECT_EQ((*items)[0].item_class, "hudson.model.FreeStyleProject");
  EXPECT_EQ((*items)[0].url, "http://localhost:8080/job/username");
  EXPECT_EQ((*items)[0].kind, JenkinsItemKind::kJob);
}

TEST(JenkinsJobList, OrganizationFolderIsAFolder) {
  EXPECT_EQ(ClassifyJenkinsItem("jenkins.branch.OrganizationFolder"), JenkinsItemKind::kFolder);
  EXPECT_EQ(ClassifyJenkinsItem(""), JenkinsItemKind::kJob);
}

TEST(JenkinsJobList, ItemWithoutJobsListsNothing) {
  auto items = ParseJenkinsJobList(Fixture("job-info.json"));
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  EXPECT_TRUE(items->empty());
  auto null_jobs = ParseJenkinsJobList(R"({"jobs": null})");
  ASSERT_TRUE(null_jobs.ok());
  EXPECT_TRUE(null_jobs->empty());
}

TEST(JenkinsJobList, EntriesWithoutNameAreDropped) {
  auto items =
      ParseJenkinsJobList(R"({"jobs": [{"_class": "x"}, 7, {"name": ""}, {"name": "a"}]})");
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ((*items)[0].name, "a");
  EXPECT_EQ((*items)[0].item_class, "");
}

TEST(JenkinsJobList, MalformedAndTruncatedAreParseErrors) {
  const std::string full = Fixture("jobsInRootFolder.json");
  for (const std::string& bad :
       {full.substr(0, full.size() / 2), std::string(), std::string("not json"),
        std::string("[]"), std::string(R"({"jobs": 5})"), std::string(R"({"jobs": {}})"),
        full + "}"}) {
    auto items = ParseJenkinsJobList(bad);
    ASSERT_FALSE(items.ok()) << bad;
    EXPECT_EQ(items.status().code(), ErrorCode::kParse) << bad;
  }
}

// ---- names and URLs -----------------------------------------------------

TEST(JenkinsNames, PlainJobAndBranch) {
  const JenkinsJob app = MakeJenkinsJob({"team"}, "app", false);
  EXPECT_EQ(app.names, (std::vector<std::string>{"team", "app"}));
  EXPECT_EQ(app.pipeline, "team/app");
  EXPECT_EQ(app.full_path, "team/app");
  EXPECT_EQ(app.branch, "");

  const JenkinsJob branch = MakeJenkinsJob({"team", "mb"}, "feature%2Fx", true);
  EXPECT_EQ(branch.names, (std::vector<std::string>{"team", "mb", "feature%2Fx"}));
  EXPECT_EQ(branch.pipeline, "team/mb");
  EXPECT_EQ(branch.branch, "feature/x");
  EXPECT_EQ(branch.full_path, "team/mb/feature/x");
}

TEST(JenkinsNames, JobPathEncodesEveryName) {
  EXPECT_EQ(JenkinsJobPath({}), "");
  EXPECT_EQ(JenkinsJobPath({"Test Folder", "feature%2Fx"}),
            "/job/Test%20Folder/job/feature%252Fx");
}

TEST(JenkinsNames, NamesFromUrls) {
  using V = std::vector<std::string>;
  EXPECT_EQ(JenkinsJobNamesFromUrl("http://localhost:32769/job/fish/10/"), V{"fish"});
  EXPECT_EQ(JenkinsJobNamesFromUrl("https://h:8443/jenkins/job/Test%20Folder/job/b/"),
            (V{"Test Folder", "b"}));
  EXPECT_EQ(JenkinsJobNamesFromUrl("http://h/job/mb/job/feature%252Fx/"), (V{"mb", "feature%2Fx"}));
  EXPECT_EQ(JenkinsJobNamesFromUrl("http://h/view/All/job/y/?x=1"), V{"y"});
  EXPECT_EQ(JenkinsJobNamesFromUrl("http://h/job/job/job/x"), (V{"job", "x"}));
  EXPECT_EQ(JenkinsJobNamesFromUrl("/job/rel/"), V{"rel"});
  EXPECT_TRUE(JenkinsJobNamesFromUrl("").empty());
  EXPECT_TRUE(JenkinsJobNamesFromUrl("http://h").empty());
  EXPECT_TRUE(JenkinsJobNamesFromUrl("queue/item/7/").empty());
  EXPECT_TRUE(JenkinsJobNamesFromUrl("http://h/job/").empty());
}

TEST(JenkinsNames, PercentDecode) {
  EXPECT_EQ(detail::PercentDecode("a%20b"), "a b");
  EXPECT_EQ(detail::PercentDecode("feature%2fx"), "feature/x");
  EXPECT_EQ(detail::PercentDecode("feature%252Fx"), "feature%2Fx");
  EXPECT_EQ(detail::PercentDecode("50%"), "50%");
  EXPECT_EQ(detail::PercentDecode("%2"), "%2");
  EXPECT_EQ(detail::PercentDecode("%zz+"), "%zz+");
}

// ---- builds -------------------------------------------------------------

TEST(JenkinsResultMap, OtelVocabulary) {
  EXPECT_EQ(JenkinsResult("SUCCESS"), "success");
  EXPECT_EQ(JenkinsResult("FAILURE"), "failure");
  EXPECT_EQ(JenkinsResult("UNSTABLE"), "failure");
  EXPECT_EQ(JenkinsResult("ABORTED"), "cancellation");
  EXPECT_EQ(JenkinsResult("NOT_BUILT"), "skip");
  EXPECT_EQ(JenkinsResult("success"), "error");
  EXPECT_EQ(JenkinsResult(""), "error");
  EXPECT_EQ(JenkinsResult("SOMETHING_NEW"), "error");
}

void ExpectBuildInfoFixture(const std::string& file) {
  SCOPED_TRACE(file);
  auto build = ParseJenkinsBuild(Fixture(file), "jenkins", kFish);
  ASSERT_TRUE(build.ok()) << build.status().ToString();
  const RunRecord& r = build->run;
  EXPECT_EQ(r.source, "jenkins");
  EXPECT_EQ(r.pipeline, "fish");
  EXPECT_EQ(r.branch, "");
  EXPECT_EQ(r.run_id, "10");
  EXPECT_EQ(r.number, 10);
  EXPECT_FALSE(r.attempt.has_value());
  EXPECT_EQ(r.status, RunStatus::kCompleted);
  EXPECT_EQ(r.result, "success");
  EXPECT_EQ(r.started_at, FromUnixMillis(1461091892486));
  ASSERT_TRUE(r.duration_seconds.has_value());
  EXPECT_DOUBLE_EQ(*r.duration_seconds, 60.75);
  EXPECT_EQ(r.finished_at, FromUnixMillis(1461091892486 + 60750));
  EXPECT_EQ(r.url, "http://localhost:32769/job/fish/10/");
  EXPECT_EQ(build->queue_id, 73);
  // No test report and no queue-time action: unknown, not zero.
  EXPECT_FALSE(r.tests_total.has_value());
  EXPECT_FALSE(r.tests_failed.has_value());
  EXPECT_FALSE(r.tests_skipped.has_value());
  EXPECT_FALSE(r.queue_seconds.has_value());
  EXPECT_FALSE(r.created_at.has_value());
  EXPECT_TRUE(Validate(r).ok());
}

TEST(JenkinsBuild, BuildInfoFixtures) {
  ExpectBuildInfoFixture("build-info.json");
  ExpectBuildInfoFixture("build-info-git-commit.json");
  ExpectBuildInfoFixture("build-info-empty-and-null-params.json");
  // Carries a TimeInQueueAction without its fields: queue time stays unknown.
  ExpectBuildInfoFixture("build-info-no-params.json");
}

TEST(JenkinsBuild, MalformedAndTruncatedAreParseErrors) {
  const std::string full = Fixture("build-info.json");
  for (const std::string& bad :
       {full.substr(0, full.size() / 2), full.substr(0, full.size() - 3), std::string(),
        std::string("{"), std::string("[1]"), std::string(R"({"number": 1})"),
        std::string(R"({"timestamp": 1})"), std::string(R"({"number": "1", "timestamp": 1})")}) {
    auto build = ParseJenkinsBuild(bad, "jenkins", kFish);
    ASSERT_FALSE(build.ok()) << bad;
    EXPECT_EQ(build.status().code(), ErrorCode::kParse) << bad;
  }
}

TEST(JenkinsBuild, EdgeListWithTestsAndQueueActions) {
  const JenkinsJob app = MakeJenkinsJob({"team"}, "app", false);
  auto list = ParseJenkinsBuilds(Fixture("edge_builds_app.json"), "ci", app);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_TRUE(list->skipped.empty());
  ASSERT_EQ(list->builds.size(), 6u);
  const auto& b = list->builds;

  // #12: running; its partial test report is not reported.
  EXPECT_EQ(b[0].run.run_id, "12");
  EXPECT_EQ(b[0].run.status, RunStatus::kRunning);
  EXPECT_FALSE(b[0].run.result.has_value());
  EXPECT_FALSE(b[0].run.finished_at.has_value());
  EXPECT_FALSE(b[0].run.duration_seconds.has_value());
  EXPECT_FALSE(b[0].run.tests_total.has_value());
  EXPECT_EQ(b[0].run.started_at, FromUnixMillis(1767225540000));
  EXPECT_EQ(b[0].queue_id, 912);

  // #11: JUnit report and queuingDurationMillis.
  EXPECT_EQ(b[1].run.result, "success");
  EXPECT_EQ(b[1].run.tests_total, 120);
  EXPECT_EQ(b[1].run.tests_failed, 0);
  EXPECT_EQ(b[1].run.tests_skipped, 3);
  ASSERT_TRUE(b[1].run.queue_seconds.has_value());
  EXPECT_DOUBLE_EQ(*b[1].run.queue_seconds, 4.2);
  EXPECT_EQ(b[1].run.created_at, FromUnixMillis(1767223800000 - 4200));
  EXPECT_EQ(b[1].run.finished_at, FromUnixMillis(1767223800000 + 600000));
  EXPECT_EQ(b[1].run.pipeline, "team/app");
  EXPECT_EQ(b[1].run.url, "http://jenkins.example:8080/jenkins/job/team/job/app/11/");

  // #10: aggregated report, queue time as the sum of its three parts.
  EXPECT_EQ(b[2].run.result, "failure");
  EXPECT_EQ(b[2].run.tests_total, 50);
  EXPECT_EQ(b[2].run.tests_failed, 2);
  EXPECT_EQ(b[2].run.tests_skipped, 0);
  ASSERT_TRUE(b[2].run.queue_seconds.has_value());
  EXPECT_DOUBLE_EQ(*b[2].run.queue_seconds, 4.0);
  EXPECT_DOUBLE_EQ(*b[2].run.duration_seconds, 754.321);

  // #9: an empty TimeInQueueAction leaves the queue time unknown.
  EXPECT_EQ(b[3].run.result, "cancellation");
  EXPECT_FALSE(b[3].run.queue_seconds.has_value());
  EXPECT_FALSE(b[3].run.tests_total.has_value());
  EXPECT_EQ(b[3].queue_id, 909);

  EXPECT_EQ(b[4].run.result, "skip");
  EXPECT_DOUBLE_EQ(*b[4].run.duration_seconds, 0.0);
  EXPECT_EQ(b[5].run.result, "failure");
  for (const auto& build : b) EXPECT_TRUE(Validate(build.run).ok()) << build.run.run_id;
}

TEST(JenkinsBuild, JobInfoBuildsWithoutTimestampsAreSkipped) {
  auto list = ParseJenkinsBuilds(Fixture("job-info.json"), "jenkins", kFish);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  EXPECT_TRUE(list->builds.empty());
  ASSERT_EQ(list->skipped.size(), 7u);
  EXPECT_NE(list->skipped[0].find("build #7"), std::string::npos) << list->skipped[0];
}

TEST(JenkinsBuild, ListEdgeCases) {
  auto list = ParseJenkinsBuilds(R"({"builds": [
      {"number": 1, "timestamp": 1000, "building": true, "result": "FAILURE", "duration": 0},
      {"number": 2, "timestamp": 1000, "result": null},
      {"number": 3, "timestamp": 1000, "building": false, "result": "WHATEVER", "duration": 5},
      {"number": 4, "timestamp": 1000, "building": false, "result": "SUCCESS"},
      "not a build",
      {"number": 5, "timestamp": 1000, "building": false, "result": "SUCCESS", "duration": -3},
      {"number": 6, "timestamp": 10000, "building": false, "result": "SUCCESS", "duration": 5,
       "queueId": -1, "actions": [
         {"_class": "jenkins.metrics.impl.TimeInQueueAction", "queuingDurationMillis": -5000},
         {"_class": "hudson.tasks.junit.TestResultAction", "totalCount": 4, "failCount": null},
         {"_class": "hudson.tasks.junit.TestResultAction", "totalCount": 99}]},
      {"number": 7, "timestamp": 1000, "building": false, "result": "SUCCESS", "duration": 5,
       "actions": [{"_class": "jenkins.metrics.impl.TimeInQueueAction",
                    "blockedDurationMillis": 10, "waitingDurationMillis": 20}]}
    ]})",
                                 "jenkins", kFish);
  ASSERT_TRUE(list.ok()) << list.status().ToString();
  ASSERT_EQ(list->builds.size(), 5u);
  EXPECT_EQ(list->skipped.size(), 3u);  // #4 no duration, the string, #5 negative
  const auto& b = list->builds;
  // A result reported while building is not final.
  EXPECT_EQ(b[0].run.status, RunStatus::kRunning);
  EXPECT_FALSE(b[0].run.result.has_value());
  // No `building` field: a null result means running.
  EXPECT_EQ(b[1].run.status, RunStatus::kRunning);
  EXPECT_EQ(b[2].run.result, "error");
  // A negative queue duration is clamped; queueId -1 is unknown.
  EXPECT_EQ(b[3].run.run_id, "6");
  ASSERT_TRUE(b[3].run.queue_seconds.has_value());
  EXPECT_EQ(*b[3].run.queue_seconds, 0.0);
  EXPECT_EQ(b[3].run.created_at, b[3].run.started_at);
  EXPECT_FALSE(b[3].queue_id.has_value());
  // The first test report counts; a null count is unknown.
  EXPECT_EQ(b[3].run.tests_total, 4);
  EXPECT_FALSE(b[3].run.tests_failed.has_value());
  EXPECT_FALSE(b[3].run.tests_skipped.has_value());
  // Only two of the three parts: unknown rather than understated.
  EXPECT_EQ(b[4].run.run_id, "7");
  EXPECT_FALSE(b[4].run.queue_seconds.has_value());
}

TEST(JenkinsBuild, ListMalformedTruncatedAndWrongShapes) {
  const std::string full = ReadFixture("jenkins/edge_builds_app.json");
  for (const std::string& bad :
       {full.substr(0, full.size() / 3), full.substr(0, full.size() - 2),
        Fixture("runHistory.json"), std::string(R"({"builds": {}})"),
        std::string(R"({"builds": "x"})"), std::string("\"builds\""), std::string("nul")}) {
    auto list = ParseJenkinsBuilds(bad, "jenkins", kFish);
    ASSERT_FALSE(list.ok()) << bad.substr(0, 40);
    EXPECT_EQ(list.status().code(), ErrorCode::kParse);
  }
  auto none = ParseJenkinsBuilds(R"({"_class": "x"})", "jenkins", kFish);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->builds.empty());
}

// ---- queue --------------------------------------------------------------

TEST(JenkinsQueue, RunningItemFixture) {
  auto item = ParseJenkinsQueueItem(Fixture("queueItemRunning.json"));
  ASSERT_TRUE(item.ok()) << item.status().ToString();
  EXPECT_EQ(item->id, 143);
  EXPECT_EQ(item->in_queue_since, FromUnixMillis(1524074837590));
  EXPECT_EQ(item->executable_number, 14);
  EXPECT_FALSE(item->cancelled);
  EXPECT_EQ(item->why, "");
  EXPECT_EQ(item->task_names, std::vector<std::string>{"test"});
  EXPECT_EQ(item->url, "queue/item/143/");
}

TEST(JenkinsQueue, PendingItemFixture) {
  auto item = ParseJenkinsQueueItem(Fixture("queueItemPending.json"));
  ASSERT_TRUE(item.ok()) << item.status().ToString();
  EXPECT_EQ(item->id, 143);
  EXPECT_EQ(item->in_queue_since, FromUnixMillis(1524074568030));
  EXPECT_FALSE(item->executable_number.has_value());
  EXPECT_FALSE(item->cancelled);
  EXPECT_EQ(item->why, "Build #9 is already in progress (ETA:15 sec)");
  EXPECT_EQ(item->task_names, std::vector<std::string>{"test"});
}

TEST(JenkinsQueue, CancelledItemFixture) {
  auto item = ParseJenkinsQueueItem(Fixture("queueItemCancelled.json"));
  ASSERT_TRUE(item.ok()) << item.status().ToString();
  EXPECT_EQ(item->id, 143);
  EXPECT_EQ(item->in_queue_since, FromUnixMillis(1524074568030));
  EXPECT_TRUE(item->cancelled);
  EXPECT_FALSE(item->executable_number.has_value());  // "executable": null
}

TEST(JenkinsQueue, TaskWithoutUrlOrName) {
  auto placeholder = ParseJenkinsQueueItem(Fixture("queueItemMissingTaskUrl.json"));
  ASSERT_TRUE(placeholder.ok()) << placeholder.status().ToString();
  EXPECT_EQ(placeholder->id, 3549);
  EXPECT_EQ(placeholder->in_queue_since, FromUnixMillis(1613541614644));
  EXPECT_TRUE(placeholder->task_names.empty());
  EXPECT_EQ(placeholder->why, "Just a random message here");

  // The job is found through its URL, so a null name does not matter.
  auto null_name = ParseJenkinsQueueItem(Fixture("queueItemNullTaskName.json"));
  ASSERT_TRUE(null_name.ok()) << null_name.status().ToString();
  EXPECT_EQ(null_name->task_names, std::vector<std::string>{"test"});
}

TEST(JenkinsQueue, ParameterFixturesParse) {
  for (const char* f : {"queueItemMultipleParameters.json", "queueItemEmptyParameterValue.json"}) {
    auto item = ParseJenkinsQueueItem(Fixture(f));
    EXPECT_TRUE(item.ok()) << f << ": " << item.status().ToString();
  }
}

TEST(JenkinsQueue, WholeQueueFixture) {
  auto items = ParseJenkinsQueue(Fixture("queue.json"));
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ASSERT_EQ(items->size(), 2u);
  const auto& v = *items;
  EXPECT_EQ(v[0].id, 7);
  EXPECT_EQ(v[0].in_queue_since, FromUnixMillis(1460738557584));
  EXPECT_EQ(v[0].task_names, std::vector<std::string>{"chicken"});
  EXPECT_EQ(v[0].why, "Waiting for next available executor");
  EXPECT_EQ(v[0].url, "queue/item/7/");
  EXPECT_EQ(v[1].id, 6);
  EXPECT_EQ(v[1].in_queue_since, FromUnixMillis(1460738551155));
  EXPECT_EQ(v[1].task_names, std::vector<std::string>{"Freestyle"});
  EXPECT_EQ(v[1].url, "queue/item/6/");

  const JenkinsJob chicken = MakeJenkinsJob({}, "chicken", false);
  auto run = JenkinsQueuedRun(v[0], "jenkins", chicken, "http://ci.example/jenkins/");
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->source, "jenkins");
  EXPECT_EQ(run->pipeline, "chicken");
  EXPECT_EQ(run->run_id, "queue-7");
  EXPECT_EQ(run->status, RunStatus::kQueued);
  EXPECT_EQ(run->created_at, FromUnixMillis(1460738557584));
  EXPECT_FALSE(run->started_at.has_value());
  EXPECT_FALSE(run->number.has_value());
  EXPECT_EQ(run->url, "http://ci.example/jenkins/queue/item/7/");
  EXPECT_TRUE(Validate(*run).ok());

  JenkinsQueueItem no_time = v[0];
  no_time.in_queue_since.reset();
  EXPECT_FALSE(JenkinsQueuedRun(no_time, "jenkins", chicken, "http://ci").has_value());
}

TEST(JenkinsQueue, ItemsWithoutIdAreDropped) {
  auto items = ParseJenkinsQueue(R"({"items": [{"inQueueSince": 5}, 3, {"id": 9}]})");
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ((*items)[0].id, 9);
  EXPECT_FALSE((*items)[0].in_queue_since.has_value());
  auto empty = ParseJenkinsQueue("{}");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(JenkinsQueue, MalformedAndTruncatedAreParseErrors) {
  const std::string queue = Fixture("queue.json");
  const std::string item = Fixture("queueItemRunning.json");
  for (const std::string& bad : {queue.substr(0, queue.size() / 2), std::string(R"({"items": 1})"),
                                 std::string("[]"), std::string("")}) {
    auto parsed = ParseJenkinsQueue(bad);
    ASSERT_FALSE(parsed.ok()) << bad.substr(0, 40);
    EXPECT_EQ(parsed.status().code(), ErrorCode::kParse);
  }
  for (const std::string& bad : {item.substr(0, item.size() - 10), std::string("{}"),
                                 std::string(R"({"id": "143"})"), std::string("7")}) {
    auto parsed = ParseJenkinsQueueItem(bad);
    ASSERT_FALSE(parsed.ok()) << bad.substr(0, 40);
    EXPECT_EQ(parsed.status().code(), ErrorCode::kParse);
  }
}

TEST(JenkinsQueue, ApplyItemToItsBuildOnly) {
  auto item = ParseJenkinsQueueItem(Fixture("queueItemRunning.json"));
  ASSERT_TRUE(item.ok());
  auto build = ParseJenkinsBuild(Fixture("build-info.json"), "jenkins", kFish);
  ASSERT_TRUE(build.ok());

  // The fixture item became build #14, not #10.
  RunRecord ten = build->run;
  EXPECT_FALSE(ApplyJenkinsQueueItem(*item, ten));
  EXPECT_FALSE(ten.created_at.has_value());

  RunRecord fourteen = build->run;
  fourteen.number = 14;
  fourteen.run_id = "14";
  fourteen.started_at = FromUnixMillis(1524074837590 + 2500);
  EXPECT_TRUE(ApplyJenkinsQueueItem(*item, fourteen));
  EXPECT_EQ(fourteen.created_at, FromUnixMillis(1524074837590));
  ASSERT_TRUE(fourteen.queue_seconds.has_value());
  EXPECT_DOUBLE_EQ(*fourteen.queue_seconds, 2.5);

  // Clock skew: a queue entry after the start never gives a negative wait.
  RunRecord skewed = fourteen;
  skewed.started_at = FromUnixMillis(1524074837590 - 1000);
  EXPECT_TRUE(ApplyJenkinsQueueItem(*item, skewed));
  EXPECT_EQ(*skewed.queue_seconds, 0.0);

  auto cancelled = ParseJenkinsQueueItem(Fixture("queueItemCancelled.json"));
  ASSERT_TRUE(cancelled.ok());
  RunRecord any = fourteen;
  any.created_at.reset();
  any.queue_seconds.reset();
  EXPECT_FALSE(ApplyJenkinsQueueItem(*cancelled, any));
  EXPECT_FALSE(any.queue_seconds.has_value());
}

// ---- config -------------------------------------------------------------

SourceFactory ParseYaml(const std::string& text) {
  YamlMap y(LoadYaml(text, "test.yml"), "sources[0]");
  SourceCommon common;
  common.type = "jenkins";
  common.name = "jenkins";
  SourceFactory f = ParseJenkinsConfig(y, common);
  y.Finish();
  return f;
}

TEST(JenkinsConfig, ReadsEveryKeyWithEnvExpansion) {
  ::setenv("CICD_TEST_JENKINS_TOKEN", "env-token-abcdef", 1);
  EXPECT_NO_THROW(ParseYaml(R"(
url: https://ci.example.com/jenkins
user: robot
token: ${CICD_TEST_JENKINS_TOKEN}
jobs:
  include: ["team/*"]
  exclude: ["team/legacy-*"]
max_depth: 2
max_jobs: 10
builds_per_job: 5
fetch_queue_items: false
)"));
  EXPECT_EQ(Logging::Redact("x env-token-abcdef y"), "x <redacted> y");
}

TEST(JenkinsConfig, MinimalConfigIsAnonymous) {
  EXPECT_NO_THROW(ParseYaml("url: http://127.0.0.1:8080\n"));
}

TEST(JenkinsConfig, Rejections) {
  EXPECT_THROW(ParseYaml("user: robot\n"), ConfigError);  // no url
  EXPECT_THROW(ParseYaml("url: ftp://ci\n"), ConfigError);
  EXPECT_THROW(ParseYaml("url: ci.example.com\n"), ConfigError);
  EXPECT_THROW(ParseYaml("url: http://ci\njobs: {include: [a], inlcude: [b]}\n"), ConfigError);
  // A token without a user, and a user without a token.
  EXPECT_THROW(ParseYaml("url: http://ci\ntoken: jenkins-test-orphan-token\n"), ConfigError);
  EXPECT_THROW(ParseYaml("url: http://ci\nuser: robot\n"), ConfigError);
  EXPECT_THROW(ParseYaml("url: http://ci\nmax_depth: -1\n"), ConfigError);
  EXPECT_THROW(ParseYaml("url: http://ci\nmax_jobs: 0\n"), ConfigError);
  EXPECT_THROW(ParseYaml("url: http://ci\nbuilds_per_job: 0\n"), ConfigError);
  EXPECT_THROW(ParseYaml("url: http://ci\nfetch_queue_items: maybe\n"), ConfigError);
  EXPECT_THROW(ParseYaml("url: http://ci\ntoken: ${CICD_TEST_JENKINS_UNSET_VAR}\n"), ConfigError);
  // Keys this parser does not know are left for the caller's Finish().
  EXPECT_THROW(ParseYaml("url: http://ci\nbuild_per_job: 5\n"), ConfigError);
}

TEST(JenkinsConfig, ErrorNamesTheKey) {
  try {
    ParseYaml("url: http://ci\njobs:\n  includes: [a]\n");
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("includes"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cicd::exporter
