#pragma once
// The calibrated model of one feature of one pipeline (duration, queue time,
// test count), per run context. A value is read on a log scale as
// level(context) + season(hour of week) + residual:
// - the level is the median of the context's newest `context_window` values
//   (context = trigger x branch class, falling back to the trigger alone
//   while the narrower context has fewer than `context_min_runs` runs; a
//   trigger never seen that often is not judged: its level is unknown);
// - the season (optional, for queue times) is the median residual of the
//   pipeline's runs started in the same 2-hour block of a weekday or weekend
//   day, shrunk towards 0 while the block has few runs: the load pattern the
//   pipeline's own history shows, not hard-coded office hours;
// - the residuals of all contexts are pooled into one TailWindow, each taken
//   against the level as it stood before the run (predictive), so the
//   uncertainty of a young context's level is part of the spread.
// Tail probabilities of a new value are read from the pooled residuals.
// Pure; not thread-safe; one owner.

#include <array>
#include <boost/json/value.hpp>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "detectors/tail.h"

namespace cicd::detector::detail {

// What a run's context is. `trigger` is the run record's trigger ("" when
// unknown); `branch_class` is "main" for the default branch (or unknown
// branch) and "other" for the rest.
struct RunContext {
  std::string trigger;
  std::string branch_class;
  int hour_of_week = 0;  // 0 = Monday 00:00 UTC
  std::string Key() const { return trigger + "/" + branch_class; }
  // "push runs on main", "pull_request runs on other branches", "runs"
  std::string Describe() const;
};

struct FeatureModelOptions {
  std::size_t pooled_window = 1000;
  std::size_t context_window = 50;
  std::size_t context_min_runs = 5;
  double tail_share = 0.05;
  double log_offset = 1;  // a value x is read as log(x + log_offset)
  bool seasonal = false;
  // Learning gate: a residual with a tail probability (either side) below
  // this under the current fit is kept out of the pooled residuals (a miss
  // that slipped under a relevance floor or an open incident must not widen
  // the tail that judges the next runs); while no tail is fitted yet, a
  // residual more than twice as far from the median as the farthest seen.
  // The context's level (a median) still learns it. Gated residuals that
  // recur (3 of the last 100) are a new mode and are admitted. 0 = no gate.
  double learn_gate_p = 0;
};

struct FeatureJudgement {
  std::string context;   // key of the context whose level was used
  std::size_t context_runs = 0;
  double level = 0;      // log scale, season included
  double residual = 0;
  double p_upper = 1;    // P(a value at least this high)
  double p_lower = 1;    // P(a value at most this low)
  double z = 0;          // normal score of the residual (positive = high)
};

class FeatureModel {
 public:
  explicit FeatureModel(FeatureModelOptions options = {});

  // std::nullopt while the run's context has too few runs or the pipeline
  // too few residuals (40).
  std::optional<FeatureJudgement> Judge(const RunContext& c, double x) const;
  // Learns x as normal for its context (within the learning gate; `force`
  // skips the gate: a run a user marked as a false positive).
  void Learn(const RunContext& c, double x, bool force = false);
  // The context's level restarts from these values (after a level shift).
  void Rebase(const RunContext& c, const std::vector<double>& xs);

  // Raw value at residual quantile q of the context (bands), and the raw
  // value whose upper tail probability is p (limits). std::nullopt while
  // the context is not judged.
  std::optional<double> ValueAt(const RunContext& c, double q) const;
  std::optional<double> ValueAtUpperP(const RunContext& c, double p) const;
  // The largest ValueAtUpperP over the contexts known, for active runs
  // whose context is unknown.
  std::optional<double> MaxValueAtUpperP(double p) const;
  // The largest context median (raw units) over the contexts known.
  std::optional<double> MaxMedian() const;

  double ToLog(double x) const;
  double FromLog(double y) const;
  std::size_t residuals() const { return residuals_.size(); }
  std::size_t runs(const RunContext& c) const;

  boost::json::value Save() const;
  bool Restore(const boost::json::value& v);

 private:
  static constexpr int kCells = 24;  // weekday/weekend x 12 two-hour blocks
  static int Cell(int hour_of_week);
  // The level window used for c (narrow or trigger-wide) and its key.
  const TailWindow* Level(const RunContext& c, std::string* key) const;
  double Season(int hour_of_week) const;
  bool Gated(double residual) const;
  void AddResidual(double r, bool force);

  FeatureModelOptions options_;
  std::map<std::string, TailWindow> levels_;  // "trigger/class" and "trigger"
  TailWindow residuals_;
  std::array<TailWindow, kCells> season_;
  std::deque<bool> recent_gated_;  // learning gate, newest last
  std::deque<double> quarantine_;  // gated residuals, admitted if they recur
};

}  // namespace cicd::detector::detail
