#pragma once
// Replays a history of runs exactly as production would: in finish-time
// order, each run judged by its pipeline's model as it stood when the run
// finished (models learn only from runs finished before), with the forest
// retrained on the configured schedule. Pure: runs in, verdicts out.

#include <vector>

#include "cicd/core/run_record.h"
#include "cicd/detector/options.h"
#include "cicd/detector/verdict.h"

namespace cicd::detector {

// Verdicts in finish-time order (ties keep input order), one per run.
// REQUIRES: every run is completed with a finish time (ParseRunRecord
// guarantees it for completed runs).
std::vector<Verdict> ReplayRuns(std::vector<RunRecord> runs, const DetectionOptions& options);

}  // namespace cicd::detector
