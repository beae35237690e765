#pragma once
// What the detector says about one run.

#include <boost/json/object.hpp>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cicd/core/time.h"

namespace cicd::detector {

// Kinds, most important first (the primary kind of a verdict is the first
// that fired).
inline constexpr const char* kKinds[] = {"stuck",         "regression", "failure_burst",
                                         "tests_missing", "slow",       "queue",
                                         "multivariate"};

// Expected values of a feature for a context: p10, median, p90.
struct Band {
  double lower = 0, median = 0, upper = 0;
};

struct Verdict {
  std::string source;
  std::string pipeline;
  std::string run_id;  // RunRecord::Key(): "id" or "id#attempt"
  std::optional<TimePoint> finished_at;
  bool scored = false;     // false during cold start
  bool anomalous = false;  // score >= 1
  double score = 0;        // normalised: 1 is the alert threshold
  std::string severity = "none";  // none, warning (>= 1), critical (>= 2)
  std::string kind;               // one of kKinds when anomalous, else ""
  std::vector<std::string> reasons;  // in words a developer understands
  std::optional<TimePoint> regression_start;  // kind == "regression": first slow run
  std::string regression_start_run;           // its number (or run id)
  std::string context;                        // "push/main": trigger / branch class
  // Per feature (duration, queue, tests), log p / log share: 1 where that
  // feature alone would alert, for attribution. Judged features only.
  std::map<std::string, double> feature_scores;

  // {"source","pipeline","run_id","scored","anomalous","score","severity","kind","reasons"}
  // (+ "context" when scored, "regression_start" and "regression_start_run"
  // for regressions); score rounded to 3 decimals.
  boost::json::object ToJson() const;
  // ToJson() on one line, numbers in shortest form.
  std::string ToJsonLine() const;
};

std::string SeverityFor(double score);

}  // namespace cicd::detector
