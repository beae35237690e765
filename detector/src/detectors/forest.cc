// Multivariate: an isolation forest over a run's features (log duration, log
// queue, tests, failed tests, failure flag), refitted on the scheduled
// retrain on past normal runs only. Its score becomes a conformal p-value
// against its own training scores, (1 + #{training scores >= s}) / (n + 1),
// so it shares the false alarm budget with the other detectors; with n
// training runs that p-value cannot go below 1 / (n + 1).
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <deque>
#include <random>

#include "cicd/core/json.h"
#include "cicd/detector/iforest.h"
#include "detectors/codec.h"
#include "detectors/detector.h"

namespace cicd::detector::detail {
namespace {

constexpr std::size_t kCols = 5;
constexpr std::size_t kRows = 1024;
using Row = std::array<double, kCols>;

std::string Hex(std::string_view bytes) {
  static const char* kDigits = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

std::optional<std::string> Unhex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return out;
}

class ForestDetector final : public Detector {
 public:
  explicit ForestDetector(const DetectionOptions& o) : options_(o) {}
  Kind kind() const override { return Kind::kMultivariate; }

  std::optional<Finding> Judge(const Observation& o, double alpha) const override {
    if (!forest_ || training_scores_.empty()) return std::nullopt;
    const Row row = RowOf(o);
    auto score = forest_->ScoreRow(row);
    if (!score) return std::nullopt;
    const auto above = static_cast<double>(
        training_scores_.end() - std::lower_bound(training_scores_.begin(), training_scores_.end(), *score));
    const double p = (1 + above) / (training_scores_.size() + 1.0);
    const double limit = contamination_ ? std::max(*contamination_, alpha) : alpha;
    if (p > limit) return std::nullopt;
    char buf[160];
    std::snprintf(buf, sizeof buf, "unusual combination of features: isolation forest score %.2f, higher than %zu of its %zu training runs",
                  *score, training_scores_.size() - static_cast<std::size_t>(above), training_scores_.size());
    std::string why = buf;
    if (o.f.duration) why += "; duration " + FormatSeconds(*o.f.duration);
    if (o.f.queue) why += "; queued " + FormatSeconds(*o.f.queue);
    if (o.f.tests_total) why += "; tests " + FormatCount(*o.f.tests_total);
    if (o.f.tests_failed) why += ", " + FormatCount(*o.f.tests_failed) + " failed";
    return Finding{Kind::kMultivariate, p, limit, why, {}, {}};
  }

  void Learn(const Observation& o, const Outcome& outcome, FeatureModels&) override {
    if (outcome.anomalous) return;
    rows_.push_back(RowOf(o));
    if (rows_.size() > kRows) rows_.pop_front();
  }

  void Retrain(std::optional<double> contamination, std::uint64_t salt) override {
    if (rows_.size() < options_.min_runs) return;
    std::vector<double> values;
    values.reserve(rows_.size() * kCols);
    for (const auto& r : rows_) values.insert(values.end(), r.begin(), r.end());
    IsolationForestOptions fo;
    fo.num_trees = static_cast<int>(options_.forest_trees);
    fo.sample_size = static_cast<int>(std::min<std::size_t>(options_.forest_sample_size, rows_.size()));
    std::mt19937_64 rng(options_.seed + 7919 * salt);
    const FeatureMatrix m{values, rows_.size(), kCols};
    auto fitted = IsolationForest::Fit(m, fo, rng);
    if (!fitted) return;
    auto scores = fitted->Score(m);
    if (!scores) return;
    training_scores_ = std::move(*scores);
    std::sort(training_scores_.begin(), training_scores_.end());
    contamination_.reset();
    if (contamination) contamination_ = *contamination;
    // A model scores one run at a time and the detector keeps one per
    // pipeline: the nodes alone (~100 KiB) instead of the batch tables.
    fitted->Compact();
    forest_ = std::move(*fitted);
  }

  boost::json::value Save() const override {
    boost::json::object o;
    boost::json::array rows;
    for (const auto& r : rows_) {
      boost::json::array row;
      for (double x : r) row.push_back(EncodeDouble(x));
      rows.push_back(std::move(row));
    }
    o["rows"] = std::move(rows);
    if (forest_) {
      o["forest"] = Hex(forest_->Serialize());
      o["training_scores"] = EncodeDoubles({training_scores_.begin(), training_scores_.end()});
    }
    if (contamination_) o["contamination"] = EncodeDouble(*contamination_);
    return o;
  }

  bool Restore(const boost::json::value& v) override {
    const auto* rows = json::FindArray(v, "rows");
    if (!rows || rows->size() > kRows) return false;
    rows_.clear();
    for (const auto& r : *rows) {
      std::vector<double> xs;
      if (!DecodeDoubles(&r, xs) || xs.size() != kCols) return false;
      Row row;
      std::copy(xs.begin(), xs.end(), row.begin());
      rows_.push_back(row);
    }
    forest_.reset();
    training_scores_.clear();
    if (auto hex = json::GetString(v, "forest")) {
      auto bytes = Unhex(*hex);
      if (!bytes) return false;
      auto forest = IsolationForest::Deserialize(*bytes);
      if (!forest || forest->num_features() != kCols) return false;
      if (!DecodeDoubles(json::Find(v, "training_scores"), training_scores_) || training_scores_.empty() ||
          !std::is_sorted(training_scores_.begin(), training_scores_.end())) {
        return false;
      }
      forest->Compact();
      forest_ = std::move(*forest);
    }
    contamination_.reset();
    if (const auto* c = json::Find(v, "contamination")) {
      auto d = DecodeDouble(*c);
      if (!d || !(*d > 0 && *d <= 0.5)) return false;
      contamination_ = *d;
    }
    return true;
  }

  bool Fitted() const override { return forest_.has_value(); }

 private:
  // Missing-value rule for the forest: a feature the run does not report
  // takes its context's median (so it never makes a run look unusual), or 0
  // when the pipeline never reported it (a constant column the forest skips).
  static Row RowOf(const Observation& o) {
    auto or_median = [&](const std::optional<double>& v, const FeatureModel& m) {
      return v ? *v : m.ValueAt(o.ctx, 0.5).value_or(0.0);
    };
    return {std::log1p(or_median(o.f.duration, o.models.duration)), std::log1p(or_median(o.f.queue, o.models.queue)),
            or_median(o.f.tests_total, o.models.tests), o.f.tests_failed.value_or(0), o.f.failed ? 1.0 : 0.0};
  }

  DetectionOptions options_;
  std::deque<Row> rows_;  // features of the normal runs learnt, newest last
  std::optional<IsolationForest> forest_;
  std::vector<double> training_scores_;  // ascending
  std::optional<double> contamination_;
};

}  // namespace

std::unique_ptr<Detector> MakeForestDetector(const DetectionOptions& o) {
  return std::make_unique<ForestDetector>(o);
}

}  // namespace cicd::detector::detail
