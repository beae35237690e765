#include "cicd/detector/replay.h"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>

#include "cicd/detector/pipeline_model.h"

namespace cicd::detector {

std::vector<Verdict> ReplayRuns(std::vector<RunRecord> runs, const DetectionOptions& options) {
  std::stable_sort(runs.begin(), runs.end(), [](const RunRecord& a, const RunRecord& b) {
    return a.finished_at.value_or(TimePoint{}) < b.finished_at.value_or(TimePoint{});
  });
  std::map<std::string, std::unique_ptr<PipelineModel>> models;
  std::vector<Verdict> out;
  out.reserve(runs.size());
  // The forest is refitted on schedule, like the sidecar's daily 02:00 UTC
  // retrain: at each boundary every model refits on the runs it has learnt,
  // all of which finished before that moment.
  std::optional<TimePoint> next_retrain;
  const auto interval = std::max<TimePoint::duration>(options.retrain_interval, std::chrono::minutes(1));
  for (const RunRecord& run : runs) {
    const TimePoint finished = run.finished_at.value_or(TimePoint{});
    if (!next_retrain) {
      const auto day = std::chrono::floor<std::chrono::days>(finished);
      next_retrain = day + std::chrono::hours(2);
      while (*next_retrain <= finished) *next_retrain += interval;
    }
    if (finished >= *next_retrain) {
      for (auto& [key, m] : models) m->Retrain();
      while (*next_retrain <= finished) *next_retrain += interval;
    }
    auto& model = models[run.source + '\x1f' + run.pipeline];
    if (!model) model = std::make_unique<PipelineModel>(options);
    out.push_back(model->Process(run));
  }
  return out;
}

}  // namespace cicd::detector
