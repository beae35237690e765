#pragma once
// The detectors of one pipeline behind one small interface, each in its own
// file and listed in one table (detectors.cc), like the exporter's sources.
// A detector judges a finished run against what was learnt from earlier
// runs only (Judge is const), then learns from it with the verdict's
// structured outcome (never its text). The per-feature models they read are
// owned by the pipeline model and passed in. Pure: no I/O, no clock.

#include <boost/json/value.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "cicd/core/run_record.h"
#include "cicd/detector/options.h"
#include "cicd/detector/pipeline_model.h"
#include "detectors/feature_model.h"

namespace cicd::detector::detail {

// In kKinds order: the most important first.
enum class Kind { kStuck, kRegression, kFailureBurst, kTestsMissing, kSlow, kQueue, kMultivariate };
const char* KindName(Kind k);

// The per-feature models of a pipeline, shared by the detectors.
struct FeatureModels {
  explicit FeatureModels(const DetectionOptions& o);
  FeatureModel duration;         // successful runs
  FeatureModel failed_duration;  // runs that ended in failure or error
  FeatureModel queue;     // every run that reports one, seasonal
  FeatureModel tests;     // successful runs' test counts
};

// One finished run as the detectors see it: its features, context, and the
// judgements of its features under the models as they stood before it.
struct Observation {
  const RunRecord& run;
  const RunFeatures& f;
  RunContext ctx;
  // duration: under successful runs' durations; failed_duration: under
  // failed runs' (for runs that ended in failure or error).
  std::optional<FeatureJudgement> duration, failed_duration, queue, tests;
  const FeatureModels& models;
};

struct Finding {
  Kind kind;
  double p = 1;  // tail probability of what was seen (the verdict's evidence)
  double alpha = 1;  // the detector's share of the false alarm rate
  std::string reason;
  // Regressions: the first run of the shift.
  std::optional<TimePoint> regression_start;
  std::string regression_start_run;
};

// What the verdict on a run was, for learning: every kind that fired
// (folded into an open incident or not).
struct Outcome {
  std::vector<Kind> fired;
  bool anomalous = false;
  bool Fired(Kind k) const;
};

class Detector {
 public:
  virtual ~Detector() = default;
  virtual Kind kind() const = 0;
  // A finding when the run is anomalous for this detector at `alpha`.
  virtual std::optional<Finding> Judge(const Observation& o, double alpha) const = 0;
  // Learns from the run; may rebase the feature models (a level shift).
  virtual void Learn(const Observation& o, const Outcome& outcome, FeatureModels& models) = 0;
  // The scheduled retrain (the isolation forest refits). `salt` varies the
  // seed per retrain.
  virtual void Retrain(std::optional<double> /*contamination*/, std::uint64_t /*salt*/) {}
  // Whether Retrain has fitted a model (the forest).
  virtual bool Fitted() const { return false; }
  // Learnt state as JSON; Restore(Save()) judges every later run the same.
  // Restore never trusts its input (false on any mismatch).
  virtual boost::json::value Save() const = 0;
  virtual bool Restore(const boost::json::value& v) = 0;
};

struct DetectorEntry {
  Kind kind;
  std::unique_ptr<Detector> (*make)(const DetectionOptions& options);
  bool (*enabled)(const DetectionOptions& options);
};

// Every detector, in kKinds order.
std::span<const DetectorEntry> DetectorTable();

// One detector per file; their factories.
std::unique_ptr<Detector> MakeStuckDetector(const DetectionOptions& o);
std::unique_ptr<Detector> MakeRegressionDetector(const DetectionOptions& o);
std::unique_ptr<Detector> MakeFailureBurstDetector(const DetectionOptions& o);
std::unique_ptr<Detector> MakeTestsMissingDetector(const DetectionOptions& o);
std::unique_ptr<Detector> MakeSlowDetector(const DetectionOptions& o);
std::unique_ptr<Detector> MakeQueueDetector(const DetectionOptions& o);
std::unique_ptr<Detector> MakeForestDetector(const DetectionOptions& o);

// The duration past which a run of context `c` (or of any known context,
// when c is null) is stuck; std::nullopt while no context is judged.
std::optional<double> StuckLimitSeconds(const FeatureModels& m, const RunContext* c,
                                        const DetectionOptions& o);

// Words shared by the reasons: "1840 s", "about 1 in 40,000".
std::string FormatSeconds(double s);
std::string FormatCount(double n);
std::string FormatOneIn(double p);

}  // namespace cicd::detector::detail
