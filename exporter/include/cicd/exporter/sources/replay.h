#pragma once
// The replay source: a JSONL file of run records (shared/DESIGN.md) presented
// as if live, for the demo and for tests without a CI server.
//
// Time mapping: the history is cut at its `live_from` quantile of finish
// times, h_split. That moment is mapped to the exporter's start; history
// before it keeps its spacing (it is already in the past, ready to backfill),
// history after it plays forward `speed` times faster than real time. Run
// durations and queue times keep their recorded values.

#include <optional>
#include <string>
#include <vector>

#include "cicd/exporter/source.h"

namespace cicd::exporter {

struct ReplaySettings {
  std::string file;        // JSONL run records; required
  double speed = 1.0;      // history seconds per real second after the cut
  double live_from = 1.0;  // 1 = the whole history is past; 0 = all plays live
  // The real time the cut is mapped to; unset = when the source starts. Set
  // it when `backfill` and `serve` must place the runs at the same times
  // (otherwise they differ by the time between the two starts).
  std::optional<TimePoint> anchor;
};

SourceFactory ParseReplayConfig(YamlMap& yaml, SourceCommon& common);

// Pure: which runs of a history are finished or active at a given moment.
class ReplayTimeline {
 public:
  // `runs` must be valid completed run records (others are dropped).
  ReplayTimeline(std::vector<RunRecord> runs, TimePoint start, const ReplaySettings& settings);

  // Runs finished in [since, now] with times shifted, and runs active at now.
  PollResult At(TimePoint since, TimePoint now) const;
  // Presentation time of a history time.
  TimePoint Map(TimePoint history_time) const;
  std::size_t size() const { return runs_.size(); }

 private:
  std::vector<RunRecord> runs_;  // sorted by finished_at
  TimePoint start_;
  TimePoint split_;
  double speed_;
};

// Reads and parses the file; malformed lines are logged with their numbers.
class ReplaySource final : public Source {
 public:
  ReplaySource(const SourceCommon& common, const ReplaySettings& settings, const Clock* clock);
  Result<PollResult> Poll(TimePoint since) override;

 private:
  std::string name_;
  ReplaySettings settings_;
  const Clock* clock_;
  Status load_status_;
  std::unique_ptr<ReplayTimeline> timeline_;
};

}  // namespace cicd::exporter
