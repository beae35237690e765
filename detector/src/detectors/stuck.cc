// Stuck (finished runs): a run that ended in timeout or cancellation after
// running past its context's stuck limit (StuckLimitSeconds): it hung until
// something stopped it. Active runs are checked by PipelineModel::CheckActive
// against the same limit.
#include <algorithm>

#include "detectors/detector.h"

namespace cicd::detector::detail {
namespace {

class StuckDetector final : public Detector {
 public:
  explicit StuckDetector(const DetectionOptions& o) : options_(o) {}
  Kind kind() const override { return Kind::kStuck; }

  std::optional<Finding> Judge(const Observation& o, double alpha) const override {
    if (!o.f.duration || !o.duration) return std::nullopt;
    const std::string result = o.run.result.value_or("");
    if (result != "timeout" && result != "cancellation") return std::nullopt;
    const auto limit = StuckLimitSeconds(o.models, &o.ctx, options_);
    const double d = *o.f.duration;
    if (!limit || !(d > *limit)) return std::nullopt;
    Finding f{Kind::kStuck, std::min(o.duration->p_upper, alpha), alpha, {}, {}, {}};
    f.reason = "ran " + FormatSeconds(d) + " until " + result + ", past the stuck limit " +
               FormatSeconds(*limit) + " for " + o.ctx.Describe() + "; runs this long happen " +
               FormatOneIn(o.duration->p_upper);
    return f;
  }
  void Learn(const Observation&, const Outcome&, FeatureModels&) override {}
  boost::json::value Save() const override { return nullptr; }
  bool Restore(const boost::json::value& v) override { return v.is_null(); }

 private:
  DetectionOptions options_;
};

}  // namespace

std::unique_ptr<Detector> MakeStuckDetector(const DetectionOptions& o) { return std::make_unique<StuckDetector>(o); }

}  // namespace cicd::detector::detail
