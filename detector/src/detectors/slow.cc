// Slow: a run whose duration is in the upper tail of its context's
// durations, at least min_slow_ratio x the context's median.
#include "detectors/detector.h"

namespace cicd::detector::detail {
namespace {

class SlowDetector final : public Detector {
 public:
  explicit SlowDetector(const DetectionOptions& o) : options_(o) {}
  Kind kind() const override { return Kind::kSlow; }

  std::optional<Finding> Judge(const Observation& o, double alpha) const override {
    // A failed run is judged against failed runs once there are enough of
    // them, else against successful ones (failures usually end earlier).
    const bool as_failed = o.failed_duration.has_value();
    const auto& judged = as_failed ? o.failed_duration : o.duration;
    const FeatureModel& model = as_failed ? o.models.failed_duration : o.models.duration;
    if (!o.f.duration || !judged) return std::nullopt;
    const FeatureJudgement& j = *judged;
    const double d = *o.f.duration;
    const double median = model.FromLog(j.level);
    if (j.p_upper > alpha || d < options_.min_slow_ratio * median) return std::nullopt;
    Finding f{Kind::kSlow, j.p_upper, alpha, {}, {}, {}};
    f.reason = "duration " + FormatSeconds(d) + ", usual " +
               FormatSeconds(model.ValueAt(o.ctx, 0.1).value_or(median)) + "-" +
               FormatSeconds(model.ValueAt(o.ctx, 0.9).value_or(median)) + " for " +
               (as_failed ? "failed " : "") + o.ctx.Describe() + " (median " + FormatSeconds(median) + "); runs this slow happen " +
               FormatOneIn(j.p_upper);
    return f;
  }
  void Learn(const Observation&, const Outcome&, FeatureModels&) override {}
  boost::json::value Save() const override { return nullptr; }
  bool Restore(const boost::json::value& v) override { return v.is_null(); }

 private:
  DetectionOptions options_;
};

}  // namespace

std::unique_ptr<Detector> MakeSlowDetector(const DetectionOptions& o) { return std::make_unique<SlowDetector>(o); }

}  // namespace cicd::detector::detail
