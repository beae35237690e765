#include "cicd/detector/replay.h"

#include <algorithm>
#include <map>
#include <memory>

#include "cicd/detector/pipeline_model.h"

namespace cicd::detector {

std::vector<Verdict> ReplayRuns(std::vector<RunRecord> runs, const DetectionOptions& options) {
  std::stable_sort(runs.begin(), runs.end(), [](const RunRecord& a, const RunRecord& b) {
    return a.finished_at.value_or(TimePoint{}) < b.finished_at.value_or(TimePoint{});
  });
  std::map<std::string, std::unique_ptr<PipelineModel>> models;
  std::vector<Verdict> out;
  out.reserve(runs.size());
  for (const RunRecord& run : runs) {
    auto& model = models[run.source + '\x1f' + run.pipeline];
    if (!model) model = std::make_unique<PipelineModel>(options);
    out.push_back(model->Process(run));
  }
  return out;
}

}  // namespace cicd::detector
