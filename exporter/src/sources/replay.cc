#include "cicd/exporter/sources/replay.h"

#include <algorithm>
#include <cmath>

#include "cicd/core/atomic_file.h"
#include "cicd/core/log.h"

namespace cicd::exporter {
namespace {

TimePoint::duration FromSeconds(double s) {
  return std::chrono::duration_cast<TimePoint::duration>(Seconds(s));
}

}  // namespace

SourceFactory ParseReplayConfig(YamlMap& y, SourceCommon& common) {
  ReplaySettings s;
  s.file = y.ExpandedString("file", "");
  if (s.file.empty()) y.Fail("file", "required field is missing");
  s.speed = y.Double("speed", s.speed, 0.001, 1e7);
  s.live_from = y.Double("live_from", s.live_from, 0.0, 1.0);
  if (y.Has("anchor")) {
    auto t = ParseRfc3339(y.String("anchor", ""));
    if (!t) y.Fail("anchor", "want an RFC 3339 time such as 2025-02-04T12:00:00Z: " + t.status().message());
    s.anchor = *t;
  }
  (void)common;
  return [s](const SourceCommon& c, const SourceDeps& deps) -> std::unique_ptr<Source> {
    return std::make_unique<ReplaySource>(c, s, deps.clock);
  };
}

ReplayTimeline::ReplayTimeline(std::vector<RunRecord> runs, TimePoint start,
                               const ReplaySettings& settings)
    : start_(start), speed_(settings.speed) {
  for (auto& r : runs) {
    if (r.status == RunStatus::kCompleted && r.finished_at && r.duration_seconds) {
      runs_.push_back(std::move(r));
    }
  }
  std::sort(runs_.begin(), runs_.end(),
            [](const RunRecord& a, const RunRecord& b) { return *a.finished_at < *b.finished_at; });
  if (runs_.empty()) {
    split_ = start;
    return;
  }
  const double q = std::clamp(settings.live_from, 0.0, 1.0);
  if (q <= 0.0) {
    // Everything plays live: the cut is just before the first run starts.
    TimePoint first = *runs_.front().started_at;
    for (const auto& r : runs_) first = std::min(first, r.started_at.value_or(first));
    split_ = first;
  } else {
    const auto idx = static_cast<std::size_t>(std::ceil(q * runs_.size())) - 1;
    split_ = *runs_[std::min(idx, runs_.size() - 1)].finished_at;
  }
}

TimePoint ReplayTimeline::Map(TimePoint h) const {
  const auto delta = h - split_;
  if (delta <= TimePoint::duration::zero()) return start_ + delta;
  return start_ + std::chrono::duration_cast<TimePoint::duration>(delta / speed_);
}

PollResult ReplayTimeline::At(TimePoint since, TimePoint now) const {
  PollResult out;
  for (const auto& r : runs_) {
    const TimePoint finished = Map(*r.finished_at);
    const TimePoint started_live = Map(*r.started_at);
    if (finished <= now) {
      if (finished < since) continue;
      RunRecord shown = r;
      shown.finished_at = finished;
      shown.started_at = finished - FromSeconds(*r.duration_seconds);
      if (r.queue_seconds) shown.created_at = *shown.started_at - FromSeconds(*r.queue_seconds);
      out.finished.push_back(std::move(shown));
    } else if (started_live <= now) {
      RunRecord shown = r;
      shown.status = RunStatus::kRunning;
      shown.result.reset();
      shown.finished_at.reset();
      shown.duration_seconds.reset();
      shown.tests_total.reset();
      shown.tests_failed.reset();
      shown.tests_skipped.reset();
      shown.started_at = started_live;
      if (r.queue_seconds) shown.created_at = started_live - FromSeconds(*r.queue_seconds);
      out.active.push_back(std::move(shown));
    }
  }
  return out;
}

ReplaySource::ReplaySource(const SourceCommon& common, const ReplaySettings& settings,
                           const Clock* clock)
    : name_(common.name), settings_(settings), clock_(clock) {
  auto text = ReadFileToString(settings_.file);
  if (!text) {
    load_status_ = text.status().WithContext("replay source " + name_);
    LogError("cannot load replay file", {{"source", name_}, {"err", load_status_}});
    return;
  }
  ParsedRuns parsed = ParseRunRecords(*text);
  for (const auto& e : parsed.errors) {
    LogWarn("skipping malformed run", {{"source", name_}, {"file", settings_.file}, {"err", e}});
  }
  LogInfo("replay file loaded", {{"source", name_},
                                 {"runs", parsed.runs.size()},
                                 {"skipped", parsed.errors.size()}});
  timeline_ = std::make_unique<ReplayTimeline>(std::move(parsed.runs), settings_.anchor.value_or(clock_->Now()),
                                               settings_);
}

Result<PollResult> ReplaySource::Poll(TimePoint since) {
  if (!timeline_) return load_status_;
  return timeline_->At(since, clock_->Now());
}

}  // namespace cicd::exporter
