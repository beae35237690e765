// Queue: a wait in the upper tail of the pipeline's queue times for the
// run's context and hour of week, at least queue_min_excess_seconds longer
// than usual.
#include "detectors/detector.h"

namespace cicd::detector::detail {
namespace {

class QueueDetector final : public Detector {
 public:
  explicit QueueDetector(const DetectionOptions& o) : options_(o) {}
  Kind kind() const override { return Kind::kQueue; }

  std::optional<Finding> Judge(const Observation& o, double alpha) const override {
    if (!o.f.queue || !o.queue) return std::nullopt;
    const FeatureJudgement& j = *o.queue;
    const double q = *o.f.queue;
    const double usual = o.models.queue.FromLog(j.level);
    if (j.p_upper > alpha || q - usual < options_.queue_min_excess_seconds) return std::nullopt;
    Finding f{Kind::kQueue, j.p_upper, alpha, {}, {}, {}};
    f.reason = "queued " + FormatSeconds(q) + ", usual " +
               FormatSeconds(o.models.queue.ValueAt(o.ctx, 0.1).value_or(usual)) + "-" +
               FormatSeconds(o.models.queue.ValueAt(o.ctx, 0.9).value_or(usual)) + " for " +
               o.ctx.Describe() + " at this hour (median " + FormatSeconds(usual) +
               "); waits this long happen " + FormatOneIn(j.p_upper);
    return f;
  }
  void Learn(const Observation&, const Outcome&, FeatureModels&) override {}
  boost::json::value Save() const override { return nullptr; }
  bool Restore(const boost::json::value& v) override { return v.is_null(); }

 private:
  DetectionOptions options_;
};

}  // namespace

std::unique_ptr<Detector> MakeQueueDetector(const DetectionOptions& o) { return std::make_unique<QueueDetector>(o); }

}  // namespace cicd::detector::detail
