#include <algorithm>
#include <cmath>
#include <cstdio>

#include "detectors/detector.h"

namespace cicd::detector::detail {
namespace {

bool Always(const DetectionOptions&) { return true; }
bool WithForest(const DetectionOptions& o) { return o.forest; }

FeatureModelOptions Feature(const DetectionOptions& o, double log_offset, bool seasonal) {
  FeatureModelOptions f;
  f.pooled_window = o.window;
  f.context_window = o.context_window;
  f.context_min_runs = o.context_min_runs;
  f.tail_share = o.tail_share;
  f.log_offset = log_offset;
  f.seasonal = seasonal;
  f.learn_gate_p = std::min(0.01, 10 * o.DetectorAlpha());
  return f;
}

constexpr DetectorEntry kDetectors[] = {
    {Kind::kStuck, MakeStuckDetector, Always},
    {Kind::kRegression, MakeRegressionDetector, Always},
    {Kind::kFailureBurst, MakeFailureBurstDetector, Always},
    {Kind::kTestsMissing, MakeTestsMissingDetector, Always},
    {Kind::kSlow, MakeSlowDetector, Always},
    {Kind::kQueue, MakeQueueDetector, Always},
    {Kind::kMultivariate, MakeForestDetector, WithForest},
};

}  // namespace

const char* KindName(Kind k) { return kKinds[static_cast<int>(k)]; }

bool Outcome::Fired(Kind k) const { return std::find(fired.begin(), fired.end(), k) != fired.end(); }

// Durations below a second carry no information here; queue waits of a few
// seconds are scheduling noise; a test count is read as count + 1 so that 0
// has a logarithm.
FeatureModels::FeatureModels(const DetectionOptions& o)
    : duration(Feature(o, 1, false)),
      failed_duration(Feature(o, 1, false)),
      queue(Feature(o, 10, o.seasonality)), tests(Feature(o, 1, false)) {}

std::span<const DetectorEntry> DetectorTable() { return kDetectors; }

std::string FormatSeconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, s >= 100 || s == std::floor(s) ? "%.0f s" : "%.1f s", s);
  return buf;
}

std::string FormatCount(double n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", n);
  return buf;
}

std::string FormatOneIn(double p) {
  if (!(p > 0)) return "never seen before";
  const double n = 1 / p;
  if (n > 1e9) return "less than 1 in a billion";
  // Two significant digits with thousands separators: "1 in 40,000".
  const double mag = std::pow(10, std::floor(std::log10(n)) - 1);
  const auto r = static_cast<long long>(std::llround(n / mag) * mag);
  std::string digits = std::to_string(std::max(1LL, r));
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return "about 1 in " + out;
}

std::optional<double> StuckLimitSeconds(const FeatureModels& m, const RunContext* c,
                                        const DetectionOptions& o) {
  const double alpha = o.DetectorAlpha();
  const auto tail = c ? m.duration.ValueAtUpperP(*c, alpha) : m.duration.MaxValueAtUpperP(alpha);
  if (!tail) return std::nullopt;
  const double median = (c ? m.duration.ValueAt(*c, 0.5) : m.duration.MaxMedian()).value_or(0);
  return std::max(*tail, o.stuck_factor * median);
}

}  // namespace cicd::detector::detail
