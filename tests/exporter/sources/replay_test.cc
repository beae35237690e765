#include "cicd/exporter/sources/replay.h"

#include <gtest/gtest.h>

#include "cicd/exporter/config.h"
#include "support/fixtures.h"

namespace cicd::exporter {
namespace {

const TimePoint kStart = *ParseRfc3339("2026-01-01T00:00:00Z");

std::vector<RunRecord> Runs() {
  return ParseRunRecords(testing::ReadFixture("edge_replay_runs.jsonl")).runs;
}

TEST(ReplayTimeline, WholeHistoryInThePastEndsNow) {
  ReplayTimeline t(Runs(), kStart, ReplaySettings{"", 1.0, 1.0, std::nullopt});
  ASSERT_EQ(t.size(), 5u);
  PollResult all = t.At(kStart - std::chrono::hours(24), kStart);
  ASSERT_EQ(all.finished.size(), 5u);
  EXPECT_TRUE(all.active.empty());
  // The newest run (id 4, finished 13:40:10) finishes exactly at start.
  EXPECT_EQ(all.finished.back().run_id, "4");
  EXPECT_EQ(*all.finished.back().finished_at, kStart);
  // Spacing and recorded values are kept.
  EXPECT_EQ(*all.finished.front().finished_at,
            kStart - (std::chrono::hours(3) + std::chrono::minutes(30)));
  EXPECT_DOUBLE_EQ(*all.finished.front().duration_seconds, 600.0);
  EXPECT_DOUBLE_EQ(*all.finished.front().queue_seconds, 10.0);
  EXPECT_EQ(all.finished.front().tests_total, 100);
}

TEST(ReplayTimeline, LivePartPlaysFasterAndShowsActiveRuns) {
  // Cut after 40% of the runs (2 of 5): run 2 finishes at start.
  ReplayTimeline t(Runs(), kStart, ReplaySettings{"", 60.0, 0.4, std::nullopt});
  PollResult at_start = t.At(kStart - std::chrono::hours(24), kStart);
  EXPECT_EQ(at_start.finished.size(), 2u);
  // Run 3 starts 48 min after the cut (12:00:20 vs 11:12:05): 48.25 s at 60x.
  PollResult before3 = t.At(kStart, kStart + std::chrono::seconds(48));
  EXPECT_TRUE(before3.active.empty());
  PollResult during3 = t.At(kStart, kStart + std::chrono::seconds(50));
  ASSERT_EQ(during3.active.size(), 1u);
  EXPECT_EQ(during3.active[0].run_id, "3");
  EXPECT_EQ(during3.active[0].status, RunStatus::kRunning);
  EXPECT_FALSE(during3.active[0].result.has_value());
  // Run 3 finishes at 12:09:20, 57.25 min after the cut: 57.25 s.
  PollResult after3 = t.At(kStart + std::chrono::seconds(1), kStart + std::chrono::seconds(58));
  ASSERT_EQ(after3.finished.size(), 1u);
  EXPECT_EQ(after3.finished[0].run_id, "3");
  EXPECT_DOUBLE_EQ(*after3.finished[0].duration_seconds, 540.0);  // recorded, not compressed
}

TEST(ReplaySource, SkipsMalformedLinesAndServes) {
  FakeClock clock(kStart);
  SourceCommon common;
  common.name = "demo";
  ReplaySource src(common, ReplaySettings{testing::FixturePath("edge_replay_runs.jsonl"), 1.0, 1.0, std::nullopt},
                   &clock);
  auto polled = src.Poll(kStart - std::chrono::hours(24));
  ASSERT_TRUE(polled.ok());
  EXPECT_EQ(polled->finished.size(), 5u);  // 2 malformed lines skipped
}

TEST(ReplaySource, MissingFileFailsEveryPoll) {
  FakeClock clock(kStart);
  SourceCommon common;
  common.name = "demo";
  ReplaySource src(common, ReplaySettings{"/nonexistent/runs.jsonl", 1.0, 1.0, std::nullopt}, &clock);
  auto polled = src.Poll(kStart);
  ASSERT_FALSE(polled.ok());
  EXPECT_NE(polled.status().message().find("/nonexistent/runs.jsonl"), std::string::npos);
}

TEST(ReplaySource, AnchorPlacesTheCutAtAFixedTime) {
  // The clock is an hour past the anchor: the newest past run still
  // finished at the anchor, as a backfill made at the anchor placed it.
  FakeClock clock(kStart + std::chrono::hours(1));
  SourceCommon common;
  common.name = "demo";
  const ReplaySettings settings{testing::FixturePath("edge_replay_runs.jsonl"), 1.0, 1.0, kStart};
  ReplaySource src(common, settings, &clock);
  auto polled = src.Poll(kStart - std::chrono::hours(24));
  ASSERT_TRUE(polled.ok());
  ASSERT_EQ(polled->finished.size(), 5u);
  EXPECT_EQ(*polled->finished.back().finished_at, kStart);
}

TEST(ReplayConfig, AnchorMustBeAnRfc3339Time) {
  const std::string good = "sources:\n  - type: replay\n    file: x.jsonl\n    anchor: 2026-01-01T00:00:00Z\n";
  EXPECT_NO_THROW(ParseExporterConfig(good, "c.yml"));
  const std::string bad = "sources:\n  - type: replay\n    file: x.jsonl\n    anchor: yesterday\n";
  try {
    ParseExporterConfig(bad, "c.yml");
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("anchor"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("line 4"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cicd::exporter
