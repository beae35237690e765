#include "cicd/exporter/store.h"

#include <gtest/gtest.h>

namespace cicd::exporter {
namespace {

const TimePoint kT0 = *ParseRfc3339("2025-02-04T12:00:00Z");

RunRecord MakeRun(const std::string& id, int finished_min, double duration = 60,
              std::string result = "success") {
  RunRecord r;
  r.source = "gh";
  r.pipeline = "o/r/ci.yml";
  r.branch = "main";
  r.run_id = id;
  r.status = RunStatus::kCompleted;
  r.result = std::move(result);
  r.finished_at = kT0 + std::chrono::minutes(finished_min);
  r.duration_seconds = duration;
  r.started_at = *r.finished_at - std::chrono::seconds(static_cast<int>(duration));
  return r;
}

StoreOptions Options() {
  StoreOptions o;
  o.duration_buckets = {30, 60, 120};
  o.queue_buckets = {10};
  o.overlap = std::chrono::minutes(30);
  return o;
}

std::uint64_t Runs(const RunStore& s) {
  std::uint64_t n = 0;
  s.Read([&](const auto& pipelines, const auto&) {
    for (const auto& [k, p] : pipelines)
      for (const auto& [br, agg] : p.by_branch_result) n += agg.runs;
  });
  return n;
}

TEST(RunStore, CountsEachRunOnce) {
  RunStore s(Options());
  (void)s.PollSince("gh", kT0, std::chrono::hours(1));
  PollResult p;
  p.finished = {MakeRun("1", 1), MakeRun("2", 2)};
  EXPECT_EQ(s.ApplyPoll("gh", p, kT0 + std::chrono::minutes(3), 0.1), 2u);
  EXPECT_EQ(s.ApplyPoll("gh", p, kT0 + std::chrono::minutes(4), 0.1), 0u);  // same runs again
  p.finished.push_back(MakeRun("3", 5));
  EXPECT_EQ(s.ApplyPoll("gh", p, kT0 + std::chrono::minutes(6), 0.1), 1u);
  EXPECT_EQ(Runs(s), 3u);
}

TEST(RunStore, ReattemptIsItsOwnRun) {
  RunStore s(Options());
  (void)s.PollSince("gh", kT0, std::chrono::hours(1));
  PollResult p;
  RunRecord retry = MakeRun("1", 4);
  retry.attempt = 2;
  p.finished = {MakeRun("1", 1), retry};
  EXPECT_EQ(s.ApplyPoll("gh", p, kT0 + std::chrono::minutes(5), 0.1), 2u);
}

TEST(RunStore, LateRunWithinOverlapCountsOlderDoesNot) {
  RunStore s(Options());
  (void)s.PollSince("gh", kT0, std::chrono::hours(2));
  PollResult p;
  p.finished = {MakeRun("10", 100)};
  s.ApplyPoll("gh", p, kT0 + std::chrono::minutes(101), 0.1);
  // Floor is now 100 - 30 = minute 70.
  EXPECT_EQ(s.PollSince("gh", kT0, std::chrono::hours(2)), kT0 + std::chrono::minutes(70));
  PollResult late;
  late.finished = {MakeRun("9", 80), MakeRun("8", 60)};
  EXPECT_EQ(s.ApplyPoll("gh", late, kT0 + std::chrono::minutes(102), 0.1), 1u);
}

TEST(RunStore, LastRunHistogramAndTests) {
  RunStore s(Options());
  (void)s.PollSince("gh", kT0, std::chrono::hours(1));
  PollResult p;
  RunRecord a = MakeRun("1", 1, 45);
  a.tests_total = 100;
  a.tests_failed = 2;
  a.tests_skipped = 3;
  a.queue_seconds = 4;
  RunRecord b = MakeRun("2", 2, 200, "failure");
  p.finished = {b, a};  // out of order: the newest finish wins last_run
  s.ApplyPoll("gh", p, kT0 + std::chrono::minutes(3), 0.1);
  s.Read([&](const auto& pipelines, const auto&) {
    ASSERT_EQ(pipelines.size(), 1u);
    const PipelineState& ps = pipelines.begin()->second;
    ASSERT_TRUE(ps.last_run.has_value());
    EXPECT_EQ(ps.last_run->run_id, "2");
    EXPECT_EQ(ps.last_run->result, "failure");
    EXPECT_FALSE(ps.last_run->tests_total.has_value());  // unknown stays unknown
    EXPECT_EQ(ps.tests_passed, 95u);
    EXPECT_EQ(ps.tests_failed, 2u);
    EXPECT_EQ(ps.tests_skipped, 3u);
    const auto& ok = ps.by_branch_result.at({"main", "success"});
    EXPECT_EQ(ok.duration.bucket_counts, (std::vector<std::uint64_t>{0, 1, 0, 0}));
    const auto& bad = ps.by_branch_result.at({"main", "failure"});
    EXPECT_EQ(bad.duration.bucket_counts, (std::vector<std::uint64_t>{0, 0, 0, 1}));
    EXPECT_EQ(ps.queue_by_branch.at("main").count, 1u);
  });
}

TEST(RunStore, InvalidRunsAreCountedAndSkipped) {
  RunStore s(Options());
  (void)s.PollSince("gh", kT0, std::chrono::hours(1));
  PollResult p;
  RunRecord bad = MakeRun("1", 1);
  bad.result = "exploded";
  p.finished = {bad};
  EXPECT_EQ(s.ApplyPoll("gh", p, kT0 + std::chrono::minutes(2), 0.1), 0u);
  s.Read([&](const auto&, const auto& sources) { EXPECT_EQ(sources.at("gh").runs_invalid, 1u); });
}

TEST(RunStore, ActiveSnapshotReplacesPrevious) {
  RunStore s(Options());
  (void)s.PollSince("gh", kT0, std::chrono::hours(1));
  PollResult p;
  RunRecord running = MakeRun("5", 0);
  running.status = RunStatus::kRunning;
  running.result.reset();
  running.finished_at.reset();
  running.duration_seconds.reset();
  RunRecord queued = running;
  queued.run_id = "6";
  queued.status = RunStatus::kQueued;
  queued.created_at = kT0 + std::chrono::minutes(1);
  p.active = {running, queued};
  s.ApplyPoll("gh", p, kT0 + std::chrono::minutes(2), 0.1);
  s.Read([&](const auto& pipelines, const auto&) {
    const PipelineState& ps = pipelines.begin()->second;
    EXPECT_EQ(ps.running.count, 1);
    EXPECT_EQ(ps.queued.count, 1);
    EXPECT_EQ(*ps.queued.oldest, kT0 + std::chrono::minutes(1));
  });
  s.ApplyPoll("gh", PollResult{}, kT0 + std::chrono::minutes(3), 0.1);
  s.Read([&](const auto& pipelines, const auto&) {
    const PipelineState& ps = pipelines.begin()->second;
    EXPECT_EQ(ps.running.count, 0);
    EXPECT_EQ(ps.queued.count, 0);
  });
}

TEST(RunStore, PartialPollKeepsActiveRunsAndFloor) {
  RunStore s(Options());
  (void)s.PollSince("gh", kT0, std::chrono::hours(1));
  RunRecord running = MakeRun("5", 0);
  running.status = RunStatus::kRunning;
  running.result.reset();
  running.finished_at.reset();
  running.duration_seconds.reset();
  PollResult p;
  p.active = {running};
  s.ApplyPoll("gh", p, kT0 + std::chrono::minutes(1), 0.1);
  const TimePoint floor = s.PollSince("gh", kT0, std::chrono::hours(1));
  PollResult partial;
  partial.partial_errors = {"repo o/r: HTTP 500"};
  partial.finished = {MakeRun("9", 500)};  // another repository's new run
  EXPECT_EQ(s.ApplyPoll("gh", partial, kT0 + std::chrono::minutes(501), 0.1), 1u);
  s.Read([&](const auto& pipelines, const auto&) {
    EXPECT_EQ(pipelines.begin()->second.running.count, 1);  // not blanked
  });
  EXPECT_EQ(s.PollSince("gh", kT0, std::chrono::hours(1)), floor);  // not advanced
}

TEST(RunStore, FailureKeepsLastGoodData) {
  RunStore s(Options());
  (void)s.PollSince("gh", kT0, std::chrono::hours(1));
  PollResult p;
  p.finished = {MakeRun("1", 1)};
  s.ApplyPoll("gh", p, kT0 + std::chrono::minutes(2), 0.1);
  s.RecordFailure("gh", Status::Error(ErrorCode::kRateLimited, "HTTP 429"), 0.2);
  EXPECT_EQ(Runs(s), 1u);
  s.Read([&](const auto&, const auto& sources) {
    const SourceHealth& h = sources.at("gh");
    EXPECT_FALSE(h.up);
    EXPECT_EQ(h.polls_failed, 1u);
    EXPECT_EQ(*h.last_success, kT0 + std::chrono::minutes(2));
    EXPECT_NE(h.last_error.find("429"), std::string::npos);
  });
}

TEST(RunStore, CursorKeepsCountersHonestAcrossRestart) {
  std::string saved;
  {
    RunStore before(Options());
    (void)before.PollSince("gh", kT0, std::chrono::hours(1));
    PollResult p;
    p.finished = {MakeRun("1", 1), MakeRun("2", 2)};
    before.ApplyPoll("gh", p, kT0 + std::chrono::minutes(3), 0.1);
    std::uint64_t generation = 0;
    saved = before.SerializeCursor(&generation);
    EXPECT_TRUE(before.dirty());  // serialised is not yet written
    before.MarkPersisted(generation);
    EXPECT_FALSE(before.dirty());
  }
  RunStore after(Options());
  ASSERT_TRUE(after.RestoreCursor(saved).ok());
  // The restored last run is served before any poll.
  after.Read([&](const auto& pipelines, const auto&) {
    ASSERT_EQ(pipelines.size(), 1u);
    EXPECT_EQ(pipelines.begin()->second.last_run->run_id, "2");
  });
  // The first poll after restart sees the old runs again plus one that
  // finished while the exporter was down: only that one is counted.
  const TimePoint since = after.PollSince("gh", kT0 + std::chrono::hours(5), std::chrono::hours(1));
  EXPECT_LE(since, kT0 + std::chrono::minutes(1));
  PollResult p;
  p.finished = {MakeRun("1", 1), MakeRun("2", 2), MakeRun("3", 50)};
  EXPECT_EQ(after.ApplyPoll("gh", p, kT0 + std::chrono::hours(5), 0.1), 1u);
}

TEST(RunStore, CorruptCursorIsRejected) {
  RunStore s(Options());
  (void)s.PollSince("gh", kT0, std::chrono::hours(1));
  PollResult p;
  p.finished = {MakeRun("1", 1)};
  s.ApplyPoll("gh", p, kT0 + std::chrono::minutes(2), 0.1);
  std::string doc = s.SerializeCursor();
  RunStore fresh(Options());
  std::string edited = doc;
  edited[edited.size() - 5] = 'X';
  EXPECT_NE(fresh.RestoreCursor(edited).message().find("checksum"), std::string::npos);
  EXPECT_FALSE(fresh.RestoreCursor(doc.substr(0, doc.size() / 2)).ok());
  EXPECT_FALSE(fresh.RestoreCursor("cicd-exporter-cursor v9 0\n{}\n").ok());
  EXPECT_FALSE(fresh.RestoreCursor("garbage").ok());
  EXPECT_EQ(Runs(fresh), 0u);
}

}  // namespace
}  // namespace cicd::exporter
