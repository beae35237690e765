// Failure burst: failures among the pipeline's last burst_window runs whose
// tail probability, each run at its branch class's own failure rate (the
// class's burst_history results before them, Laplace prior), is at most the
// detector's share. One alert per burst.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <map>
#include <vector>

#include "detectors/detector.h"

namespace cicd::detector {

double BinomialTail(std::size_t n, std::size_t k, double p) {
  if (k == 0) return 1.0;
  if (k > n) return 0.0;
  p = std::clamp(p, 1e-12, 1 - 1e-12);
  double tail = 0;
  for (std::size_t i = k; i <= n; ++i) {
    const double log_term = std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) +
                            i * std::log(p) + (n - i) * std::log1p(-p);
    tail += std::exp(log_term);
  }
  return std::min(1.0, tail);
}

namespace detail {
namespace {

// P(X >= k) for X the number of successes of independent Bernoulli(p_i).
double PoissonBinomialTail(const std::vector<double>& ps, std::size_t k) {
  std::vector<double> dist(ps.size() + 1, 0.0);  // dist[j] = P(j successes so far)
  dist[0] = 1;
  for (std::size_t i = 0; i < ps.size(); ++i) {
    for (std::size_t j = i + 1; j > 0; --j) dist[j] = dist[j] * (1 - ps[i]) + dist[j - 1] * ps[i];
    dist[0] *= 1 - ps[i];
  }
  double tail = 0;
  for (std::size_t j = k; j < dist.size(); ++j) tail += dist[j];
  return std::min(1.0, tail);
}

struct ClassHistory {
  std::deque<bool> older;  // up to burst_history results, newest last
  std::size_t failures = 0;
  // The class's failure rate with a Laplace prior.
  double Rate() const { return (failures + 1.0) / (older.size() + 2.0); }
};

boost::json::array Bools(const std::deque<bool>& d) {
  boost::json::array a;
  for (bool b : d) a.emplace_back(b);
  return a;
}

bool ReadBools(const boost::json::value* v, std::deque<bool>& out) {
  if (!v || !v->is_array()) return false;
  out.clear();
  for (const auto& x : v->get_array()) {
    if (!x.is_bool()) return false;
    out.push_back(x.get_bool());
  }
  return true;
}

// Judged over the pipeline's consecutive runs: a broken default branch
// breaks the pull requests built on it too. Each run's expected failure
// rate is its branch class's own (pull-request branches fail more often
// than the default branch), so the count of failures is Poisson-binomial.
class FailureBurstDetector final : public Detector {
 public:
  explicit FailureBurstDetector(const DetectionOptions& o) : options_(o) {}
  Kind kind() const override { return Kind::kFailureBurst; }

  std::optional<Finding> Judge(const Observation& o, double alpha) const override {
    if (!o.f.failed || in_burst_) return std::nullopt;
    std::vector<double> ps;
    std::size_t k = 1;
    for (const auto& [cls, failed] : recent_) {
      ps.push_back(RateOf(cls));
      k += failed ? 1 : 0;
    }
    ps.push_back(RateOf(o.ctx.branch_class));
    if (k < 2) return std::nullopt;
    const double pv = PoissonBinomialTail(ps, k);
    if (pv > alpha) return std::nullopt;
    double expected = 0;
    for (double p : ps) expected += p;
    char buf[200];
    std::snprintf(buf, sizeof buf, "%zu of the last %zu runs failed, %.1f expected from the usual failure rates (%s); ",
                  k, ps.size(), expected, RatesText().c_str());
    return Finding{Kind::kFailureBurst, pv, alpha, buf + std::string("this many failures happen ") + FormatOneIn(pv),
                   {}, {}};
  }

  void Learn(const Observation& o, const Outcome& outcome, FeatureModels&) override {
    std::size_t k = o.f.failed ? 1 : 0;
    for (const auto& [cls, failed] : recent_) k += failed ? 1 : 0;
    if (k <= 1) in_burst_ = false;
    if (outcome.Fired(Kind::kFailureBurst)) in_burst_ = true;
    recent_.emplace_back(o.ctx.branch_class, o.f.failed);
    while (recent_.size() > options_.burst_window - 1) {
      ClassHistory& h = by_class_[recent_.front().first];
      h.older.push_back(recent_.front().second);
      h.failures += recent_.front().second ? 1 : 0;
      recent_.pop_front();
      while (h.older.size() > options_.burst_history) {
        h.failures -= h.older.front() ? 1 : 0;
        h.older.pop_front();
      }
    }
  }

  boost::json::value Save() const override {
    boost::json::object classes;
    for (const auto& [cls, h] : by_class_) classes[cls] = Bools(h.older);
    boost::json::array recent;
    for (const auto& [cls, failed] : recent_) recent.push_back(boost::json::array{cls, failed});
    return boost::json::object{{"classes", std::move(classes)}, {"recent", std::move(recent)}, {"in_burst", in_burst_}};
  }

  bool Restore(const boost::json::value& v) override {
    const auto* o = v.if_object();
    const auto* classes = o ? o->if_contains("classes") : nullptr;
    const auto* recent = o ? o->if_contains("recent") : nullptr;
    const auto* in_burst = o ? o->if_contains("in_burst") : nullptr;
    if (!classes || !classes->is_object() || !recent || !recent->is_array() || !in_burst || !in_burst->is_bool()) {
      return false;
    }
    by_class_.clear();
    for (const auto& [cls, older] : classes->get_object()) {
      ClassHistory h;
      if (!ReadBools(&older, h.older)) return false;
      for (bool b : h.older) h.failures += b ? 1 : 0;
      by_class_[std::string(cls)] = std::move(h);
    }
    recent_.clear();
    for (const auto& e : recent->get_array()) {
      const auto* a = e.if_array();
      if (!a || a->size() != 2 || !(*a)[0].is_string() || !(*a)[1].is_bool()) return false;
      recent_.emplace_back(std::string((*a)[0].get_string()), (*a)[1].get_bool());
    }
    in_burst_ = in_burst->get_bool();
    return true;
  }

 private:
  double RateOf(const std::string& cls) const {
    auto it = by_class_.find(cls);
    return it == by_class_.end() ? ClassHistory{}.Rate() : it->second.Rate();
  }
  std::string RatesText() const {
    std::string out;
    for (const auto& [cls, h] : by_class_) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%s%.1f%% on %s", out.empty() ? "" : ", ", 100 * h.Rate(),
                    cls == "other" ? "other branches" : "the default branch");
      out += buf;
    }
    return out;
  }

  DetectionOptions options_;
  std::deque<std::pair<std::string, bool>> recent_;  // last burst_window - 1 runs: class, failed
  std::map<std::string, ClassHistory> by_class_;     // results before those, per branch class
  bool in_burst_ = false;
};

}  // namespace

std::unique_ptr<Detector> MakeFailureBurstDetector(const DetectionOptions& o) {
  return std::make_unique<FailureBurstDetector>(o);
}

}  // namespace detail
}  // namespace cicd::detector
