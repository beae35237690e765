#include "cicd/detector/pipeline_model.h"

#include <gtest/gtest.h>

#include <random>

#include "cicd/detector/baseline.h"
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

TEST(RobustBaseline, MedianMadAndFloor) {
  RobustBaseline b(BaselineOptions{10, 1.0, 0.05, 0.1});
  for (double v : {10.0, 12.0, 11.0, 13.0, 9.0}) b.Add(v);
  EXPECT_DOUBLE_EQ(b.Median(), 11.0);
  EXPECT_DOUBLE_EQ(b.Mad(), 1.0);
  EXPECT_NEAR(b.Scale(), 1.4826, 1e-9);
  EXPECT_NEAR(b.RollingMean(), 11.0, 1e-9);
  EXPECT_NEAR(b.Quantile(0.5), 11.0, 1e-9);
  EXPECT_NEAR(b.Quantile(1.0), 13.0, 1e-9);
  RobustBaseline flat(BaselineOptions{10, 1.0, 0.05, 0.1});
  for (int i = 0; i < 10; ++i) flat.Add(1520);
  EXPECT_DOUBLE_EQ(flat.Mad(), 0.0);
  EXPECT_DOUBLE_EQ(flat.Scale(), 0.05 * 1520);  // the floor, not zero
  EXPECT_TRUE(std::isfinite(flat.Deviation(1521)));
}

TEST(RobustBaseline, WindowRolls) {
  RobustBaseline b(BaselineOptions{3, 1.0, 0.0, 0.5});
  for (double v : {100.0, 1.0, 2.0, 3.0}) b.Add(v);
  EXPECT_EQ(b.count(), 3u);
  EXPECT_DOUBLE_EQ(b.Median(), 2.0);
  EXPECT_NEAR(b.RollingMean(), 2.0, 1e-9);  // Boost's rolling window forgot 100 too
  EXPECT_EQ(b.total_seen(), 4u);
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

TEST(PipelineModel, ObviousOutlierIsSlowWithReasons) {
  PipelineModel m(DetectionOptions{});
  std::mt19937_64 rng(1);
  std::normal_distribution<double> noise(610, 20);
  for (int i = 0; i < 100; ++i) ASSERT_FALSE(m.Process(MakeRun(i, noise(rng))).anomalous);
  const Verdict v = m.Process(MakeRun(100, 1840));
  ASSERT_TRUE(v.anomalous);
  EXPECT_EQ(v.kind, "slow");
  EXPECT_GE(v.score, 1.0);
  ASSERT_FALSE(v.reasons.empty());
  EXPECT_EQ(v.reasons[0].rfind("duration 1840s, usual ", 0), 0u) << v.reasons[0];
  EXPECT_NE(v.reasons[0].find("MAD"), std::string::npos);
  // The outlier was not learnt: the next normal run is normal.
  EXPECT_FALSE(m.Process(MakeRun(101, 610)).anomalous);
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
    }
  }
  EXPECT_EQ(regressions, 1);
  EXPECT_LE(anomalies, 2);  // at most the first run as slow, then the regression
  ASSERT_TRUE(start.has_value());
  EXPECT_EQ(*start, kT0 + std::chrono::hours(100));
  // After the shift the baseline has adapted around 840 s.
  EXPECT_NEAR(m.duration().Median(), 840, 40);
}

TEST(PipelineModel, TestsMissingAndQueueSpike) {
  PipelineModel m(DetectionOptions{});
  for (int i = 0; i < 50; ++i) m.Process(MakeRun(i, 600 + i % 7));
  RunRecord no_tests = MakeRun(50, 604);
  no_tests.tests_total = 0;
  no_tests.tests_failed = 0;
  no_tests.tests_skipped = 0;
  Verdict v = m.Process(no_tests);
  EXPECT_EQ(v.kind, "tests_missing");
  EXPECT_EQ(v.reasons[0], "tests 0 vs usual 1520 (1520-1520)");
  RunRecord absent = MakeRun(51, 604);
  absent.tests_total.reset();
  EXPECT_EQ(m.Process(absent).kind, "tests_missing");
  RunRecord failed_build = MakeRun(52, 100, "failure");
  failed_build.tests_total.reset();
  EXPECT_NE(m.Process(failed_build).kind, "tests_missing");  // a failed build may have no report
  RunRecord queued = MakeRun(53, 603);
  queued.queue_seconds = 400;
  v = m.Process(queued);
  EXPECT_EQ(v.kind, "queue");
  EXPECT_EQ(v.reasons[0].rfind("queued 400s", 0), 0u);
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

TEST(PipelineModel, StuckActiveRun) {
  PipelineModel m(DetectionOptions{});
  for (int i = 0; i < 30; ++i) m.Process(MakeRun(i, 600));
  RunRecord active = MakeRun(30, 0);
  active.status = RunStatus::kRunning;
  EXPECT_FALSE(m.CheckActive(active, *active.started_at + std::chrono::seconds(1700)).has_value());
  auto v = m.CheckActive(active, *active.started_at + std::chrono::seconds(1900));
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->kind, "stuck");
  // A finished run far past the limit is stuck too.
  EXPECT_EQ(m.Process(MakeRun(31, 5000, "timeout")).kind, "stuck");
}

TEST(Replay, JudgesInFinishOrderWithPastRunsOnly) {
  std::vector<RunRecord> runs;
  for (int i = 0; i < 40; ++i) runs.push_back(MakeRun(i, 600 + i % 5));
  runs.push_back(MakeRun(40, 3000));
  std::reverse(runs.begin(), runs.end());  // input order does not matter
  const auto verdicts = ReplayRuns(runs, DetectionOptions{});
  ASSERT_EQ(verdicts.size(), 41u);
  EXPECT_EQ(verdicts.front().run_id, "0");
  EXPECT_FALSE(verdicts.front().scored);
  EXPECT_EQ(verdicts.back().run_id, "40");
  EXPECT_TRUE(verdicts.back().anomalous);
  EXPECT_EQ(verdicts.back().ToJsonLine().rfind(
                R"({"source":"gh","pipeline":"o/r/ci.yml","run_id":"40","scored":true,"anomalous":true,)", 0),
            0u);
}

}  // namespace
}  // namespace cicd::detector

namespace cicd::detector {
namespace {

TEST(PipelineModelForest, ForestVerdictWhenNoSingleFeatureAlerts) {
  // A queue of 55 s against a steady 10 s is far outside what the forest was
  // trained on, but below the univariate queue rule's 60 s minimum excess:
  // only the forest reports it (kind multivariate).
  DetectionOptions o;
  o.forest_threshold = 0.6;
  PipelineModel m(o);
  std::mt19937_64 rng(3);
  std::normal_distribution<double> noise(0, 1);
  auto make = [&](int i) {
    RunRecord r = MakeRun(i, 600 + 10 * noise(rng));
    r.queue_seconds = 10 + noise(rng);
    return r;
  };
  for (int i = 0; i < 256; ++i) {
    const Verdict t = m.Process(make(i));
    ASSERT_FALSE(t.anomalous) << t.ToJsonLine();
  }
  EXPECT_FALSE(m.has_forest());
  m.Retrain();
  ASSERT_TRUE(m.has_forest());
  RunRecord odd = make(256);
  odd.queue_seconds = 55;
  const Verdict v = m.Process(odd);
  ASSERT_TRUE(v.anomalous) << v.ToJsonLine();
  EXPECT_EQ(v.kind, "multivariate");
  EXPECT_NE(v.reasons[0].find("isolation forest score"), std::string::npos) << v.reasons[0];
  EXPECT_NE(v.reasons[0].find("queued 55s"), std::string::npos) << v.reasons[0];
}

TEST(PipelineModelForest, ContaminationSetsTheCutoffFromTrainingScores) {
  DetectionOptions o;
  PipelineModel m(o);
  std::mt19937_64 rng(5);
  std::normal_distribution<double> noise(0, 1);
  for (int i = 0; i < 200; ++i) {
    RunRecord r = MakeRun(i, 600 + 10 * noise(rng));
    r.queue_seconds = 10 + noise(rng);
    m.Process(r);
  }
  m.Retrain();
  EXPECT_EQ(m.forest_threshold(), o.forest_threshold);  // without: the configured 0.8
  m.Retrain(0.2);
  const double cutoff = m.forest_threshold();
  EXPECT_GE(cutoff, 0.5);
  EXPECT_LT(cutoff, o.forest_threshold);  // a fifth of these clean runs score above it
  // Kept across persistence, dropped by a retrain without contamination.
  auto restored = PipelineModel::Deserialize(m.Serialize(), o);
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->forest_threshold(), cutoff);
  m.Retrain();
  EXPECT_EQ(m.forest_threshold(), o.forest_threshold);
  // detection.contamination applies to every retrain without the argument.
  DetectionOptions configured = o;
  configured.contamination = 0.2;
  auto m2 = PipelineModel::Deserialize(m.Serialize(), configured);
  ASSERT_TRUE(m2.ok());
  m2->Retrain();  // a new fit (each retrain draws new trees): a cutoff of its own
  EXPECT_GE(m2->forest_threshold(), 0.5);
  EXPECT_LT(m2->forest_threshold(), o.forest_threshold);
}

}  // namespace
}  // namespace cicd::detector
