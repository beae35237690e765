#include "cicd/detector/service.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cicd/core/atomic_file.h"
#include "cicd/core/log.h"
#include "cicd/detector/metrics.h"
#include "fake_prometheus.h"

namespace cicd::detector {
namespace {

using testing::AddNormalRuns;
using testing::FakePrometheus;
using testing::FakeRun;

constexpr double kNow = 1'767'225'600;  // 2026-01-01T00:00:00Z

class ServiceTest : public ::testing::Test {
 protected:
  ServiceTest() : clock_(FromUnixSeconds(kNow)) {
    config_.detection.min_runs = 30;
    dir_ = std::filesystem::temp_directory_path() /
           ("svc_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    config_.state_dir = dir_.string();
  }
  ~ServiceTest() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Service> Make(Shard shard = {}) {
    ServiceDeps deps;
    deps.query = prom_.Func();
    deps.series = prom_.Series();
    deps.clock = &clock_;
    return std::make_unique<Service>(config_, deps, shard);
  }

  FakeRun SlowRun() {
    FakeRun r;
    r.finished = kNow - 60;
    r.duration = 3000;
    return r;
  }

  DetectorConfig config_;
  FakePrometheus prom_;
  FakeClock clock_;
  std::filesystem::path dir_;
};

TEST(Shard, ParseAndStableAssignment) {
  EXPECT_FALSE(ParseShard("2/2").ok());
  EXPECT_FALSE(ParseShard("x/2").ok());
  EXPECT_FALSE(ParseShard("1").ok());
  EXPECT_FALSE(ParseShard("0/0").ok());
  auto s = ParseShard("1/3");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->index, 1);
  EXPECT_EQ(s->count, 3);
  // FNV-1a 64 of "a\x1fb".
  EXPECT_EQ(PipelineHash("a", "b"), PipelineHash("a", "b"));
  EXPECT_NE(PipelineHash("a", "b"), PipelineHash("ab", ""));
  for (const char* p : {"x", "y", "z", "org/app/ci.yml"}) {
    int owners = 0;
    for (int i = 0; i < 3; ++i) owners += Shard{i, 3}.Owns("github", p) ? 1 : 0;
    EXPECT_EQ(owners, 1) << p;
  }
}

TEST_F(ServiceTest, ColdStartSaysHowManyRunsItHasAndNeeds) {
  AddNormalRuns(prom_, 5, kNow - 3600);
  auto svc = Make();
  auto r = svc->Train(std::chrono::hours(24 * 30));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pipelines, 1u);
  const auto s = svc->Snapshot();
  ASSERT_EQ(s.pipelines.size(), 1u);
  EXPECT_EQ(s.pipelines[0].runs_seen, 5u);
  EXPECT_EQ(s.pipelines[0].min_runs, 30u);
  EXPECT_TRUE(s.prometheus_up);
}

TEST_F(ServiceTest, TrainThenDetectFlagsASlowRunWithReasons) {
  AddNormalRuns(prom_, 80, kNow - 3600);
  auto svc = Make();
  ASSERT_TRUE(svc->Train(std::chrono::hours(24 * 30)).ok());
  auto quiet = svc->Detect();
  ASSERT_TRUE(quiet.ok());
  EXPECT_EQ(quiet->runs, 0u);  // nothing new since training

  prom_.Add(SlowRun());
  auto d = svc->Detect();
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->runs, 1u);
  ASSERT_EQ(d->verdicts.size(), 1u);
  EXPECT_TRUE(d->verdicts[0].anomalous);
  EXPECT_EQ(d->verdicts[0].kind, "slow");

  const auto s = svc->Snapshot();
  ASSERT_EQ(s.anomalies.size(), 1u);
  EXPECT_EQ(s.anomalies[0].kind, "slow");
  ASSERT_FALSE(s.anomalies[0].reasons.empty());
  EXPECT_NE(s.anomalies[0].reasons[0].find("duration 3000 s"), std::string::npos);
  ASSERT_EQ(s.pipelines.size(), 1u);
  EXPECT_GT(s.pipelines[0].feature_scores.at("duration"), 1);  // 1 = where duration alone alerts
  const std::string m = RenderMetrics(s);
  EXPECT_NE(m.find("cicd_anomaly_score{source=\"github\",pipeline=\"org/app/ci.yml\",model=\"run\"} "),
            std::string::npos);
  EXPECT_NE(m.find("cicd_anomalies_total{source=\"github\",pipeline=\"org/app/ci.yml\",kind=\"slow\","
                   "severity=\"warning\"} 1"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("cicd_anomaly_expected{source=\"github\",pipeline=\"org/app/ci.yml\",feature=\"duration\","
                   "bound=\"median\"} 59"),
            std::string::npos);
  EXPECT_NE(m.find("cicd_detector_prometheus_up 1"), std::string::npos);
  // The reasons reach alert annotations through the info series.
  EXPECT_NE(m.find("cicd_anomaly_info{source=\"github\",pipeline=\"org/app/ci.yml\",model=\"run\",kind=\"slow\","
                   "severity=\"warning\",reason=\"duration 3000 s"),
            std::string::npos)
      << m;
  EXPECT_EQ(m.find("cicd_anomaly_info{source=\"github\",pipeline=\"org/app/ci.yml\",model=\"stuck\""),
            std::string::npos);

  // Detecting again neither re-judges nor re-counts the run.
  auto again = svc->Detect();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->runs, 0u);
  EXPECT_EQ(svc->Snapshot().anomalies.size(), 1u);
}

TEST_F(ServiceTest, NewPipelineWithoutTrainingStartsCold) {
  auto svc = Make();
  FakeRun r;
  r.finished = kNow - 30;
  prom_.Add(r);
  auto d = svc->Detect();
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->runs, 1u);
  EXPECT_EQ(svc->Snapshot().pipelines.at(0).runs_seen, 1u);
}

TEST_F(ServiceTest, PrometheusDownKeepsLastScoresAndRecovers) {
  AddNormalRuns(prom_, 80, kNow - 3600);
  prom_.Add(SlowRun());
  auto svc = Make();
  ASSERT_TRUE(svc->Train(std::chrono::hours(24 * 30)).ok());
  prom_.SetUp(false);
  auto d = svc->Detect();
  ASSERT_FALSE(d.ok());
  auto s = svc->Snapshot();
  EXPECT_FALSE(s.prometheus_up);
  EXPECT_EQ(s.query_errors, 1u);
  EXPECT_NE(s.last_error.find("connection refused"), std::string::npos);
  EXPECT_EQ(s.pipelines.size(), 1u);
  EXPECT_NE(RenderMetrics(s).find("cicd_detector_prometheus_up 0"), std::string::npos);

  prom_.SetUp(true);
  ASSERT_TRUE(svc->Detect().ok());
  s = svc->Snapshot();
  EXPECT_TRUE(s.prometheus_up);
  EXPECT_TRUE(s.last_error.empty());
}

TEST_F(ServiceTest, NonFiniteSamplesAreRejectedAndCounted) {
  AddNormalRuns(prom_, 3, kNow - 3600);
  prom_.SetNonFinite(2);
  auto svc = Make();
  ASSERT_TRUE(svc->Detect().ok());
  // The history query and the active query each report 2.
  EXPECT_EQ(svc->Snapshot().rejected_samples, 4u);
  EXPECT_NE(RenderMetrics(svc->Snapshot()).find("cicd_detector_rejected_samples_total 4"), std::string::npos);
}

TEST_F(ServiceTest, ImpossibleRunsAreRejectedAndCounted) {
  FakeRun r;
  r.finished = kNow - 60;
  r.duration = -5;
  prom_.Add(r);
  r.finished = kNow - 30;
  r.duration = 600;
  r.queue = -1;
  prom_.Add(r);
  auto svc = Make();
  auto d = svc->Detect();
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->runs, 0u);
  EXPECT_EQ(svc->Snapshot().rejected_samples, 2u);
}

TEST_F(ServiceTest, StuckActiveRun) {
  AddNormalRuns(prom_, 80, kNow - 3600);
  prom_.SetActive("github", "org/app/ci.yml", kNow - 5 * 3600);
  auto svc = Make();
  ASSERT_TRUE(svc->Train(std::chrono::hours(24 * 30)).ok());
  auto d = svc->Detect();
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->verdicts.size(), 1u);
  EXPECT_EQ(d->verdicts[0].kind, "stuck");
  const auto s = svc->Snapshot();
  ASSERT_TRUE(s.pipelines[0].active.has_value());
  ASSERT_EQ(s.anomalies.size(), 1u);
  EXPECT_NE(s.anomalies[0].reasons[0].find("running for"), std::string::npos);
  EXPECT_GE(s.pipelines[0].active->score, 1.0);
  EXPECT_NE(RenderMetrics(s).find("model=\"stuck\"} "), std::string::npos);
}

TEST_F(ServiceTest, AStuckRunIsOneAnomalyWhileRunningAndWhenItFinishes) {
  AddNormalRuns(prom_, 80, kNow - 3600);
  const double started = kNow - 5 * 3600;
  prom_.SetActive("github", "org/app/ci.yml", started);
  auto svc = Make();
  ASSERT_TRUE(svc->Train(std::chrono::hours(24 * 30)).ok());
  ASSERT_TRUE(svc->Detect().ok());
  clock_.Advance(std::chrono::seconds(30));
  ASSERT_TRUE(svc->Detect().ok());  // still running: the same incident
  EXPECT_EQ(svc->Snapshot().anomalies.size(), 1u);
  // It finishes (timed out after 5 h 10 min) and is no longer active.
  prom_.ClearActive();
  FakeRun done;
  done.finished = kNow + 600;
  done.duration = done.finished - started;
  done.result = "timeout";
  prom_.Add(done);
  clock_.Set(FromUnixSeconds(kNow + 660));
  auto d = svc->Detect();
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->runs, 1u);  // the finished run was judged...
  EXPECT_TRUE(svc->Snapshot().pipelines[0].last->anomalous);
  EXPECT_EQ(svc->Snapshot().anomalies.size(), 1u) << "...but not recorded a second time";
}

TEST_F(ServiceTest, ShardJudgesOnlyItsPipelines) {
  for (const char* p : {"a", "b", "c", "d", "e", "f"}) AddNormalRuns(prom_, 3, kNow - 3600, p);
  std::size_t total = 0;
  for (int i = 0; i < 2; ++i) {
    auto svc = Make(Shard{i, 2});
    ASSERT_TRUE(svc->Train(std::chrono::hours(24)).ok());
    for (const auto& p : svc->Snapshot().pipelines) EXPECT_TRUE((Shard{i, 2}.Owns(p.source, p.pipeline)));
    total += svc->Snapshot().pipelines.size();
  }
  EXPECT_EQ(total, 6u);
}

TEST_F(ServiceTest, ModelsAndAnomaliesSurviveARestart) {
  AddNormalRuns(prom_, 80, kNow - 3600);
  ServiceSnapshot before;
  {
    auto svc = Make();
    ASSERT_TRUE(svc->Train(std::chrono::hours(24 * 30)).ok());
    prom_.Add(SlowRun());
    ASSERT_TRUE(svc->Detect().ok());
    ASSERT_TRUE(svc->Save().ok());
    before = svc->Snapshot();
  }
  ASSERT_EQ(before.anomalies.size(), 1u);
  const std::size_t queries = prom_.queries();
  auto svc = Make();
  EXPECT_EQ(svc->Load(), 1u);
  EXPECT_EQ(prom_.queries(), queries);  // no retrain
  const auto after = svc->Snapshot();
  ASSERT_EQ(after.pipelines.size(), 1u);
  EXPECT_EQ(after.pipelines[0].runs_seen, before.pipelines[0].runs_seen);
  EXPECT_EQ(after.pipelines[0].trained_at, before.pipelines[0].trained_at);
  EXPECT_EQ(after.pipelines[0].recent.size(), before.pipelines[0].recent.size());
  ASSERT_TRUE(after.pipelines[0].last.has_value());
  EXPECT_EQ(after.pipelines[0].last->ToJsonLine(), before.pipelines[0].last->ToJsonLine());
  ASSERT_EQ(after.pipelines[0].feature_scores.size(), before.pipelines[0].feature_scores.size());
  for (const auto& [name, x] : before.pipelines[0].feature_scores) {
    EXPECT_NEAR(after.pipelines[0].feature_scores.at(name), x, 1e-9) << name;
  }
  EXPECT_NE(RenderMetrics(after).find("model=\"run\"} "), std::string::npos);
  ASSERT_EQ(after.anomalies.size(), 1u);
  EXPECT_EQ(after.anomalies[0].reasons, before.anomalies[0].reasons);
  EXPECT_EQ(after.anomalies[0].at, before.anomalies[0].at);
  // The loaded model does not re-judge runs it already learnt.
  auto d = svc->Detect();
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->runs, 0u);
}

TEST_F(ServiceTest, CorruptOrOldStateFilesAreIgnored) {
  AddNormalRuns(prom_, 80, kNow - 3600);
  {
    auto svc = Make();
    ASSERT_TRUE(svc->Train(std::chrono::hours(24 * 30)).ok());
  }
  const std::string models = (dir_ / "models.state").string();
  auto text = ReadFileToString(models);
  ASSERT_TRUE(text.ok());
  std::vector<std::string> logs;
  Logging::SetSink([&](std::string_view l) { logs.emplace_back(l); });
  // A flipped byte: checksum mismatch.
  std::string flipped = *text;
  flipped[flipped.size() / 2] ^= 1;
  ASSERT_TRUE(WriteFileAtomically(models, flipped).ok());
  EXPECT_EQ(Make()->Load(), 0u);
  // Truncated, an old version, and garbage.
  ASSERT_TRUE(WriteFileAtomically(models, text->substr(0, text->size() / 3)).ok());
  EXPECT_EQ(Make()->Load(), 0u);
  std::string old = *text;
  old.replace(old.find(" v1 "), 4, " v0 ");
  ASSERT_TRUE(WriteFileAtomically(models, old).ok());
  EXPECT_EQ(Make()->Load(), 0u);
  ASSERT_TRUE(WriteFileAtomically(models, "\x01\x02garbage").ok());
  EXPECT_EQ(Make()->Load(), 0u);
  Logging::SetSink(nullptr);
  bool reported = false;
  for (const auto& l : logs) reported = reported || l.find("checksum mismatch") != std::string::npos;
  EXPECT_TRUE(reported);
}

TEST_F(ServiceTest, CleanupDropsAnomaliesPastRetention) {
  config_.anomaly_retention = std::chrono::hours(24);
  AddNormalRuns(prom_, 80, kNow - 3600);
  auto svc = Make();
  ASSERT_TRUE(svc->Train(std::chrono::hours(24 * 30)).ok());
  prom_.Add(SlowRun());
  ASSERT_TRUE(svc->Detect().ok());
  EXPECT_EQ(svc->Cleanup(), 0u);
  clock_.Advance(std::chrono::hours(25));
  EXPECT_EQ(svc->Cleanup(), 1u);
  EXPECT_TRUE(svc->Snapshot().anomalies.empty());
}

TEST_F(ServiceTest, TickFollowsTheSchedule) {
  config_.schedule.detect_interval = std::chrono::seconds(30);
  config_.schedule.retrain_minute = 2 * 60;
  auto svc = Make();
  svc->Tick();  // detects at once
  const std::size_t first = prom_.queries();
  EXPECT_EQ(first, 2u);  // the new runs (one window) and the active runs
  svc->Tick();
  EXPECT_EQ(prom_.queries(), first);
  clock_.Advance(std::chrono::seconds(30));
  svc->Tick();
  EXPECT_EQ(prom_.queries(), 2 * first);
  EXPECT_EQ(svc->NextDue(), clock_.Now() + std::chrono::seconds(30));
}

TEST_F(ServiceTest, AFailedFirstTrainingIsRetriedWithinAMinute) {
  config_.schedule.detect_interval = std::chrono::seconds(30);
  prom_.SetUp(false);
  {
    auto svc = Make();
    svc->Tick();
    EXPECT_FALSE(svc->Train(std::chrono::hours(24)).ok());
    clock_.Advance(std::chrono::seconds(60));
    prom_.SetUp(true);
    AddNormalRuns(prom_, 3, kNow);
    svc->Tick();  // retries the training (02:00 is two hours away); the destructor waits for it
  }
  auto loaded = Make();
  EXPECT_EQ(loaded->Load(), 1u);
  ASSERT_EQ(loaded->Snapshot().pipelines.size(), 1u);
  EXPECT_TRUE(loaded->Snapshot().pipelines[0].trained_at.has_value());
}

TEST(NextDailyAt, NextOccurrenceInUtc) {
  const TimePoint midnight = FromUnixSeconds(kNow);
  EXPECT_EQ(NextDailyAt(midnight, 120), midnight + std::chrono::hours(2));
  EXPECT_EQ(NextDailyAt(midnight + std::chrono::hours(2), 120), midnight + std::chrono::hours(26));
  EXPECT_EQ(NextDailyAt(midnight + std::chrono::hours(3), 120), midnight + std::chrono::hours(26));
}

class FakeFetcher : public HttpFetcher {
 public:
  Result<HttpResponse> Fetch(const HttpRequest& r) override {
    last = r;
    if (fail) return Status::Error(ErrorCode::kUnavailable, "connection refused");
    HttpResponse resp;
    resp.status = status;
    resp.body = R"({"status":"accepted","sources":["github"]})";
    return resp;
  }
  HttpRequest last;
  bool fail = false;
  int status = 202;
};

TEST_F(ServiceTest, TrainingReadsPipelinesInBatchesAndWindows) {
  AddNormalRuns(prom_, 40, kNow - 3600, "org/a.b/ci.yml");
  AddNormalRuns(prom_, 40, kNow - 3600, "org/c/ci.yml");
  AddNormalRuns(prom_, 40, kNow - 3600, "org/d/ci.yml");
  config_.history_read.batch_pipelines = 2;
  config_.history_read.window = std::chrono::hours(24);
  auto svc = Make();
  auto t = svc->Train(std::chrono::hours(24 * 3));
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->pipelines, 3u);
  EXPECT_EQ(t->runs, 120u);  // each run once, though windows touch
  // Two batches (2 + 1 pipelines) x three one-day windows.
  EXPECT_EQ(prom_.history_queries(), 6u);
  for (const auto& p : svc->Snapshot().pipelines) EXPECT_EQ(p.samples, 40u) << p.pipeline;
}

TEST_F(ServiceTest, WithoutTheSeriesApiTrainingReadsEveryPipelineAtOnce) {
  AddNormalRuns(prom_, 40, kNow - 3600, "org/a/ci.yml");
  AddNormalRuns(prom_, 40, kNow - 3600, "org/b/ci.yml");
  ServiceDeps deps;
  deps.query = prom_.Func();
  deps.series = [](const std::string&, TimePoint, TimePoint) -> Result<std::vector<std::map<std::string, std::string>>> {
    return Status::Error(ErrorCode::kNotFound, "HTTP 404 for /api/v1/series");
  };
  deps.clock = &clock_;
  Service svc(config_, deps);
  auto t = svc.Train(std::chrono::hours(24 * 3));
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->pipelines, 2u);
  EXPECT_EQ(t->runs, 80u);
}

TEST(HistoryQueryText, BatchMatcherEscapesForRe2AndPromQL) {
  EXPECT_EQ(BatchMatcher("gh", {"o/a.b", "x\"y"}), R"(source="gh",pipeline=~"o/a\\.b|x\"y")");
  const std::string q = HistoryQuery("", std::chrono::hours(1), std::chrono::seconds(15));
  EXPECT_NE(q.find(")[3600000ms:15000ms]"), std::string::npos) << q;
  EXPECT_NE(q.find("offset 15000ms"), std::string::npos) << q;
}

TEST_F(ServiceTest, CollectAsksTheExporterOrSaysWhyNot) {
  FakeFetcher fetcher;
  ServiceDeps deps;
  deps.query = prom_.Func();
  deps.clock = &clock_;
  deps.fetcher = &fetcher;
  {
    Service svc(config_, deps);
    auto r = svc.Collect();
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("exporter_url"), std::string::npos);
  }
  config_.exporter_url = "http://127.0.0.1:9801/prefix";
  Service svc(config_, deps);
  auto r = svc.Collect();
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(fetcher.last.method, "POST");
  EXPECT_EQ(fetcher.last.url, "http://127.0.0.1:9801/prefix/api/v1/collect");
  fetcher.status = 500;
  EXPECT_EQ(svc.Collect().status().code(), ErrorCode::kUnavailable);
  fetcher.fail = true;
  EXPECT_FALSE(svc.Collect().ok());
}

}  // namespace
}  // namespace cicd::detector
