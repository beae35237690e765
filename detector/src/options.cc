#include "cicd/detector/options.h"

#include <limits>

namespace cicd::detector {
namespace {

std::size_t Size(YamlMap& y, const char* key, std::size_t def, std::int64_t min, std::int64_t max) {
  return static_cast<std::size_t>(y.Int(key, static_cast<std::int64_t>(def), min, max));
}

}  // namespace

DetectionOptions ParseDetectionOptions(YamlMap& y) {
  // Thresholds of the MAD-based detector this one replaced: a config that
  // still sets them would silently mean something else now.
  for (const char* old : {"threshold", "rel_floor", "slow_p95_factor", "queue_min_ratio", "burst_alpha",
                          "shift_runs", "shift_ratio", "shift_deviation", "forest_threshold"}) {
    if (y.Has(old)) {
      y.Fail(old, "no longer used: detection is calibrated by detection.false_alarm_rate (see README)");
    }
  }
  DetectionOptions o;
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  o.false_alarm_rate = y.Double("false_alarm_rate", o.false_alarm_rate, 1e-7, 0.1);
  o.min_runs = Size(y, "min_runs", o.min_runs, 3, 100'000);
  o.context_min_runs = Size(y, "context_min_runs", o.context_min_runs, 1, 10'000);
  o.context_window = Size(y, "context_window", o.context_window, 3, 100'000);
  o.window = Size(y, "window", o.window, 20, 100'000);
  o.tail_share = y.Double("tail_share", o.tail_share, 0.02, 0.5);
  if (y.Has("default_branches")) o.default_branches = y.StringList("default_branches");
  o.seasonality = y.Bool("seasonality", o.seasonality);
  o.min_slow_ratio = y.Double("min_slow_ratio", o.min_slow_ratio, 1, 1e6);
  o.queue_min_excess_seconds = y.Double("queue_min_excess_seconds", o.queue_min_excess_seconds, 0, 1e9);
  o.stuck_factor = y.Double("stuck_factor", o.stuck_factor, 1, 1e6);
  o.tests_missing_ratio = y.Double("tests_missing_ratio", o.tests_missing_ratio, 0, 1);
  o.tests_report_runs = Size(y, "tests_report_runs", o.tests_report_runs, 1, 1'000'000);
  o.burst_window = Size(y, "burst_window", o.burst_window, 2, 1000);
  o.burst_history = Size(y, "burst_history", o.burst_history, 10, 1'000'000);
  o.cusum_drift = y.Double("cusum_drift", o.cusum_drift, 0.05, 5);
  o.regression_min_arl = y.Double("regression_min_arl", o.regression_min_arl, 10, 1e12);
  o.regression_min_ratio = y.Double("regression_min_ratio", o.regression_min_ratio, 1, 1e6);
  o.fold_runs = Size(y, "fold_runs", o.fold_runs, 0, 1'000'000);
  o.forest = y.Bool("forest", o.forest);
  o.contamination = y.Double("contamination", o.contamination, 0, 0.5);
  o.forest_trees = Size(y, "forest_trees", o.forest_trees, 1, 10'000);
  o.forest_sample_size = Size(y, "forest_sample_size", o.forest_sample_size, 2, 1'000'000);
  o.retrain_interval = y.Duration("retrain_interval", o.retrain_interval);
  o.seed = static_cast<std::uint64_t>(y.Int("seed", static_cast<std::int64_t>(o.seed), 0, kMax));
  return o;
}

}  // namespace cicd::detector
