#include "detectors/feature_model.h"

#include <algorithm>
#include <cmath>

#include "detectors/codec.h"

namespace cicd::detector::detail {
namespace {

// A season cell with n runs counts n / (n + kSeasonPrior) of its median.
constexpr double kSeasonPrior = 10;
constexpr std::size_t kSeasonWindow = 30;
// Residuals needed before a feature is judged: below this the tail is not
// fitted and no tail probability could reach a detector's share anyway.
constexpr std::size_t kMinResiduals = 40;
// The learning gate admits what it kept out once kGateAdmit of the last
// kGateWindow residuals were gated: at a gate of 1e-4 that many happen by
// chance far less often than once in a pipeline's life.
constexpr std::size_t kGateWindow = 100;
constexpr std::size_t kGateAdmit = 3;

std::string CoarseKey(const RunContext& c) { return c.trigger + "/*"; }

bool RestoreWindow(const boost::json::value* v, TailWindow& w) {
  std::vector<double> xs;
  if (!DecodeDoubles(v, xs)) return false;
  w.Clear();
  for (double x : xs) w.Add(x);
  return true;
}

}  // namespace

std::string RunContext::Describe() const {
  std::string s = trigger.empty() ? "runs" : trigger + " runs";
  return s + (branch_class == "other" ? " on other branches" : " on the default branch");
}

FeatureModel::FeatureModel(FeatureModelOptions options)
    : options_(options), residuals_(options.pooled_window, options.tail_share) {
  for (auto& w : season_) w = TailWindow(kSeasonWindow);
}

int FeatureModel::Cell(int hour_of_week) {
  const int how = ((hour_of_week % 168) + 168) % 168;
  const bool weekend = how >= 5 * 24;
  return (weekend ? 12 : 0) + (how % 24) / 2;
}

double FeatureModel::ToLog(double x) const { return std::log(std::max(0.0, x) + options_.log_offset); }
double FeatureModel::FromLog(double y) const { return std::max(0.0, std::exp(y) - options_.log_offset); }

const TailWindow* FeatureModel::Level(const RunContext& c, std::string* key) const {
  for (const std::string& k : {c.Key(), CoarseKey(c)}) {
    auto it = levels_.find(k);
    if (it != levels_.end() && it->second.size() >= options_.context_min_runs) {
      if (key) *key = k;
      return &it->second;
    }
  }
  return nullptr;
}

double FeatureModel::Season(int hour_of_week) const {
  if (!options_.seasonal) return 0;
  const TailWindow& w = season_[Cell(hour_of_week)];
  if (w.size() == 0) return 0;
  const double n = static_cast<double>(w.size());
  return w.Median() * n / (n + kSeasonPrior);
}

std::optional<FeatureJudgement> FeatureModel::Judge(const RunContext& c, double x) const {
  FeatureJudgement j;
  const TailWindow* level = Level(c, &j.context);
  if (!level || residuals_.size() < kMinResiduals) return std::nullopt;
  j.context_runs = level->size();
  j.level = level->Median() + Season(c.hour_of_week);
  j.residual = ToLog(x) - j.level;
  j.p_upper = residuals_.UpperP(j.residual);
  j.p_lower = residuals_.LowerP(j.residual);
  j.z = std::clamp(-NormalQuantile(j.p_upper), -4.0, 4.0);
  return j;
}

bool FeatureModel::Gated(double residual) const {
  if (options_.learn_gate_p <= 0 || residuals_.size() < 5) return false;
  if (residuals_.size() >= kMinResiduals) {
    return std::min(residuals_.UpperP(residual), residuals_.LowerP(residual)) < options_.learn_gate_p;
  }
  // No tail fitted yet: more than twice as far from the median as anything seen.
  const double median = residuals_.Median();
  const double lo = residuals_.Quantile(0), hi = residuals_.Quantile(1);
  return residual - median > 2 * std::max(hi - median, TailWindow::kMinScale) ||
         median - residual > 2 * std::max(median - lo, TailWindow::kMinScale);
}

void FeatureModel::AddResidual(double r, bool force) {
  const bool gated = !force && Gated(r);
  recent_gated_.push_back(gated);
  if (recent_gated_.size() > kGateWindow) recent_gated_.pop_front();
  if (!gated) {
    residuals_.Add(r);
    return;
  }
  quarantine_.push_back(r);
  if (quarantine_.size() > kGateAdmit) quarantine_.pop_front();
  // Values this improbable recurring this often are a mode of the pipeline
  // (a cache that misses now and then) that the fit has not seen yet, not
  // anomalies: they are admitted.
  if (std::count(recent_gated_.begin(), recent_gated_.end(), true) >= static_cast<long>(kGateAdmit)) {
    for (double q : quarantine_) residuals_.Add(q);
    quarantine_.clear();
    recent_gated_.clear();
  }
}

void FeatureModel::Learn(const RunContext& c, double x, bool force) {
  const double y = ToLog(x);
  if (const TailWindow* level = Level(c, nullptr)) {
    const double r0 = y - level->Median();
    const double r = r0 - Season(c.hour_of_week);
    AddResidual(r, force);
    if (options_.seasonal) season_[Cell(c.hour_of_week)].Add(r0);
  }
  for (const std::string& k : {c.Key(), CoarseKey(c)}) {
    levels_.try_emplace(k, options_.context_window).first->second.Add(y);
  }
}

void FeatureModel::Rebase(const RunContext& c, const std::vector<double>& xs) {
  for (const std::string& k : {c.Key(), CoarseKey(c)}) {
    TailWindow& w = levels_.try_emplace(k, options_.context_window).first->second;
    w.Clear();
    for (double x : xs) w.Add(ToLog(x));
  }
}

std::optional<double> FeatureModel::ValueAt(const RunContext& c, double q) const {
  const TailWindow* level = Level(c, nullptr);
  if (!level || residuals_.size() < 2) return std::nullopt;
  return FromLog(level->Median() + Season(c.hour_of_week) + residuals_.Quantile(q));
}

std::optional<double> FeatureModel::ValueAtUpperP(const RunContext& c, double p) const {
  const TailWindow* level = Level(c, nullptr);
  if (!level || residuals_.size() < kMinResiduals) return std::nullopt;
  return FromLog(level->Median() + Season(c.hour_of_week) + residuals_.UpperValueAt(p));
}

std::optional<double> FeatureModel::MaxValueAtUpperP(double p) const {
  if (residuals_.size() < kMinResiduals) return std::nullopt;
  std::optional<double> best;
  const double r = residuals_.UpperValueAt(p);
  for (const auto& [key, w] : levels_) {
    if (w.size() < options_.context_min_runs) continue;
    const double v = FromLog(w.Median() + r);
    if (!best || v > *best) best = v;
  }
  return best;
}

std::optional<double> FeatureModel::MaxMedian() const {
  std::optional<double> best;
  for (const auto& [key, w] : levels_) {
    if (w.size() < options_.context_min_runs) continue;
    const double v = FromLog(w.Median());
    if (!best || v > *best) best = v;
  }
  return best;
}

std::size_t FeatureModel::runs(const RunContext& c) const {
  auto it = levels_.find(c.Key());
  return it == levels_.end() ? 0 : it->second.size();
}

boost::json::value FeatureModel::Save() const {
  boost::json::object o;
  boost::json::object levels;
  for (const auto& [key, w] : levels_) levels[key] = EncodeDoubles(w.values());
  o["levels"] = std::move(levels);
  o["residuals"] = EncodeDoubles(residuals_.values());
  o["quarantine"] = EncodeDoubles(quarantine_);
  boost::json::array gated;
  for (bool g : recent_gated_) gated.emplace_back(g);
  o["recent_gated"] = std::move(gated);
  if (options_.seasonal) {
    boost::json::array season;
    for (const auto& w : season_) season.push_back(EncodeDoubles(w.values()));
    o["season"] = std::move(season);
  }
  return o;
}

bool FeatureModel::Restore(const boost::json::value& v) {
  const auto* o = v.if_object();
  if (!o) return false;
  const auto* levels = o->if_contains("levels");
  if (!levels || !levels->is_object()) return false;
  levels_.clear();
  for (const auto& [key, values] : levels->get_object()) {
    TailWindow w(options_.context_window);
    if (!RestoreWindow(&values, w)) return false;
    levels_.emplace(std::string(key), std::move(w));
  }
  if (!RestoreWindow(o->if_contains("residuals"), residuals_)) return false;
  std::vector<double> quarantine;
  if (!DecodeDoubles(o->if_contains("quarantine"), quarantine)) return false;
  quarantine_.assign(quarantine.begin(), quarantine.end());
  const auto* gated = o->if_contains("recent_gated");
  if (!gated || !gated->is_array()) return false;
  recent_gated_.clear();
  for (const auto& g : gated->get_array()) {
    if (!g.is_bool()) return false;
    recent_gated_.push_back(g.get_bool());
  }
  if (options_.seasonal) {
    const auto* season = o->if_contains("season");
    if (!season || !season->is_array() || season->get_array().size() != kCells) return false;
    for (int i = 0; i < kCells; ++i) {
      if (!RestoreWindow(&season->get_array()[i], season_[i])) return false;
    }
  }
  return true;
}

}  // namespace cicd::detector::detail
