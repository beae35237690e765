#include "cicd/detector/pipeline_model.h"

#include <gtest/gtest.h>

#include <random>

#include "cicd/detector/replay.h"

namespace cicd::detector {
namespace {

const TimePoint kT0 = *ParseRfc3339("2025-03-03T00:00:00Z");

RunRecord MakeRun(int i, double duration, std::string result = "success") {
  RunRecord r;
  r.source = "gh";
  r.pipeline = "o/r/ci.yml";
  r.run_id = std::to_string(i);
  r.status = RunStatus::kCompleted;
  r.result = std::move(result);
  r.started_at = kT0 + std::chrono::hours(i);
  r.duration_seconds = duration;
  r.finished_at = *r.started_at + std::chrono::seconds(static_cast<int>(duration));
  r.queue_seconds = 10;
  r.tests_total = 1520;
  r.tests_failed = 0;
  r.tests_skipped = 12;
  return r;
}

TEST(BinomialTail, HandValues) {
  EXPECT_NEAR(BinomialTail(6, 4, 0.5), 22.0 / 64.0, 1e-12);
  EXPECT_NEAR(BinomialTail(3, 3, 0.1), 0.001, 1e-12);
  EXPECT_DOUBLE_EQ(BinomialTail(5, 0, 0.2), 1.0);
  EXPECT_DOUBLE_EQ(BinomialTail(5, 6, 0.2), 0.0);
}

TEST(PipelineModel, ColdStartGivesNoVerdict) {
  DetectionOptions o;
  o.min_runs = 20;
  PipelineModel m(o);
  for (int i = 0; i < 20; ++i) {
    const Verdict v = m.Process(MakeRun(i, i == 5 ? 9000 : 600));
    EXPECT_FALSE(v.scored);
    EXPECT_FALSE(v.anomalous);
  }
  EXPECT_TRUE(m.Process(MakeRun(20, 600)).scored);
}

TEST(PipelineModel, FlatSeriesGivesNoVerdicts) {
  PipelineModel m(DetectionOptions{});
  for (int i = 0; i < 300; ++i) {
    const Verdict v = m.Process(MakeRun(i, 600));
    EXPECT_FALSE(v.anomalous) << i << " " << v.ToJsonLine();
  }
  // Quantised wobble around a flat level is not an anomaly either.
  for (int i = 300; i < 400; ++i) {
    EXPECT_FALSE(m.Process(MakeRun(i, 600 + (i % 3) * 5)).anomalous);
  }
}

TEST(PipelineModel, ObviousOutlierIsSlowWithCalibratedReason) {
  PipelineModel m(DetectionOptions{});
  std::mt19937_64 rng(1);
  std::normal_distribution<double> noise(610, 20);
  for (int i = 0; i < 100; ++i) ASSERT_FALSE(m.Process(MakeRun(i, noise(rng))).anomalous);
  const Verdict v = m.Process(MakeRun(100, 1840));
  ASSERT_TRUE(v.anomalous) << v.ToJsonLine();
  EXPECT_EQ(v.kind, "slow");
  EXPECT_GE(v.score, 1.0);
  EXPECT_EQ(v.context, "/main");
  ASSERT_FALSE(v.reasons.empty());
  EXPECT_EQ(v.reasons[0].rfind("duration 1840 s, usual ", 0), 0u) << v.reasons[0];
  EXPECT_NE(v.reasons[0].find("runs this slow happen "), std::string::npos) << v.reasons[0];
  EXPECT_GT(v.feature_scores.at("duration"), 1.0);
  // The outlier was not learnt: the next normal run is normal.
  EXPECT_FALSE(m.Process(MakeRun(101, 610)).anomalous);
}

TEST(PipelineModel, ContextsKeepTheirOwnLevels) {
  // Nightly runs take three times as long as push runs: normal for them,
  // slow for a push run.
  PipelineModel m(DetectionOptions{});
  std::mt19937_64 rng(4);
  std::normal_distribution<double> noise(1.0, 0.05);
  auto run = [&](int i, const char* trigger, double base) {
    RunRecord r = MakeRun(i, base * noise(rng));
    r.trigger = trigger;
    return r;
  };
  int i = 0;
  for (; i < 200; ++i) {
    const Verdict v = m.Process(i % 10 == 9 ? run(i, "schedule", 1800) : run(i, "push", 600));
    ASSERT_FALSE(v.anomalous) << i << " " << v.ToJsonLine();
  }
  const Verdict nightly = m.Process(run(i++, "schedule", 1800));
  EXPECT_FALSE(nightly.anomalous) << nightly.ToJsonLine();
  EXPECT_EQ(nightly.context, "schedule/main");
  const Verdict push = m.Process(run(i++, "push", 1800));
  EXPECT_TRUE(push.anomalous) << push.ToJsonLine();
  EXPECT_EQ(push.kind, "slow");
  EXPECT_NE(push.reasons[0].find("for push runs on the default branch"), std::string::npos) << push.reasons[0];
}

TEST(PipelineModel, FirstRunsOfANewTriggerAreNotJudgedOnTheirLevel) {
  PipelineModel m(DetectionOptions{});
  int i = 0;
  for (; i < 100; ++i) m.Process(MakeRun(i, 600 + i % 7));
  for (int k = 0; k < 5; ++k) {
    RunRecord nightly = MakeRun(i++, 3000);
    nightly.trigger = "schedule";
    const Verdict v = m.Process(nightly);
    EXPECT_FALSE(v.anomalous) << v.ToJsonLine();
    EXPECT_EQ(v.feature_scores.count("duration"), 0u);
  }
}

TEST(PipelineModel, LevelShiftIsOneRegressionNotFifty) {
  PipelineModel m(DetectionOptions{});
  std::mt19937_64 rng(2);
  std::normal_distribution<double> noise(1.0, 0.03);
  int i = 0;
  for (; i < 100; ++i) ASSERT_FALSE(m.Process(MakeRun(i, 600 * noise(rng))).anomalous);
  int regressions = 0, anomalies = 0;
  std::optional<TimePoint> start;
  for (; i < 150; ++i) {  // +40% from run 100 on
    const Verdict v = m.Process(MakeRun(i, 840 * noise(rng)));
    anomalies += v.anomalous ? 1 : 0;
    if (v.kind == "regression") {
      ++regressions;
      start = v.regression_start;
      EXPECT_NE(v.reasons[0].find("duration level shift: the last "), std::string::npos) << v.reasons[0];
    }
  }
  EXPECT_EQ(regressions, 1);
  EXPECT_EQ(anomalies, 1);
  ASSERT_TRUE(start.has_value());
  // The first run of the shift, or one just before it that the noise raised.
  EXPECT_LE(*start, kT0 + std::chrono::hours(100));
  EXPECT_GE(*start, kT0 + std::chrono::hours(97));
  // After the shift the baseline has adapted around 840 s.
  EXPECT_NEAR(m.Expected().at("duration").median, 840, 40);
}

TEST(PipelineModel, TestsMissingAndQueueSpike) {
  PipelineModel m(DetectionOptions{});
  for (int i = 0; i < 60; ++i) m.Process(MakeRun(i, 600 + i % 7));
  RunRecord no_tests = MakeRun(60, 150);  // fast and empty
  no_tests.tests_total = 0;
  no_tests.tests_failed = 0;
  no_tests.tests_skipped = 0;
  Verdict v = m.Process(no_tests);
  EXPECT_EQ(v.kind, "tests_missing") << v.ToJsonLine();
  EXPECT_EQ(v.reasons[0].rfind("tests 0 vs usual 1520 for runs on the default branch; duration 150 s vs usual ", 0),
            0u)
      << v.reasons[0];
  for (int i = 61; i < 70; ++i) m.Process(MakeRun(i, 600 + i % 7));  // past the open incident
  RunRecord absent = MakeRun(70, 604);
  absent.tests_total.reset();
  v = m.Process(absent);
  EXPECT_EQ(v.kind, "tests_missing");
  EXPECT_EQ(v.reasons[0].rfind("no test report, after ", 0), 0u) << v.reasons[0];
  RunRecord failed_build = MakeRun(71, 100, "failure");
  failed_build.tests_total.reset();
  EXPECT_NE(m.Process(failed_build).kind, "tests_missing");  // a failed build may have no report
  RunRecord queued = MakeRun(72, 603);
  queued.queue_seconds = 400;
  v = m.Process(queued);
  EXPECT_EQ(v.kind, "queue");
  EXPECT_EQ(v.reasons[0].rfind("queued 400 s", 0), 0u) << v.reasons[0];
}

TEST(PipelineModel, FailureBurstOnceAccountingForFewRuns) {
  PipelineModel m(DetectionOptions{});
  for (int i = 0; i < 100; ++i) m.Process(MakeRun(i, 600, i % 25 == 0 ? "failure" : "success"));
  int bursts = 0;
  for (int i = 100; i < 106; ++i) bursts += m.Process(MakeRun(i, 300, "failure")).kind == "failure_burst";
  EXPECT_EQ(bursts, 1);
  // Two failures in a row at a 4% base rate are not a burst.
  PipelineModel m2(DetectionOptions{});
  for (int i = 0; i < 100; ++i) m2.Process(MakeRun(i, 600, i % 25 == 0 ? "failure" : "success"));
  EXPECT_FALSE(m2.Process(MakeRun(100, 300, "failure")).anomalous);
  EXPECT_FALSE(m2.Process(MakeRun(101, 300, "failure")).anomalous);
}

TEST(PipelineModel, FailuresOnPullRequestBranchesAreJudgedAtTheirOwnRate) {
  // Pull requests fail one run in three: three PR failures in a row are
  // ordinary, five on the default branch (4% there) are a burst.
  auto history = [](PipelineModel& m) {
    for (int i = 0; i < 300; ++i) {
      RunRecord r = MakeRun(i, 600, "success");
      if (i % 2 == 1) {
        r.branch = "feature/x";
        if (i % 3 == 0) r.result = "failure";
      } else if (i % 50 == 0) {
        r.result = "failure";
      }
      m.Process(r);
    }
  };
  PipelineModel prs(DetectionOptions{});
  history(prs);
  bool burst = false;
  for (int i = 300; i < 303; ++i) {
    RunRecord r = MakeRun(i, 300, "failure");
    r.branch = "feature/y";
    burst = burst || prs.Process(r).kind == "failure_burst";
  }
  EXPECT_FALSE(burst);
  PipelineModel main(DetectionOptions{});
  history(main);
  burst = false;
  for (int i = 300; i < 305; ++i) burst = burst || main.Process(MakeRun(i, 300, "failure")).kind == "failure_burst";
  EXPECT_TRUE(burst);
}

TEST(PipelineModel, StuckActiveRun) {
  PipelineModel m(DetectionOptions{});
  for (int i = 0; i < 60; ++i) m.Process(MakeRun(i, 600));
  const auto limit = m.StuckThresholdSeconds();
  ASSERT_TRUE(limit.has_value());
  EXPECT_NEAR(*limit, 1200, 1);  // stuck_factor x the median: the flat tail is lower
  RunRecord active = MakeRun(60, 0);
  active.status = RunStatus::kRunning;
  EXPECT_FALSE(m.CheckActive(active, *active.started_at + std::chrono::seconds(1100)).has_value());
  auto v = m.CheckActive(active, *active.started_at + std::chrono::seconds(1300));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->kind, "stuck");
  // A finished run far past the limit is stuck too.
  EXPECT_EQ(m.Process(MakeRun(61, 5000, "timeout")).kind, "stuck");
}

TEST(PipelineModel, FalsePositiveFeedbackIsLearntAsNormal) {
  PipelineModel m(DetectionOptions{});
  std::mt19937_64 rng(6);
  std::normal_distribution<double> noise(600, 15);
  for (int i = 0; i < 100; ++i) m.Process(MakeRun(i, noise(rng)));
  const Verdict first = m.Process(MakeRun(100, 1500));
  ASSERT_TRUE(first.anomalous);
  const double before = first.feature_scores.at("duration");
  m.LearnAsNormal(MakeRun(100, 1500));
  // The same duration is less surprising once a user said it is normal.
  const Verdict again = m.Process(MakeRun(120, 1500));
  EXPECT_LT(again.feature_scores.at("duration"), before);
}

TEST(Replay, JudgesInFinishOrderWithPastRunsOnly) {
  std::vector<RunRecord> runs;
  for (int i = 0; i < 60; ++i) runs.push_back(MakeRun(i, 600 + i % 5));
  runs.push_back(MakeRun(60, 3000));
  std::reverse(runs.begin(), runs.end());  // input order does not matter
  const auto verdicts = ReplayRuns(runs, DetectionOptions{});
  ASSERT_EQ(verdicts.size(), 61u);
  EXPECT_EQ(verdicts.front().run_id, "0");
  EXPECT_FALSE(verdicts.front().scored);
  EXPECT_EQ(verdicts.back().run_id, "60");
  EXPECT_TRUE(verdicts.back().anomalous);
  EXPECT_EQ(verdicts.back().ToJsonLine().rfind(
                R"({"source":"gh","pipeline":"o/r/ci.yml","run_id":"60","scored":true,"anomalous":true,)", 0),
            0u);
}

}  // namespace
}  // namespace cicd::detector

namespace cicd::detector {
namespace {

// The forest's conformal p-value cannot go below 1 / (n + 1): with 256
// training runs it can speak only at a false alarm rate whose share is
// above 1/257.
TEST(PipelineModelForest, ForestVerdictWhenNoSingleFeatureAlerts) {
  // A queue of 55 s against a steady 10 s and a duration of 680 s against
  // 600 +- 10 s are far outside what the forest was trained on, but below
  // the queue rule's 60 s minimum excess and the slow rule's 1.5 x the
  // median: only the forest reports the run (kind multivariate).
  DetectionOptions o;
  o.false_alarm_rate = 0.1;
  PipelineModel m(o);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise(0, 1);
  auto make = [&](int i) {
    RunRecord r = MakeRun(i, 600 + 10 * noise(rng));
    r.queue_seconds = 10 + noise(rng);
    return r;
  };
  for (int i = 0; i < 256; ++i) m.Process(make(i));
  EXPECT_FALSE(m.has_forest());
  m.Retrain();
  ASSERT_TRUE(m.has_forest());
  RunRecord odd = make(256);
  odd.queue_seconds = 55;
  odd.duration_seconds = 680;
  const Verdict v = m.Process(odd);
  ASSERT_TRUE(v.anomalous) << v.ToJsonLine();
  EXPECT_EQ(v.kind, "multivariate");
  EXPECT_NE(v.reasons[0].find("isolation forest score"), std::string::npos) << v.reasons[0];
  EXPECT_NE(v.reasons[0].find("queued 55 s"), std::string::npos) << v.reasons[0];
  // At the default rate the same run is not a multivariate alert.
  PipelineModel strict(DetectionOptions{});
  std::mt19937_64 rng2(3);
  rng = rng2;
  for (int i = 0; i < 256; ++i) strict.Process(make(i));
  strict.Retrain();
  EXPECT_NE(strict.Process(odd).kind, "multivariate");
}

TEST(PipelineModelForest, ContaminationSetsTheForestsAlertRate) {
  DetectionOptions o;
  auto clean = [](int i, std::mt19937_64& rng) {
    std::normal_distribution<double> noise(0, 1);
    RunRecord r = MakeRun(i, 600 + 10 * noise(rng));
    r.queue_seconds = 10 + noise(rng);
    return r;
  };
  auto multivariate_alerts = [&](PipelineModel& m, std::mt19937_64& rng) {
    int n = 0;
    for (int i = 300; i < 400; ++i) n += m.Process(clean(i, rng)).kind == "multivariate";
    return n;
  };
  std::mt19937_64 rng(5);
  PipelineModel m(o);
  for (int i = 0; i < 200; ++i) m.Process(clean(i, rng));
  m.Retrain(0.2);
  // Kept across persistence.
  auto restored = PipelineModel::Deserialize(m.Serialize(), o);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->Serialize(), m.Serialize());
  std::mt19937_64 a(9), b(9);
  const int with = multivariate_alerts(m, a);
  EXPECT_GT(with, 0);  // about a fifth of clean runs, less the folded ones
  m.Retrain();         // without contamination: the budget share, never reached here
  EXPECT_EQ(multivariate_alerts(m, b), 0);
}

}  // namespace
}  // namespace cicd::detector
