#include "cicd/detector/options.h"

#include <limits>

namespace cicd::detector {

DetectionOptions ParseDetectionOptions(YamlMap& y) {
  DetectionOptions o;
  constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
  o.min_runs = static_cast<std::size_t>(y.Int("min_runs", static_cast<std::int64_t>(o.min_runs), 3, 100'000));
  o.window = static_cast<std::size_t>(y.Int("window", static_cast<std::int64_t>(o.window), 5, 100'000));
  o.threshold = y.Double("threshold", o.threshold, 0.5, 1e6);
  o.rel_floor = y.Double("rel_floor", o.rel_floor, 0, 10);
  o.min_slow_ratio = y.Double("min_slow_ratio", o.min_slow_ratio, 1, 1e6);
  o.queue_min_excess_seconds = y.Double("queue_min_excess_seconds", o.queue_min_excess_seconds, 0, 1e9);
  o.slow_p95_factor = y.Double("slow_p95_factor", o.slow_p95_factor, 0, 1e6);
  o.burst_history = static_cast<std::size_t>(y.Int("burst_history", static_cast<std::int64_t>(o.burst_history), 10, 1'000'000));
  o.fold_runs = static_cast<std::size_t>(y.Int("fold_runs", static_cast<std::int64_t>(o.fold_runs), 0, 1'000'000));
  o.queue_min_ratio = y.Double("queue_min_ratio", o.queue_min_ratio, 1, 1e6);
  o.stuck_factor = y.Double("stuck_factor", o.stuck_factor, 1, 1e6);
  o.tests_missing_ratio = y.Double("tests_missing_ratio", o.tests_missing_ratio, 0, 1);
  o.burst_window = static_cast<std::size_t>(y.Int("burst_window", static_cast<std::int64_t>(o.burst_window), 2, 1000));
  o.burst_alpha = y.Double("burst_alpha", o.burst_alpha, 1e-12, 0.5);
  o.shift_runs = static_cast<std::size_t>(y.Int("shift_runs", static_cast<std::int64_t>(o.shift_runs), 2, 1000));
  o.shift_ratio = y.Double("shift_ratio", o.shift_ratio, 1, 1e6);
  o.shift_deviation = y.Double("shift_deviation", o.shift_deviation, 0, 1e6);
  o.forest = y.Bool("forest", o.forest);
  o.forest_threshold = y.Double("forest_threshold", o.forest_threshold, 0.5, 1);
  o.contamination = y.Double("contamination", o.contamination, 0, 0.5);
  o.forest_trees = static_cast<std::size_t>(y.Int("forest_trees", static_cast<std::int64_t>(o.forest_trees), 1, 10'000));
  o.forest_sample_size = static_cast<std::size_t>(y.Int("forest_sample_size", static_cast<std::int64_t>(o.forest_sample_size), 2, 1'000'000));
  o.retrain_interval = y.Duration("retrain_interval", o.retrain_interval);
  o.seed = static_cast<std::uint64_t>(y.Int("seed", static_cast<std::int64_t>(o.seed), 0, kMax));
  return o;
}

}  // namespace cicd::detector
