#pragma once
// Detection settings, parsed once from the `detection:` section of the
// detector's YAML config. Every field states its default and what it trades.

#include <cstddef>

#include "cicd/core/time.h"
#include "cicd/core/yaml.h"

namespace cicd::detector {

struct DetectionOptions {
  // Cold start: no verdict for a pipeline before it has this many runs.
  std::size_t min_runs = 30;
  // Runs kept per feature baseline (median, MAD, quantiles).
  std::size_t window = 100;
  // Robust deviations (1.4826 MAD units) that make a normalised score of 1.
  // Lower finds more and alerts more.
  double threshold = 6.0;
  // Relative floor of the robust scale (share of the median): flat series
  // such as a constant test count do not explode.
  double rel_floor = 0.05;
  // A slow run also takes at least this multiple of the median duration and
  // slow_p95_factor times the window's p95 (durations are heavy-tailed).
  double min_slow_ratio = 2.0;
  double slow_p95_factor = 1.5;
  // A queue spike also waits at least this much longer than the median, and
  // at least queue_min_ratio times as long: queues are heavy-tailed.
  double queue_min_excess_seconds = 60;
  double queue_min_ratio = 4.0;
  // Stuck: active after stuck_factor x the p95 duration. A finished run past
  // that limit is stuck when it ended in timeout or cancellation (it hung
  // until something stopped it), else slow.
  double stuck_factor = 3.0;
  // Tests missing: a successful run reports fewer than this share of the
  // pipeline's usual test count (or none) while the pipeline usually reports.
  double tests_missing_ratio = 0.5;
  // Failure burst: failures among the last burst_window runs whose binomial
  // tail probability under the pipeline's own failure rate is below alpha.
  // The pipeline's own failure rate is measured over the last
  // burst_history results (with a Laplace prior).
  std::size_t burst_window = 6;
  double burst_alpha = 1e-3;
  std::size_t burst_history = 200;
  // Level shift: this many consecutive runs at least shift_ratio x the median
  // duration (and shift_deviation robust deviations above it) are one
  // regression event; the baseline then restarts from those runs.
  std::size_t shift_runs = 3;
  double shift_ratio = 1.2;
  double shift_deviation = 3.0;
  // An alert of the same kind on the same pipeline within fold_runs runs of
  // the previous one belongs to the same open incident: it is reported as
  // not anomalous, with a reason saying so, instead of a new alert.
  std::size_t fold_runs = 5;
  // The isolation forest over all run features (kind "multivariate" when only
  // it sees a run). Retrained every retrain_interval on past runs only.
  bool forest = true;
  // Raw iForest score that normalises to 1. Measured with bench/ci_eval.sh:
  // 0.75 added 41 false alerts on 23,775 normal runs, 0.8 adds 6.
  double forest_threshold = 0.8;
  // Share of anomalous runs expected in a pipeline's history, in (0, 0.5];
  // when set, each forest alerts above that quantile of its own training
  // scores instead of forest_threshold (PipelineModel::Retrain). 0 = unset.
  double contamination = 0;
  std::size_t forest_trees = 100;
  std::size_t forest_sample_size = 256;
  Millis retrain_interval{24 * 3'600'000};
  // Seed of all randomness (models are deterministic for a given history).
  std::uint64_t seed = 42;
};

// Reads the keys of a `detection:` mapping (throws ConfigError naming the key
// and line on bad values; unknown keys included).
DetectionOptions ParseDetectionOptions(YamlMap& yaml);

}  // namespace cicd::detector
