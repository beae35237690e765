#include "cicd/core/run_record.h"

#include <gtest/gtest.h>

namespace cicd {
namespace {

constexpr const char* kDesignExample =
    R"({"source":"github","pipeline":"octo-org/app/.github/workflows/ci.yml","branch":"main",)"
    R"("run_id":"13135233733","number":42,"attempt":1,"event":"push","status":"completed","result":"success",)"
    R"("created_at":"2025-02-04T12:16:07Z","started_at":"2025-02-04T12:16:09Z","finished_at":"2025-02-04T12:26:19Z",)"
    R"("queue_seconds":2.0,"duration_seconds":610.0,"tests_total":1520,"tests_failed":0,"tests_skipped":12,"url":"https://x"})";

TEST(RunRecord, ParsesTheDesignExample) {
  auto r = ParseRunRecord(kDesignExample);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->source, "github");
  EXPECT_EQ(r->pipeline, "octo-org/app/.github/workflows/ci.yml");
  EXPECT_EQ(r->branch, "main");
  EXPECT_EQ(r->run_id, "13135233733");
  EXPECT_EQ(r->number, 42);
  EXPECT_EQ(r->attempt, 1);
  EXPECT_EQ(r->status, RunStatus::kCompleted);
  EXPECT_EQ(r->result, "success");
  EXPECT_DOUBLE_EQ(*r->queue_seconds, 2.0);
  EXPECT_DOUBLE_EQ(*r->duration_seconds, 610.0);
  EXPECT_EQ(r->tests_total, 1520);
  EXPECT_EQ(r->tests_failed, 0);
  EXPECT_EQ(r->tests_skipped, 12);
  EXPECT_EQ(FormatRfc3339(*r->finished_at), "2025-02-04T12:26:19Z");
}

TEST(RunRecord, RoundTripsThroughJsonLine) {
  auto r = ParseRunRecord(kDesignExample);
  ASSERT_TRUE(r.ok());
  auto again = ParseRunRecord(ToJsonLine(*r));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(ToJsonLine(*again), ToJsonLine(*r));
}

TEST(RunRecord, UnknownTestsStayAbsent) {
  auto r = ParseRunRecord(
      R"({"source":"jenkins","pipeline":"a/b","run_id":"7","status":"completed","result":"failure",)"
      R"("started_at":"2025-02-04T12:16:09Z","duration_seconds":60})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_FALSE(r->tests_total.has_value());
  EXPECT_EQ(ToJsonLine(*r).find("tests"), std::string::npos);
  // finished_at derived from started_at + duration.
  EXPECT_EQ(FormatRfc3339(*r->finished_at), "2025-02-04T12:17:09Z");
}

TEST(RunRecord, QueueNeverNegative) {
  RunRecord r;
  r.created_at = *ParseRfc3339("2025-02-04T12:16:10Z");
  r.started_at = *ParseRfc3339("2025-02-04T12:16:09Z");  // clock skew
  Normalize(r);
  ASSERT_TRUE(r.queue_seconds.has_value());
  EXPECT_EQ(*r.queue_seconds, 0.0);
}

TEST(RunRecord, RejectsContractViolations) {
  const char* cases[][2] = {
      {R"({"pipeline":"p","run_id":"1","status":"completed","result":"success","started_at":"2025-02-04T12:16:09Z","duration_seconds":1})", "source"},
      {R"({"source":"s","pipeline":"p","run_id":"1","status":"completed","started_at":"2025-02-04T12:16:09Z","duration_seconds":1})", "result"},
      {R"({"source":"s","pipeline":"p","run_id":"1","status":"completed","result":"passed","started_at":"2025-02-04T12:16:09Z","duration_seconds":1})", "passed"},
      {R"({"source":"s","pipeline":"p","run_id":"1","status":"completed","result":"success","started_at":"2025-02-04T12:16:09Z","duration_seconds":-5})", "duration_seconds"},
      {R"({"source":"s","pipeline":"p","run_id":"1","status":"completed","result":"success","started_at":"yesterday","duration_seconds":1})", "started_at"},
      {R"({"source":"s","pipeline":"p","run_id":"1","status":"done","result":"success","started_at":"2025-02-04T12:16:09Z"})", "status"},
      {R"({"source":"s","pipeline":"p","run_id":"1","status":"completed","result":"success","started_at":"2025-02-04T12:16:09Z","duration_seconds":"long"})", "duration_seconds"},
      {R"(["not","an","object"])", "object"},
  };
  for (const auto& c : cases) {
    auto r = ParseRunRecord(c[0]);
    ASSERT_FALSE(r.ok()) << c[0];
    EXPECT_NE(r.status().message().find(c[1]), std::string::npos) << r.status().message();
  }
}

TEST(RunRecord, DocumentReportsLineNumbers) {
  const std::string doc = std::string(kDesignExample) + "\n\n{broken\n" + kDesignExample + "\n";
  ParsedRuns parsed = ParseRunRecords(doc);
  EXPECT_EQ(parsed.runs.size(), 2u);
  ASSERT_EQ(parsed.errors.size(), 1u);
  EXPECT_EQ(parsed.errors[0].rfind("line 3:", 0), 0u) << parsed.errors[0];
}

TEST(RunRecord, KeySeparatesAttempts) {
  RunRecord r;
  r.run_id = "99";
  EXPECT_EQ(r.Key(), "99");
  r.attempt = 1;
  EXPECT_EQ(r.Key(), "99");
  r.attempt = 2;
  EXPECT_EQ(r.Key(), "99#2");
}

}  // namespace
TEST(RunRecord, TriggerComesFromTheEventWhenAbsent) {
  auto r = ParseRunRecord(kDesignExample);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->trigger, "push");
  EXPECT_NE(ToJsonLine(*r).find(R"("event":"push","trigger":"push")"), std::string::npos);
}

TEST(RunRecord, TriggerVocabulary) {
  EXPECT_EQ(TriggerFromEvent(""), "");
  EXPECT_EQ(TriggerFromEvent("push"), "push");
  EXPECT_EQ(TriggerFromEvent("webhook"), "push");
  EXPECT_EQ(TriggerFromEvent("pull_request_target"), "pull_request");
  EXPECT_EQ(TriggerFromEvent("merge_request_event"), "pull_request");
  EXPECT_EQ(TriggerFromEvent("schedule"), "schedule");
  EXPECT_EQ(TriggerFromEvent("workflow_dispatch"), "manual");
  EXPECT_EQ(TriggerFromEvent("web"), "manual");
  EXPECT_EQ(TriggerFromEvent("ui"), "manual");
  EXPECT_EQ(TriggerFromEvent("api"), "other");
  EXPECT_EQ(TriggerFromEvent("trigger_job"), "other");
  EXPECT_EQ(TriggerFromEvent("repository_dispatch"), "other");
}

TEST(RunRecord, ExplicitTriggerWinsAndIsValidated) {
  std::string line = kDesignExample;
  line.insert(line.find(R"("status")"), R"("trigger":"schedule",)");
  auto r = ParseRunRecord(line);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->trigger, "schedule");
  std::string bad = kDesignExample;
  bad.insert(bad.find(R"("status")"), R"("trigger":"nightly",)");
  auto b = ParseRunRecord(bad);
  ASSERT_FALSE(b.ok());
  EXPECT_NE(b.status().message().find("trigger \"nightly\""), std::string::npos);
}

}  // namespace cicd
