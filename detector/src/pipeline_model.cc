#include "cicd/detector/pipeline_model.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cmath>

#include "cicd/core/json.h"
#include <cstdio>
#include <limits>
#include <random>

namespace cicd::detector {
namespace {

std::string Num(double v) {
  char buf[32];
  if (std::fabs(v) >= 100 || v == std::floor(v)) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f", v);
  }
  return buf;
}

std::string Signed(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%+.1f", v);
  return buf;
}

// "usual 560-650s (median 610s)"
std::string Band(const RobustBaseline& b, const char* unit) {
  return "usual " + Num(b.Quantile(0.1)) + "-" + Num(b.Quantile(0.9)) + unit + " (median " +
         Num(b.Median()) + unit + ")";
}

struct Finding {
  std::string kind;
  double score;
  std::string reason;
};

// A folded verdict (not anomalous, kind kept) of a duration alert: the run
// was as abnormal as the one alerted and must not be learnt either.
bool IsFoldedDurationAlert(const Verdict& v) {
  return !v.anomalous && (v.kind == "slow" || v.kind == "stuck");
}

int KindRank(const std::string& kind) {
  int i = 0;
  for (const char* k : kKinds) {
    if (kind == k) return i;
    ++i;
  }
  return i;
}

}  // namespace

std::string SeverityFor(double score) {
  if (score >= 2) return "critical";
  if (score >= 1) return "warning";
  return "none";
}

boost::json::object Verdict::ToJson() const {
  boost::json::object o;
  o["source"] = source;
  o["pipeline"] = pipeline;
  o["run_id"] = run_id;
  o["scored"] = scored;
  o["anomalous"] = anomalous;
  o["score"] = std::round(score * 1000) / 1000;
  o["severity"] = severity;
  o["kind"] = kind;
  boost::json::array r;
  for (const auto& s : reasons) r.emplace_back(s);
  o["reasons"] = std::move(r);
  if (regression_start) o["regression_start"] = FormatRfc3339(*regression_start);
  return o;
}

std::string Verdict::ToJsonLine() const { return json::Serialize(ToJson()); }

RunFeatures ExtractFeatures(const RunRecord& run) {
  RunFeatures f;
  f.duration = run.duration_seconds;
  f.queue = run.queue_seconds;
  if (run.tests_total) f.tests_total = static_cast<double>(*run.tests_total);
  if (run.tests_failed) f.tests_failed = static_cast<double>(*run.tests_failed);
  if (run.tests_skipped) f.tests_skipped = static_cast<double>(*run.tests_skipped);
  if (f.duration && f.tests_total && *f.tests_total > 0) {
    f.duration_per_test = *f.duration / *f.tests_total;
  }
  if (run.started_at) {
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(
                          run.started_at->time_since_epoch())
                          .count();
    // 1970-01-01 was a Thursday: shift so 0 is Monday 00:00.
    const long long week = 7 * 86400;
    f.hour_of_week = static_cast<int>((((secs + 3 * 86400) % week) + week) % week / 3600);
  }
  const std::string result = run.result.value_or("");
  f.failed = result == "failure" || result == "error" || result == "timeout";
  f.success = result == "success";
  return f;
}

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

PipelineModel::PipelineModel(const DetectionOptions& options)
    : options_(options),
      duration_(BaselineOptions{options.window, 1.0, options.rel_floor, 0.1}),
      queue_(BaselineOptions{options.window, 5.0, options.rel_floor, 0.1}),
      tests_(BaselineOptions{options.window, 1.0, options.rel_floor, 0.1}) {}

double PipelineModel::StuckThresholdSeconds() const {
  if (duration_.count() < 5) return std::numeric_limits<double>::infinity();
  return options_.stuck_factor * duration_.Quantile(0.95);
}

Verdict PipelineModel::Process(const RunRecord& run) {
  const RunFeatures f = ExtractFeatures(run);
  Verdict v = Judge(run, f);
  Learn(f, v);
  return v;
}

Verdict PipelineModel::Judge(const RunRecord& run, const RunFeatures& f) {
  Verdict v;
  v.source = run.source;
  v.pipeline = run.pipeline;
  v.run_id = run.Key();
  v.finished_at = run.finished_at;
  if (runs_seen_ < options_.min_runs) {
    v.reasons.push_back("cold start: " + std::to_string(runs_seen_) + " of " +
                        std::to_string(options_.min_runs) + " runs needed");
    return v;
  }
  v.scored = true;
  std::vector<Finding> found;
  double info_score = 0;

  if (f.duration && duration_.count() >= options_.shift_runs) {
    const double d = *f.duration;
    const double med = duration_.Median();
    const double dev = duration_.Deviation(d);
    const double ratio = med > 0 ? d / med : std::numeric_limits<double>::infinity();
    const double stuck = StuckThresholdSeconds();
    const double p95 = duration_.Quantile(0.95);
    const bool stopped = run.result == "timeout" || run.result == "cancellation";
    info_score = std::max(info_score, dev / options_.threshold);
    const std::string obs = "duration " + Num(d) + "s, " + Band(duration_, "s") + ", " + Signed(dev) + " MAD";
    const bool slow = dev >= options_.threshold && ratio >= options_.min_slow_ratio &&
                      d >= options_.slow_p95_factor * p95;
    if (d > stuck && stopped) {
      found.push_back({"stuck", d / stuck,
                       "ran " + Num(d) + "s until " + *run.result + ", past the stuck limit " + Num(stuck) +
                           "s (" + Num(options_.stuck_factor) + " x p95 " + Num(p95) + "s)"});
      streak_.clear();
    } else if (d > stuck) {
      found.push_back({"slow", std::max(d / stuck, dev / options_.threshold), obs});
      streak_.clear();
    } else if (!f.success) {
      // Failed or cancelled runs end early or late for reasons of their own:
      // judged for single slow runs only, never part of a level shift.
      if (slow) found.push_back({"slow", dev / options_.threshold, obs});
    } else if (dev >= options_.shift_deviation && ratio >= options_.shift_ratio) {
      if (!streak_.empty() && streak_.front().duration < 0) streak_.clear();
      streak_.push_back({d, run.started_at.value_or(run.finished_at.value_or(TimePoint{}))});
      if (streak_.size() >= options_.shift_runs) {
        std::vector<double> s;
        for (const auto& e : streak_) s.push_back(e.duration);
        std::nth_element(s.begin(), s.begin() + s.size() / 2, s.end());
        const double level = s[s.size() / 2];
        const double pct = med > 0 ? (level / med - 1) * 100 : 0;
        v.regression_start = streak_.front().started;
        found.push_back({"regression", std::max(1.0, duration_.Deviation(level) / options_.threshold),
                         "duration level shift: last " + std::to_string(streak_.size()) +
                             " runs at " + Num(level) + "s vs " + Band(duration_, "s") +
                             (med > 0 ? ", +" + Num(pct) + "%" : std::string()) + " since " +
                             FormatRfc3339(streak_.front().started)});
      } else if (streak_.size() == 1 && slow) {
        found.push_back({"slow", dev / options_.threshold, obs});
      } else if (streak_.size() > 1) {
        v.reasons.push_back(obs + "; possible level shift (" + std::to_string(streak_.size()) +
                            " of " + std::to_string(options_.shift_runs) + " runs)");
      }
    } else if (dev <= -options_.shift_deviation && ratio <= 1 / options_.shift_ratio) {
      // Faster successful runs are good news; a sustained speed-up restarts
      // the baseline silently (see Learn) so later slowdowns are measured
      // from the new level.
      if (!streak_.empty() && streak_.front().duration > 0) streak_.clear();
      streak_.push_back({-d, run.started_at.value_or(TimePoint{})});
    } else {
      streak_.clear();
    }
  }

  if (f.queue && queue_.count() >= 5) {
    const double q = *f.queue;
    const double dev = queue_.Deviation(q);
    info_score = std::max(info_score, dev / options_.threshold);
    if (dev >= options_.threshold && q - queue_.Median() >= options_.queue_min_excess_seconds &&
        q >= options_.queue_min_ratio * queue_.Median()) {
      found.push_back({"queue", dev / options_.threshold,
                       "queued " + Num(q) + "s, " + Band(queue_, "s") + ", " + Signed(dev) + " MAD"});
    }
  }

  const bool reports_tests = runs_with_tests_ >= 10 &&
                             runs_with_tests_ * 5 >= successes_seen_ * 4 && tests_.count() > 0;
  if (f.success && reports_tests && tests_.Median() >= 1) {
    const double usual = tests_.Median();
    const std::string band = Num(tests_.Quantile(0.1)) + "-" + Num(tests_.Quantile(0.9));
    if (!f.tests_total) {
      found.push_back({"tests_missing", 1.5,
                       "no test report, usual " + Num(usual) + " tests (" + band + ")"});
    } else if (*f.tests_total < options_.tests_missing_ratio * usual) {
      const double t = *f.tests_total;
      found.push_back({"tests_missing", 1 + (1 - t / usual),
                       "tests " + Num(t) + " vs usual " + Num(usual) + " (" + band + ")"});
    }
  }

  {
    std::size_t k = f.failed ? 1 : 0;
    for (bool b : recent_failed_) k += b ? 1 : 0;
    const std::size_t n = recent_failed_.size() + 1;
    if (k <= 1) in_burst_ = false;
    if (f.failed && k >= 2 && !in_burst_) {
      const double p = (older_failures_ + 1.0) / (older_failed_.size() + 2.0);
      const double pv = BinomialTail(n, k, p);
      if (pv < options_.burst_alpha) {
        in_burst_ = true;
        char buf[160];
        std::snprintf(buf, sizeof buf,
                      "%zu of the last %zu runs failed, usual failure rate %.1f%% (p=%.1e)", k, n,
                      100 * p, pv);
        found.push_back({"failure_burst", std::log(pv) / std::log(options_.burst_alpha), buf});
      }
    }
  }

  if (found.empty() && forest_) {
    const auto row = ForestRow(f);
    auto score = forest_->ScoreRow(row);
    if (score && *score >= forest_threshold()) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "unusual combination of features: isolation forest score %.2f (alert at %.2f)",
                    *score, forest_threshold());
      std::string why = buf;
      if (f.duration) why += "; duration " + Num(*f.duration) + "s (median " + Num(duration_.Median()) + "s)";
      if (f.queue) why += "; queued " + Num(*f.queue) + "s (median " + Num(queue_.Median()) + "s)";
      if (f.tests_total) why += "; tests " + Num(*f.tests_total) + " (median " + Num(tests_.Median()) + ")";
      if (f.tests_failed) why += ", " + Num(*f.tests_failed) + " failed";
      found.push_back({"multivariate", *score / forest_threshold(), why});
    }
  }
  ++runs_since_alert_;
  if (found.empty()) {
    v.score = std::clamp(info_score, 0.0, 0.99);
    return v;
  }
  std::stable_sort(found.begin(), found.end(),
                   [](const Finding& a, const Finding& b) { return KindRank(a.kind) < KindRank(b.kind); });
  v.anomalous = true;
  v.kind = found.front().kind;
  for (const auto& x : found) {
    v.score = std::max(v.score, x.score);
    v.reasons.push_back(x.reason);
  }
  v.score = std::max(v.score, 1.0);
  v.severity = SeverityFor(v.score);
  if (v.kind == open_kind_ && runs_since_alert_ <= options_.fold_runs) {
    // Part of the incident already alerted: one alert, not a storm.
    v.anomalous = false;
    v.reasons.insert(v.reasons.begin(), "continues the open " + v.kind + " incident (" +
                                            std::to_string(runs_since_alert_) + " runs after its alert)");
    v.score = 0.99;
    v.severity = "none";
    runs_since_alert_ = 0;
    return v;
  }
  open_kind_ = v.kind;
  runs_since_alert_ = 0;
  return v;
}

std::array<double, PipelineModel::kForestCols> PipelineModel::ForestRow(const RunFeatures& f) const {
  // Missing-value rule for the forest: a feature the run does not report
  // takes the pipeline's median (so it never makes a run look unusual), or 0
  // when the pipeline never reported it (a constant column the forest skips).
  auto or_median = [](const std::optional<double>& v, const RobustBaseline& b) {
    return v ? *v : (b.count() > 0 ? b.Median() : 0.0);
  };
  return {std::log1p(or_median(f.duration, duration_)), std::log1p(or_median(f.queue, queue_)),
          or_median(f.tests_total, tests_), f.tests_failed.value_or(0), f.failed ? 1.0 : 0.0};
}

void PipelineModel::Retrain(std::optional<double> contamination) {
  if (!options_.forest || runs_seen_ < options_.min_runs || forest_rows_.size() < options_.min_runs) return;
  std::vector<double> values;
  values.reserve(forest_rows_.size() * kForestCols);
  for (const auto& r : forest_rows_) values.insert(values.end(), r.begin(), r.end());
  IsolationForestOptions o;
  o.num_trees = static_cast<int>(options_.forest_trees);
  o.sample_size = static_cast<int>(std::min<std::size_t>(options_.forest_sample_size, forest_rows_.size()));
  std::mt19937_64 rng(options_.seed + 7919 * ++retrains_);
  auto fitted = IsolationForest::Fit(FeatureMatrix{values, forest_rows_.size(), kForestCols}, o, rng);
  if (!fitted) return;
  forest_cutoff_.reset();
  if (!contamination && options_.contamination > 0) contamination = options_.contamination;
  if (contamination) {
    auto scores = fitted->Score(FeatureMatrix{values, forest_rows_.size(), kForestCols});
    if (scores && !scores->empty()) {
      // The cutoff is the lowest of the ceil(c * n) highest training scores,
      // so that share of the history (at least one run) is at or above it.
      const std::size_t n = scores->size();
      const auto flagged = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(*contamination * n)));
      const std::size_t k = n - std::min(n, flagged);
      std::nth_element(scores->begin(), scores->begin() + k, scores->end());
      forest_cutoff_ = std::max(0.5, (*scores)[k]);
    }
  }
  // A model scores one run at a time and the detector keeps one per
  // pipeline: the nodes alone (~100 KiB) instead of the batch tables.
  fitted->Compact();
  forest_ = std::move(*fitted);
}

void PipelineModel::Learn(const RunFeatures& f, const Verdict& v) {
  ++runs_seen_;
  if (!v.anomalous && options_.forest) {
    forest_rows_.push_back(ForestRow(f));
    if (forest_rows_.size() > kForestRows) forest_rows_.pop_front();
  }
  if (f.duration) {
    if (v.kind == "regression" ||
        (streak_.size() >= options_.shift_runs && streak_.front().duration < 0)) {
      // The new level replaces the old one.
      duration_.Reset();
      for (const auto& e : streak_) duration_.Add(std::fabs(e.duration));
      streak_.clear();
    } else if (streak_.empty() && f.success && v.kind != "stuck" && v.kind != "slow" &&
               !IsFoldedDurationAlert(v)) {
      duration_.Add(*f.duration);
    }
  }
  if (f.queue && v.kind != "queue") {
    bool queue_flagged = false;
    for (const auto& r : v.reasons) queue_flagged = queue_flagged || r.rfind("queued ", 0) == 0;
    if (!queue_flagged) queue_.Add(*f.queue);
  }
  if (f.success) {
    ++successes_seen_;
    if (f.tests_total) {
      ++runs_with_tests_;
      if (v.kind != "tests_missing") tests_.Add(*f.tests_total);
    }
  }
  recent_failed_.push_back(f.failed);
  while (recent_failed_.size() > options_.burst_window - 1) {
    older_failed_.push_back(recent_failed_.front());
    older_failures_ += recent_failed_.front() ? 1 : 0;
    recent_failed_.pop_front();
  }
  while (older_failed_.size() > options_.burst_history) {
    older_failures_ -= older_failed_.front() ? 1 : 0;
    older_failed_.pop_front();
  }
}

std::optional<Verdict> PipelineModel::CheckActive(const RunRecord& run, TimePoint now) const {
  if (runs_seen_ < options_.min_runs || !run.started_at) return std::nullopt;
  const double age = Seconds(now - *run.started_at).count();
  const double limit = StuckThresholdSeconds();
  if (!(age > limit)) return std::nullopt;
  Verdict v;
  v.source = run.source;
  v.pipeline = run.pipeline;
  v.run_id = run.Key();
  v.scored = true;
  v.anomalous = true;
  v.kind = "stuck";
  v.score = age / limit;
  v.severity = SeverityFor(v.score);
  v.reasons.push_back("running for " + Num(age) + "s, past the stuck limit " + Num(limit) + "s (" +
                      Num(options_.stuck_factor) + " x p95 " + Num(duration_.Quantile(0.95)) + "s)");
  return v;
}

namespace {

constexpr int kModelFormat = 1;

// Doubles are stored as their shortest round-trip text in a JSON string and
// read back with std::from_chars: exact, whatever the JSON parser's rounding.
boost::json::value D(double x) {
  char buf[32];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, x);
  return boost::json::value(boost::json::string_view(buf, static_cast<std::size_t>(p - buf)));
}

std::optional<double> Finite(const boost::json::value& v) {
  const auto* s = v.if_string();
  if (!s) return std::nullopt;
  double d = 0;
  auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), d);
  if (ec != std::errc() || p != s->data() + s->size() || !std::isfinite(d)) return std::nullopt;
  return d;
}

std::optional<double> FiniteKey(const boost::json::value& v, std::string_view key) {
  const auto* x = json::Find(v, key);
  return x ? Finite(*x) : std::nullopt;
}

boost::json::object BaselineJson(const RobustBaseline& b) {
  boost::json::object o;
  boost::json::array v;
  for (double x : b.values()) v.emplace_back(D(x));
  o["values"] = std::move(v);
  o["total"] = b.total_seen();
  o["ewma_mean"] = D(b.EwmaMean());
  o["ewma_var"] = D(b.EwmaVariance());
  return o;
}

bool ReadBaseline(const boost::json::value& v, RobustBaseline& b) {
  const auto* vals = json::FindArray(v, "values");
  const auto total = json::GetInt(v, "total");
  const auto mean = FiniteKey(v, "ewma_mean");
  const auto var = FiniteKey(v, "ewma_var");
  if (!vals || !total || *total < 0 || !mean || !var) return false;
  std::vector<double> xs;
  for (const auto& x : *vals) {
    auto d = Finite(x);
    if (!d) return false;
    xs.push_back(*d);
  }
  b.Restore(xs, static_cast<std::size_t>(*total), *mean, *var);
  return true;
}

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

boost::json::array Bools(const std::deque<bool>& d) {
  boost::json::array a;
  for (bool b : d) a.emplace_back(b);
  return a;
}

bool ReadBools(const boost::json::value& v, std::string_view key, std::deque<bool>& out) {
  const auto* a = json::FindArray(v, key);
  if (!a) return false;
  for (const auto& x : *a) {
    if (!x.is_bool()) return false;
    out.push_back(x.get_bool());
  }
  return true;
}

std::optional<std::size_t> Count(const boost::json::value& v, std::string_view key) {
  auto i = json::GetInt(v, key);
  if (!i || *i < 0) return std::nullopt;
  return static_cast<std::size_t>(*i);
}

}  // namespace

std::string PipelineModel::Serialize() const {
  boost::json::object o;
  o["format"] = kModelFormat;
  o["duration"] = BaselineJson(duration_);
  o["queue"] = BaselineJson(queue_);
  o["tests"] = BaselineJson(tests_);
  o["runs_seen"] = runs_seen_;
  o["runs_with_tests"] = runs_with_tests_;
  o["successes_seen"] = successes_seen_;
  o["recent_failed"] = Bools(recent_failed_);
  o["older_failed"] = Bools(older_failed_);
  o["in_burst"] = in_burst_;
  boost::json::array streak;
  for (const auto& e : streak_) {
    streak.emplace_back(boost::json::array{D(e.duration), e.started.time_since_epoch().count()});
  }
  o["streak"] = std::move(streak);
  boost::json::array rows;
  for (const auto& r : forest_rows_) {
    boost::json::array row;
    for (double x : r) row.emplace_back(D(x));
    rows.emplace_back(std::move(row));
  }
  o["forest_rows"] = std::move(rows);
  if (forest_) o["forest"] = Hex(forest_->Serialize());
  if (forest_cutoff_) o["forest_cutoff"] = *forest_cutoff_;
  o["retrains"] = retrains_;
  o["open_kind"] = open_kind_;
  o["runs_since_alert"] = runs_since_alert_;
  return json::Serialize(o);
}

Result<PipelineModel> PipelineModel::Deserialize(std::string_view text, const DetectionOptions& options) {
  auto parsed = json::Parse(text);
  if (!parsed) return parsed.status();
  const boost::json::value& v = *parsed;
  auto bad = [](const std::string& what) { return ParseError("pipeline model: bad or missing " + what); };
  if (json::GetInt(v, "format") != kModelFormat) return bad("format (want 1)");
  PipelineModel m(options);
  for (auto [key, b] : {std::pair<const char*, RobustBaseline*>{"duration", &m.duration_},
                        {"queue", &m.queue_},
                        {"tests", &m.tests_}}) {
    const auto* sub = json::Find(v, key);
    if (!sub || !ReadBaseline(*sub, *b)) return bad(key);
  }
  const auto runs_seen = Count(v, "runs_seen"), with_tests = Count(v, "runs_with_tests"),
             successes = Count(v, "successes_seen"), retrains = Count(v, "retrains"),
             since_alert = Count(v, "runs_since_alert");
  const auto in_burst = json::GetBool(v, "in_burst");
  const auto open_kind = json::GetString(v, "open_kind");
  if (!runs_seen || !with_tests || !successes || !retrains || !since_alert || !in_burst || !open_kind) {
    return bad("counters");
  }
  m.runs_seen_ = *runs_seen;
  m.runs_with_tests_ = *with_tests;
  m.successes_seen_ = *successes;
  m.retrains_ = *retrains;
  m.runs_since_alert_ = *since_alert;
  m.in_burst_ = *in_burst;
  m.open_kind_ = *open_kind;
  if (!ReadBools(v, "recent_failed", m.recent_failed_) || !ReadBools(v, "older_failed", m.older_failed_)) {
    return bad("failure history");
  }
  for (bool b : m.older_failed_) m.older_failures_ += b ? 1 : 0;
  const auto* streak = json::FindArray(v, "streak");
  if (!streak) return bad("streak");
  for (const auto& e : *streak) {
    const auto* pair = e.if_array();
    if (!pair || pair->size() != 2 || !Finite((*pair)[0]) || !(*pair)[1].is_int64()) return bad("streak");
    m.streak_.push_back({*Finite((*pair)[0]), TimePoint(TimePoint::duration((*pair)[1].get_int64()))});
  }
  const auto* rows = json::FindArray(v, "forest_rows");
  if (!rows || rows->size() > kForestRows) return bad("forest_rows");
  for (const auto& r : *rows) {
    const auto* row = r.if_array();
    if (!row || row->size() != kForestCols) return bad("forest_rows");
    std::array<double, kForestCols> a{};
    for (std::size_t i = 0; i < kForestCols; ++i) {
      auto d = Finite((*row)[i]);
      if (!d) return bad("forest_rows");
      a[i] = *d;
    }
    m.forest_rows_.push_back(a);
  }
  if (auto hex = json::GetString(v, "forest")) {
    auto bytes = Unhex(*hex);
    if (!bytes) return bad("forest");
    auto forest = IsolationForest::Deserialize(*bytes);
    if (!forest) return forest.status().WithContext("pipeline model forest");
    if (forest->num_features() != kForestCols) return bad("forest");
    forest->Compact();
    m.forest_ = std::move(*forest);
  }
  if (json::Find(v, "forest_cutoff") != nullptr) {
    auto cutoff = json::GetNumber(v, "forest_cutoff");
    if (!cutoff || !(*cutoff >= 0.5 && *cutoff <= 1.0)) return bad("forest_cutoff");
    m.forest_cutoff_ = *cutoff;
  }
  return m;
}

}  // namespace cicd::detector
