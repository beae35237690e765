#pragma once
// Detection settings, parsed once from the `detection:` section of the
// detector's YAML config. Every field states its default and what it trades.
//
// One key sets how often the detector may be wrong: false_alarm_rate, the
// false alerts a user accepts per normal run. It is split evenly across the
// run-level detectors (slow, queue, tests missing, regression, failure
// burst, and the isolation forest when enabled), each of which alerts when
// the tail probability of what it saw, under the run's context, is at most
// its share. The other keys are minimums of evidence and of relevance, not
// thresholds to tune to a data set.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cicd/core/time.h"
#include "cicd/core/yaml.h"

namespace cicd::detector {

struct DetectionOptions {
  // False alerts accepted per normal run, all detectors together, in
  // [1e-7, 0.1]. 1e-3 at 20,000 runs a day is about 20 false alerts a day;
  // lower finds fewer of the milder anomalies.
  double false_alarm_rate = 1e-3;
  // Cold start: no verdict for a pipeline before it has this many runs.
  std::size_t min_runs = 30;
  // Contexts (trigger x branch class): a context's level is the median of
  // its newest context_window runs; a context with fewer than
  // context_min_runs runs falls back to its trigger's runs on any branch,
  // and a trigger with fewer is not judged on duration, queue or tests (its
  // level is unknown: the first nightly runs of a pipeline are not slow
  // push runs).
  std::size_t context_min_runs = 5;
  std::size_t context_window = 50;
  // Residuals (value minus its context's level, log scale) pooled over a
  // pipeline's contexts, newest `window` kept: the distribution whose tail
  // probabilities the verdicts are. Larger adapts more slowly to a change of
  // spread; smaller extrapolates the tail from fewer runs.
  std::size_t window = 1000;
  // Share of the pooled residuals above the tail threshold to which the
  // generalized Pareto tail is fitted (peaks over threshold).
  double tail_share = 0.05;
  // Branches of the default-branch class; every other branch is "other".
  // Runs with no branch count as the default branch.
  std::vector<std::string> default_branches = {"main", "master", "trunk"};
  // Queue times conditioned on the pipeline's own hour-of-week pattern.
  bool seasonality = true;
  // Relevance: a slow run takes at least this multiple of its context's
  // median duration, a queue anomaly waits at least this much longer than
  // usual, whatever their probability.
  double min_slow_ratio = 1.5;
  double queue_min_excess_seconds = 60;
  // Stuck: a run active past the duration whose tail probability is the
  // slow detector's share, and at least stuck_factor x the median. A
  // finished run past that limit that ended in timeout or cancellation is
  // stuck too (it hung until something stopped it).
  double stuck_factor = 2.0;
  // Tests missing: a successful run reports fewer than this share of its
  // context's usual test count, or none after tests_report_runs successful
  // runs in a row that reported.
  double tests_missing_ratio = 0.5;
  std::size_t tests_report_runs = 20;
  // Failure burst: failures among the pipeline's last burst_window runs
  // whose tail probability, each run at its branch class's own failure rate
  // (last burst_history results, Laplace prior), is at most its share.
  std::size_t burst_window = 6;
  std::size_t burst_history = 200;
  // Regression: a one-sided CUSUM of the normal scores of successful runs'
  // duration residuals, per context, with reference drift cusum_drift
  // (sensitive to shifts of about 2 x drift standard deviations); its
  // decision interval gives an average run length between false alarms of
  // 1 / share, and never less than regression_min_arl runs. A shift smaller
  // than regression_min_ratio x the old median is not reported.
  double cusum_drift = 0.5;
  double regression_min_arl = 10'000;
  double regression_min_ratio = 1.15;
  // An alert of the same kind on the same pipeline within fold_runs runs of
  // the previous one belongs to the same open incident: it is reported as
  // not anomalous, with a reason saying so, instead of a new alert.
  std::size_t fold_runs = 5;
  // The isolation forest over all run features (kind "multivariate"),
  // retrained every retrain_interval on past runs only. Its score is a
  // conformal p-value against its own training scores, so with n training
  // runs it cannot go below 1 / (n + 1): at false alarm rates under about
  // 6 / 1,000 it never alerts and serves as the multivariate feature score.
  bool forest = true;
  // Share of anomalous runs expected in a pipeline's history, in (0, 0.5];
  // when set, each forest alerts at that conformal p-value (the top share of
  // its own training scores) instead of its budget share. 0 = unset.
  double contamination = 0;
  std::size_t forest_trees = 100;
  std::size_t forest_sample_size = 256;
  Millis retrain_interval{24 * 3'600'000};
  // Seed of all randomness (models are deterministic for a given history).
  std::uint64_t seed = 42;

  // The share of false_alarm_rate each run-level detector gets.
  double DetectorAlpha() const { return false_alarm_rate / (forest ? 6.0 : 5.0); }
};

// Reads the keys of a `detection:` mapping (throws ConfigError naming the key
// and line on bad values; unknown keys included, and the keys of the old
// MAD thresholds with a message naming false_alarm_rate).
DetectionOptions ParseDetectionOptions(YamlMap& yaml);

}  // namespace cicd::detector
