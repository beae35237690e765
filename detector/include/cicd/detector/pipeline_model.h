#pragma once
// The model of one pipeline: robust streaming baselines per feature, the
// level-shift tracker, the failure-burst test and the cold-start rule. Each
// finished run is judged against what was learnt from earlier runs only, then
// learnt from. Pure: no I/O, no clock. Not thread-safe; one owner.

#include <array>
#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cicd/core/result.h"
#include "cicd/core/run_record.h"
#include "cicd/detector/baseline.h"
#include "cicd/detector/iforest.h"
#include "cicd/detector/options.h"
#include "cicd/detector/verdict.h"

namespace cicd::detector {

// Per-run features. Missing-value rule: a feature the run does not report is
// std::nullopt; it is neither judged nor learnt (never read as 0).
struct RunFeatures {
  std::optional<double> duration;
  std::optional<double> queue;
  std::optional<double> tests_total;
  std::optional<double> tests_failed;
  std::optional<double> tests_skipped;
  std::optional<double> duration_per_test;
  int hour_of_week = 0;  // 0 = Monday 00:00 UTC, from the start time
  bool failed = false;   // result failure, error or timeout
  bool success = false;
};

RunFeatures ExtractFeatures(const RunRecord& run);

// Binomial upper tail P(X >= k) for X ~ Bin(n, p).
double BinomialTail(std::size_t n, std::size_t k, double p);

class PipelineModel {
 public:
  explicit PipelineModel(const DetectionOptions& options);

  // Judges a finished run, then learns from it.
  Verdict Process(const RunRecord& run);

  // Refits the isolation forest on the runs learnt so far (the scheduled
  // retrain). No-op below min_runs or with forest disabled. Deterministic
  // for a given history and options.seed. With `contamination` (the share
  // of anomalous runs expected in the history, in (0, 0.5]), the forest
  // alerts at or above the lowest of its ceil(contamination * n) highest
  // training scores (at least 0.5) instead of options.forest_threshold.
  // Without the argument, options.contamination applies when set.
  void Retrain(std::optional<double> contamination = std::nullopt);
  // The forest score at which a run is "multivariate".
  double forest_threshold() const { return forest_cutoff_.value_or(options_.forest_threshold); }
  bool has_forest() const { return forest_.has_value(); }

  // Stuck check for a run still active at `now` (std::nullopt when fine or
  // during cold start). Does not learn.
  std::optional<Verdict> CheckActive(const RunRecord& run, TimePoint now) const;

  // Persistence: a JSON document of the whole learnt state (baselines,
  // streaks, failure history, forest rows and the fitted forest).
  // Deserialize(Serialize()) judges every later run exactly like the
  // original. Deserialize never trusts its input (kParse on any mismatch);
  // `options` are the current ones (not saved).
  std::string Serialize() const;
  static Result<PipelineModel> Deserialize(std::string_view text, const DetectionOptions& options);

  std::size_t runs_seen() const { return runs_seen_; }
  const RobustBaseline& duration() const { return duration_; }
  const RobustBaseline& queue() const { return queue_; }
  const RobustBaseline& tests() const { return tests_; }
  // The duration above which a run is stuck.
  double StuckThresholdSeconds() const;

 private:
  struct Elevated {
    double duration;
    TimePoint started;
  };
  Verdict Judge(const RunRecord& run, const RunFeatures& f);
  void Learn(const RunFeatures& f, const Verdict& v);

  DetectionOptions options_;
  RobustBaseline duration_;
  RobustBaseline queue_;
  RobustBaseline tests_;
  std::size_t runs_seen_ = 0;
  std::size_t runs_with_tests_ = 0;
  std::size_t successes_seen_ = 0;
  std::deque<bool> recent_failed_;       // last burst_window - 1 results, newest last
  std::deque<bool> older_failed_;        // up to burst_history results before those
  std::size_t older_failures_ = 0;       // failures in older_failed_
  bool in_burst_ = false;
  std::vector<Elevated> streak_;         // consecutive elevated durations
  // Forest features of the runs learnt, newest last (at most kForestRows).
  static constexpr std::size_t kForestCols = 5;
  static constexpr std::size_t kForestRows = 1024;
  std::array<double, kForestCols> ForestRow(const RunFeatures& f) const;
  std::deque<std::array<double, kForestCols>> forest_rows_;
  std::optional<IsolationForest> forest_;
  std::optional<double> forest_cutoff_;  // from Retrain(contamination)
  std::size_t retrains_ = 0;
  std::string open_kind_;                // kind of the last alert
  std::size_t runs_since_alert_ = 0;
};

}  // namespace cicd::detector
