#pragma once
// The model of one pipeline: calibrated per-context models of its duration,
// queue time and test count, and the detectors of detector/src/detectors
// (stuck, regression, failure burst, tests missing, slow, queue,
// multivariate) that read them. Each finished run is judged against what was
// learnt from earlier runs only, then learnt from. Every verdict is a tail
// probability under the run's context, compared with the detector's share
// of detection.false_alarm_rate (DetectionOptions). Pure: no I/O, no clock.
// Not thread-safe; one owner.

#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cicd/core/result.h"
#include "cicd/core/run_record.h"
#include "cicd/detector/options.h"
#include "cicd/detector/verdict.h"

namespace cicd::detector {

// Per-run features. Missing-value rule: a feature the run does not report
// is std::nullopt; it is neither judged nor learnt (never read as 0).
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
  ~PipelineModel();
  PipelineModel(PipelineModel&&) noexcept;
  PipelineModel& operator=(PipelineModel&&) noexcept;

  // Judges a finished run, then learns from it.
  Verdict Process(const RunRecord& run);
  // Learns a run as normal for its context whatever it looks like (a
  // false positive a user marked): it joins the baselines it was kept out of.
  void LearnAsNormal(const RunRecord& run);

  // The scheduled retrain: refits the isolation forest on the normal runs
  // learnt so far. No-op below min_runs or with the forest disabled.
  // Deterministic for a given history and options.seed. With
  // `contamination` (in (0, 0.5]) the forest alerts at that conformal
  // p-value instead of its share of the false alarm rate; without it,
  // options.contamination applies when set.
  void Retrain(std::optional<double> contamination = std::nullopt);
  bool has_forest() const;

  // Stuck check for a run still active at `now` (std::nullopt when fine or
  // during cold start). Does not learn.
  std::optional<Verdict> CheckActive(const RunRecord& run, TimePoint now) const;

  // Persistence: a JSON document of the whole learnt state, versioned
  // ("format": 2). Deserialize(Serialize()) judges every later run exactly
  // like the original. Deserialize never trusts its input (kParse on any
  // mismatch, and on a model of another format, which must be retrained);
  // `options` are the current ones (not saved).
  std::string Serialize() const;
  static Result<PipelineModel> Deserialize(std::string_view text, const DetectionOptions& options);

  std::size_t runs_seen() const;
  // Expected values per feature ("duration", "queue", "tests") for the
  // context of the newest run learnt.
  std::map<std::string, Band> Expected() const;
  // The duration past which an active run of unknown context is stuck.
  std::optional<double> StuckThresholdSeconds() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace cicd::detector
