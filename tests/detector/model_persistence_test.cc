#include <gtest/gtest.h>

#include <random>

#include "cicd/detector/pipeline_model.h"

namespace cicd::detector {
namespace {

std::vector<RunRecord> History(int n, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> dur(600, 20);
  std::vector<RunRecord> runs;
  const TimePoint t0 = FromUnixSeconds(1'767'225'600);
  for (int i = 0; i < n; ++i) {
    RunRecord r;
    r.source = "github";
    r.pipeline = "org/app/ci.yml";
    r.run_id = std::to_string(i);
    r.status = RunStatus::kCompleted;
    double d = dur(rng);
    if (i % 37 == 36) d *= 4;                 // slow outliers
    if (i > 150 && i < 160) d *= 1.6;         // a level shift
    r.duration_seconds = d;
    r.queue_seconds = (i % 53 == 52) ? 900.0 : 5.0 + i % 4;
    if (i % 41 != 40) r.tests_total = 1500 + i % 5;
    r.tests_failed = 0;
    r.result = (i % 29 == 0 || (i > 200 && i < 206)) ? "failure" : "success";
    r.started_at = t0 + std::chrono::hours(i);
    r.finished_at = *r.started_at + std::chrono::duration_cast<TimePoint::duration>(Seconds(d));
    runs.push_back(r);
  }
  return runs;
}

// A model saved and loaded at any point judges every later run exactly like
// the one that kept running.
TEST(PipelineModelPersistence, RoundTripJudgesIdentically) {
  DetectionOptions o;
  const auto runs = History(300, 7);
  for (std::size_t cut : {5u, 40u, 155u, 203u}) {
    PipelineModel a(o);
    for (std::size_t i = 0; i < cut; ++i) {
      a.Process(runs[i]);
      if (i % 50 == 49) a.Retrain();
    }
    auto b = PipelineModel::Deserialize(a.Serialize(), o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_EQ(b->Serialize(), a.Serialize());
    EXPECT_EQ(b->has_forest(), a.has_forest());
    for (std::size_t i = cut; i < runs.size(); ++i) {
      ASSERT_EQ(a.Process(runs[i]).ToJsonLine(), b->Process(runs[i]).ToJsonLine()) << "cut " << cut << " run " << i;
      if (i % 50 == 49) {
        a.Retrain();
        b->Retrain();
      }
    }
  }
}

TEST(PipelineModelPersistence, RejectsGarbage) {
  DetectionOptions o;
  PipelineModel a(o);
  for (const auto& r : History(60, 3)) a.Process(r);
  a.Retrain();
  const std::string good = a.Serialize();
  EXPECT_FALSE(PipelineModel::Deserialize("", o).ok());
  EXPECT_FALSE(PipelineModel::Deserialize("[]", o).ok());
  EXPECT_FALSE(PipelineModel::Deserialize("{\"format\":2}", o).ok());
  EXPECT_FALSE(PipelineModel::Deserialize(good.substr(0, good.size() / 2), o).ok());
  std::string bad_forest = good;
  const auto pos = bad_forest.find("\"forest\":\"");
  ASSERT_NE(pos, std::string::npos);
  bad_forest[pos + 20] = bad_forest[pos + 20] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(PipelineModel::Deserialize(bad_forest, o).ok());
  std::string nan = good;
  nan.replace(nan.find("\"residuals\":[") + 13, 0, "\"nan\",");
  EXPECT_FALSE(PipelineModel::Deserialize(nan, o).ok());
  // A model of the MAD-based format 1 is not read: it must be retrained.
  auto old = PipelineModel::Deserialize(R"({"format":1,"duration":{}})", o);
  ASSERT_FALSE(old.ok());
  EXPECT_NE(old.status().message().find("retrain"), std::string::npos) << old.status().ToString();
}

}  // namespace
}  // namespace cicd::detector
