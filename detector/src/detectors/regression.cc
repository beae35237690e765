// Regression: a sustained slowdown as a change point. Per context, a
// one-sided CUSUM (Page 1954) of the normal scores z of successful runs'
// duration residuals, S = max(0, S + z - k). Under no change z is standard
// normal by construction (the residual's tail probability mapped through
// the normal quantile), so the decision interval h that gives an average run
// length ARL between false alarms follows from Siegmund's approximation,
// ARL = (exp(2k(h + 1.166)) - 2k(h + 1.166) - 1) / (2k^2), with
// ARL = max(regression_min_arl, 1 / share). The first run of the shift is
// the run after S last stood at 0; when the alarm fires, the context's
// duration level restarts from the runs since then, so a slowdown is one
// event, not fifty alerts.
#include <algorithm>
#include <cmath>
#include <map>

#include "cicd/core/json.h"
#include "detectors/codec.h"
#include "detectors/detector.h"

namespace cicd::detector::detail {
namespace {

constexpr std::size_t kKeptRuns = 50;  // durations kept since the shift began

double Arl(double k, double h) {
  const double b = 2 * k * (h + 1.166);
  return (std::exp(b) - b - 1) / (2 * k * k);
}

double DecisionInterval(double k, double arl) {
  double lo = 0, hi = 1;
  while (Arl(k, hi) < arl && hi < 1e4) hi *= 2;
  for (int i = 0; i < 100; ++i) {
    const double mid = (lo + hi) / 2;
    (Arl(k, mid) < arl ? lo : hi) = mid;
  }
  return hi;
}

double Median(std::vector<double> xs) {
  std::nth_element(xs.begin(), xs.begin() + xs.size() / 2, xs.end());
  return xs[xs.size() / 2];
}

struct Cusum {
  double s = 0;
  std::vector<double> since;  // durations since the shift began (S > 0)
  TimePoint start{};          // first run of the shift
  std::string start_run;
};

class RegressionDetector final : public Detector {
 public:
  explicit RegressionDetector(const DetectionOptions& o) : options_(o) {}
  Kind kind() const override { return Kind::kRegression; }

  std::optional<Finding> Judge(const Observation& o, double alpha) const override {
    if (!Applies(o)) return std::nullopt;
    const Cusum* c = Find(o);
    const double s = Next(c, o);
    const double h = DecisionInterval(options_.cusum_drift, std::max(options_.regression_min_arl, 1 / alpha));
    if (s < h || !c) return std::nullopt;
    std::vector<double> runs = c->since;
    runs.push_back(*o.f.duration);
    const double level = Median(runs);
    const double usual = o.models.duration.FromLog(o.duration->level);
    if (!(level >= options_.regression_min_ratio * usual)) return std::nullopt;
    // The evidence grows with S past h: p = alpha^(S / h).
    Finding f{Kind::kRegression, std::pow(alpha, s / h), alpha, {}, c->start, c->start_run};
    char pct[32];
    std::snprintf(pct, sizeof pct, "+%.0f%%", 100 * (level / usual - 1));
    f.reason = "duration level shift: the last " + std::to_string(runs.size()) + " " + o.ctx.Describe() +
               " at median " + FormatSeconds(level) + " vs usual " + FormatSeconds(usual) + " (" + pct +
               ") since " + FormatRfc3339(c->start) + " (run " + c->start_run +
               "); a shift this sustained happens by chance about once in " +
               FormatCount(Arl(options_.cusum_drift, h)) + " runs";
    return f;
  }

  void Learn(const Observation& o, const Outcome& outcome, FeatureModels& models) override {
    if (!Applies(o)) return;
    Cusum& c = state_[o.ctx.Key()];
    const double s = Next(&c, o);
    if (outcome.Fired(Kind::kRegression)) {
      c.since.push_back(*o.f.duration);
      models.duration.Rebase(o.ctx, c.since);
      c = Cusum{};
      return;
    }
    if (s <= 0) {
      c = Cusum{};
      return;
    }
    if (c.s <= 0) {
      c.start = o.run.started_at.value_or(o.run.finished_at.value_or(TimePoint{}));
      c.start_run = o.run.number ? std::to_string(*o.run.number) : o.run.Key();
    }
    c.s = s;
    c.since.push_back(*o.f.duration);
    if (c.since.size() > kKeptRuns) c.since.erase(c.since.begin());
  }

  boost::json::value Save() const override {
    boost::json::object o;
    for (const auto& [ctx, c] : state_) {
      boost::json::array since;
      for (double d : c.since) since.push_back(EncodeDouble(d));
      o[ctx] = boost::json::object{{"s", EncodeDouble(c.s)},
                                   {"since", std::move(since)},
                                   {"start", c.start.time_since_epoch().count()},
                                   {"start_run", c.start_run}};
    }
    return o;
  }
  bool Restore(const boost::json::value& v) override {
    const auto* o = v.if_object();
    if (!o) return false;
    state_.clear();
    for (const auto& [ctx, cv] : *o) {
      Cusum c;
      const auto* s = json::Find(cv, "s");
      const auto start = json::GetInt(cv, "start");
      const auto run = json::GetString(cv, "start_run");
      if (!s || !start || !run || !DecodeDoubles(json::Find(cv, "since"), c.since)) return false;
      c.s = DecodeDouble(*s).value_or(-1);
      if (c.s < 0) return false;
      c.start = TimePoint(TimePoint::duration(*start));
      c.start_run = *run;
      state_[std::string(ctx)] = std::move(c);
    }
    return true;
  }

 private:
  static bool Applies(const Observation& o) { return o.f.success && o.f.duration && o.duration; }
  const Cusum* Find(const Observation& o) const {
    auto it = state_.find(o.ctx.Key());
    return it == state_.end() ? nullptr : &it->second;
  }
  double Next(const Cusum* c, const Observation& o) const {
    return std::max(0.0, (c ? c->s : 0.0) + o.duration->z - options_.cusum_drift);
  }

  DetectionOptions options_;
  std::map<std::string, Cusum> state_;  // context -> CUSUM
};

}  // namespace

std::unique_ptr<Detector> MakeRegressionDetector(const DetectionOptions& o) {
  return std::make_unique<RegressionDetector>(o);
}

}  // namespace cicd::detector::detail
