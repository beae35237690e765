// Tests missing: a successful run that reports far fewer tests than its
// context usually does (in the lower tail of the pipeline's test-count
// residuals, and under tests_missing_ratio x the usual count: "fast and
// empty" runs), or no test report at all after tests_report_runs successful
// runs of its context in a row reported one. The latter is a rule, not a
// tail probability: its score is fixed at 1.5.
#include <algorithm>
#include <cmath>
#include <map>

#include "cicd/core/json.h"
#include "detectors/detector.h"

namespace cicd::detector::detail {
namespace {

constexpr double kRuleScore = 1.5;

class TestsMissingDetector final : public Detector {
 public:
  explicit TestsMissingDetector(const DetectionOptions& o) : options_(o) {}
  Kind kind() const override { return Kind::kTestsMissing; }

  std::optional<Finding> Judge(const Observation& o, double alpha) const override {
    if (!o.f.success) return std::nullopt;
    if (!o.f.tests_total) {
      auto it = reporting_.find(o.ctx.Key());
      if (it == reporting_.end() || it->second < options_.tests_report_runs) return std::nullopt;
      const auto usual = o.models.tests.ValueAt(o.ctx, 0.5);
      Finding f{Kind::kTestsMissing, std::pow(alpha, kRuleScore), alpha, {}, {}, {}};
      f.reason = "no test report, after " + FormatCount(static_cast<double>(it->second)) +
                 " successful " + o.ctx.Describe() + " in a row reported one" +
                 (usual ? " (usual " + FormatCount(*usual) + " tests)" : std::string());
      return f;
    }
    if (!o.tests) return std::nullopt;
    const FeatureJudgement& j = *o.tests;
    const double t = *o.f.tests_total;
    const double usual = o.models.tests.FromLog(j.level);
    if (j.p_lower > alpha || !(t < options_.tests_missing_ratio * usual)) return std::nullopt;
    Finding f{Kind::kTestsMissing, j.p_lower, alpha, {}, {}, {}};
    f.reason = "tests " + FormatCount(t) + " vs usual " + FormatCount(usual) + " for " + o.ctx.Describe();
    if (o.f.duration && o.duration) {
      f.reason += "; duration " + FormatSeconds(*o.f.duration) + " vs usual " +
                  FormatSeconds(o.models.duration.FromLog(o.duration->level));
    }
    f.reason += "; runs with this few tests happen " + FormatOneIn(j.p_lower);
    return f;
  }

  void Learn(const Observation& o, const Outcome&, FeatureModels&) override {
    if (!o.f.success) return;
    std::size_t& n = reporting_[o.ctx.Key()];
    n = o.f.tests_total ? std::min<std::size_t>(n + 1, 1'000'000) : 0;
  }

  boost::json::value Save() const override {
    boost::json::object o;
    for (const auto& [ctx, n] : reporting_) o[ctx] = n;
    return o;
  }
  bool Restore(const boost::json::value& v) override {
    const auto* o = v.if_object();
    if (!o) return false;
    reporting_.clear();
    for (const auto& [ctx, n] : *o) {
      if (!n.is_uint64() && !(n.is_int64() && n.get_int64() >= 0)) return false;
      reporting_[std::string(ctx)] = static_cast<std::size_t>(n.to_number<std::uint64_t>());
    }
    return true;
  }

 private:
  DetectionOptions options_;
  std::map<std::string, std::size_t> reporting_;  // context -> successful runs in a row with tests
};

}  // namespace

std::unique_ptr<Detector> MakeTestsMissingDetector(const DetectionOptions& o) {
  return std::make_unique<TestsMissingDetector>(o);
}

}  // namespace cicd::detector::detail
