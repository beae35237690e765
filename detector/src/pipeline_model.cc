#include "cicd/detector/pipeline_model.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <vector>

#include "cicd/core/glob.h"
#include "cicd/core/json.h"
#include "detectors/detector.h"

namespace cicd::detector {
namespace {

using detail::Detector;
using detail::Finding;
using detail::Kind;
using detail::Observation;
using detail::Outcome;
using detail::RunContext;

constexpr int kModelFormat = 2;

// Runs that failed on their own (not stopped by a timeout or a person):
// their durations have a distribution of their own, often shorter.
bool FailedEarly(const RunRecord& run) { return run.result == "failure" || run.result == "error"; }

double ScoreOf(double p, double alpha) {
  return std::log(std::max(p, 1e-300)) / std::log(alpha);
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
  if (scored && !context.empty()) o["context"] = context;
  if (regression_start) o["regression_start"] = FormatRfc3339(*regression_start);
  if (!regression_start_run.empty()) o["regression_start_run"] = regression_start_run;
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

struct PipelineModel::Impl {
  explicit Impl(const DetectionOptions& o) : options(o), models(o) {
    for (const auto& e : detail::DetectorTable()) {
      if (e.enabled(o)) detectors.push_back(e.make(o));
    }
  }

  RunContext ContextOf(const RunRecord& run, const RunFeatures& f) const {
    RunContext c;
    c.trigger = run.trigger;
    c.branch_class = "main";
    if (!run.branch.empty()) {
      const bool default_branch = std::any_of(options.default_branches.begin(), options.default_branches.end(),
                                              [&](const std::string& p) { return GlobMatch(p, run.branch); });
      if (!default_branch) c.branch_class = "other";
    }
    c.hour_of_week = f.hour_of_week;
    return c;
  }

  Observation Observe(const RunRecord& run, const RunFeatures& f) const {
    Observation o{run, f, ContextOf(run, f), {}, {}, {}, {}, models};
    if (f.duration) o.duration = models.duration.Judge(o.ctx, *f.duration);
    if (f.duration && FailedEarly(run)) o.failed_duration = models.failed_duration.Judge(o.ctx, *f.duration);
    if (f.queue) o.queue = models.queue.Judge(o.ctx, *f.queue);
    if (f.success && f.tests_total) o.tests = models.tests.Judge(o.ctx, *f.tests_total);
    return o;
  }

  Verdict Judge(const Observation& o, Outcome& outcome);
  void Learn(const Observation& o, const Outcome& outcome);
  void LearnFeatures(const Observation& o, const Outcome& outcome, bool force = false);

  DetectionOptions options;
  detail::FeatureModels models;
  std::vector<std::unique_ptr<Detector>> detectors;  // DetectorTable order
  std::size_t runs_seen = 0;
  std::size_t retrains = 0;
  std::string open_kind;  // kind of the last alert
  std::size_t runs_since_alert = 0;
  std::optional<RunContext> last_context;
};

Verdict PipelineModel::Impl::Judge(const Observation& o, Outcome& outcome) {
  Verdict v;
  v.source = o.run.source;
  v.pipeline = o.run.pipeline;
  v.run_id = o.run.Key();
  v.finished_at = o.run.finished_at;
  if (runs_seen < options.min_runs) {
    v.reasons.push_back("cold start: " + std::to_string(runs_seen) + " of " + std::to_string(options.min_runs) +
                        " runs needed");
    return v;
  }
  v.scored = true;
  v.context = o.ctx.Key();
  const double alpha = options.DetectorAlpha();
  if (o.duration) v.feature_scores["duration"] = ScoreOf(o.duration->p_upper, alpha);
  if (o.queue) v.feature_scores["queue"] = ScoreOf(o.queue->p_upper, alpha);
  if (o.tests) v.feature_scores["tests"] = ScoreOf(o.tests->p_lower, alpha);
  std::vector<Finding> found;
  for (const auto& d : detectors) {
    if (auto f = d->Judge(o, alpha)) found.push_back(std::move(*f));
  }
  ++runs_since_alert;
  if (found.empty()) {
    double info = 0;
    for (const auto& [name, s] : v.feature_scores) info = std::max(info, s);
    v.score = std::clamp(info, 0.0, 0.99);
    return v;
  }
  // Detectors run in kKinds order, so the first finding is the primary one.
  for (const auto& f : found) outcome.fired.push_back(f.kind);
  v.kind = detail::KindName(found.front().kind);
  for (const auto& f : found) {
    v.score = std::max(v.score, ScoreOf(f.p, f.alpha));
    v.reasons.push_back(f.reason);
    if (f.kind == Kind::kRegression) {
      v.regression_start = f.regression_start;
      v.regression_start_run = f.regression_start_run;
    }
  }
  v.score = std::max(v.score, 1.0);
  v.severity = SeverityFor(v.score);
  v.anomalous = true;
  if (v.kind == open_kind && runs_since_alert <= options.fold_runs) {
    // Part of the incident already alerted: one alert, not a storm.
    v.anomalous = false;
    v.reasons.insert(v.reasons.begin(), "continues the open " + v.kind + " incident (" +
                                            std::to_string(runs_since_alert) + " runs after its alert)");
    v.score = 0.99;
    v.severity = "none";
    runs_since_alert = 0;
    return v;
  }
  open_kind = v.kind;
  runs_since_alert = 0;
  outcome.anomalous = true;
  return v;
}

void PipelineModel::Impl::Learn(const Observation& o, const Outcome& outcome) {
  ++runs_seen;
  for (const auto& d : detectors) d->Learn(o, outcome, models);
  LearnFeatures(o, outcome);
}

void PipelineModel::Impl::LearnFeatures(const Observation& o, const Outcome& outcome, bool force) {
  const RunFeatures& f = o.f;
  // Anomalous values stay out of the baselines they were anomalous for.
  if (f.duration && f.success && !outcome.Fired(Kind::kSlow) && !outcome.Fired(Kind::kStuck) &&
      !outcome.Fired(Kind::kRegression)) {  // a regression rebased the level already
    models.duration.Learn(o.ctx, *f.duration, force);
  }
  if (f.duration && FailedEarly(o.run) && !outcome.Fired(Kind::kSlow)) {
    models.failed_duration.Learn(o.ctx, *f.duration, force);
  }
  if (f.queue && !outcome.Fired(Kind::kQueue)) models.queue.Learn(o.ctx, *f.queue, force);
  if (f.success && f.tests_total && !outcome.Fired(Kind::kTestsMissing)) models.tests.Learn(o.ctx, *f.tests_total);
  last_context = o.ctx;
}

PipelineModel::PipelineModel(const DetectionOptions& options) : impl_(std::make_unique<Impl>(options)) {}
PipelineModel::~PipelineModel() = default;
PipelineModel::PipelineModel(PipelineModel&&) noexcept = default;
PipelineModel& PipelineModel::operator=(PipelineModel&&) noexcept = default;

Verdict PipelineModel::Process(const RunRecord& run) {
  const RunFeatures f = ExtractFeatures(run);
  const Observation o = impl_->Observe(run, f);
  Outcome outcome;
  Verdict v = impl_->Judge(o, outcome);
  impl_->Learn(o, outcome);
  return v;
}

void PipelineModel::LearnAsNormal(const RunRecord& run) {
  const RunFeatures f = ExtractFeatures(run);
  // Only the baselines: the detectors learnt the run when it was judged.
  impl_->LearnFeatures(impl_->Observe(run, f), Outcome{}, /*force=*/true);
}

void PipelineModel::Retrain(std::optional<double> contamination) {
  if (impl_->runs_seen < impl_->options.min_runs) return;
  if (!contamination && impl_->options.contamination > 0) contamination = impl_->options.contamination;
  ++impl_->retrains;
  for (const auto& d : impl_->detectors) d->Retrain(contamination, impl_->retrains);
}

bool PipelineModel::has_forest() const {
  return std::any_of(impl_->detectors.begin(), impl_->detectors.end(), [](const auto& d) { return d->Fitted(); });
}

std::optional<Verdict> PipelineModel::CheckActive(const RunRecord& run, TimePoint now) const {
  if (impl_->runs_seen < impl_->options.min_runs || !run.started_at) return std::nullopt;
  const double age = cicd::Seconds(now - *run.started_at).count();
  std::optional<RunContext> ctx;
  if (!run.trigger.empty()) ctx = impl_->ContextOf(run, ExtractFeatures(run));
  auto limit = detail::StuckLimitSeconds(impl_->models, ctx ? &*ctx : nullptr, impl_->options);
  if (!limit && ctx) limit = detail::StuckLimitSeconds(impl_->models, nullptr, impl_->options);
  if (!limit || !(age > *limit)) return std::nullopt;
  Verdict v;
  v.source = run.source;
  v.pipeline = run.pipeline;
  v.run_id = run.Key();
  v.scored = true;
  v.anomalous = true;
  v.kind = "stuck";
  v.score = age / *limit;
  v.severity = SeverityFor(v.score);
  v.reasons.push_back("running for " + detail::FormatSeconds(age) + ", past the stuck limit " +
                      detail::FormatSeconds(*limit) + (ctx ? " for " + ctx->Describe() : std::string()));
  return v;
}

std::size_t PipelineModel::runs_seen() const { return impl_->runs_seen; }

std::map<std::string, Band> PipelineModel::Expected() const {
  std::map<std::string, Band> out;
  if (!impl_->last_context) return out;
  const RunContext& c = *impl_->last_context;
  auto band = [&](const char* name, const detail::FeatureModel& m) {
    auto lo = m.ValueAt(c, 0.1), mid = m.ValueAt(c, 0.5), hi = m.ValueAt(c, 0.9);
    if (lo && mid && hi) out[name] = Band{*lo, *mid, *hi};
  };
  band("duration", impl_->models.duration);
  band("queue", impl_->models.queue);
  band("tests", impl_->models.tests);
  return out;
}

std::optional<double> PipelineModel::StuckThresholdSeconds() const {
  return detail::StuckLimitSeconds(impl_->models, nullptr, impl_->options);
}

std::string PipelineModel::Serialize() const {
  const Impl& m = *impl_;
  boost::json::object o;
  o["format"] = kModelFormat;
  o["runs_seen"] = m.runs_seen;
  o["retrains"] = m.retrains;
  o["open_kind"] = m.open_kind;
  o["runs_since_alert"] = m.runs_since_alert;
  if (m.last_context) {
    o["last_context"] = boost::json::array{m.last_context->trigger, m.last_context->branch_class,
                                           m.last_context->hour_of_week};
  }
  o["duration"] = m.models.duration.Save();
  o["queue"] = m.models.queue.Save();
  o["tests"] = m.models.tests.Save();
  o["failed_duration"] = m.models.failed_duration.Save();
  boost::json::object detectors;
  for (const auto& d : m.detectors) detectors[detail::KindName(d->kind())] = d->Save();
  o["detectors"] = std::move(detectors);
  return json::Serialize(o);
}

Result<PipelineModel> PipelineModel::Deserialize(std::string_view text, const DetectionOptions& options) {
  auto parsed = json::Parse(text);
  if (!parsed) return parsed.status();
  const boost::json::value& v = *parsed;
  auto bad = [](const std::string& what) { return ParseError("pipeline model: bad or missing " + what); };
  const auto format = json::GetInt(v, "format");
  if (format != kModelFormat) {
    return ParseError("pipeline model: format " + (format ? std::to_string(*format) : std::string("unknown")) +
                      ", this version reads format " + std::to_string(kModelFormat) + ": retrain");
  }
  PipelineModel model(options);
  Impl& m = *model.impl_;
  auto count = [&](const char* key) -> std::optional<std::size_t> {
    auto i = json::GetInt(v, key);
    if (!i || *i < 0) return std::nullopt;
    return static_cast<std::size_t>(*i);
  };
  const auto runs_seen = count("runs_seen"), retrains = count("retrains"), since = count("runs_since_alert");
  const auto open_kind = json::GetString(v, "open_kind");
  if (!runs_seen || !retrains || !since || !open_kind) return bad("counters");
  m.runs_seen = *runs_seen;
  m.retrains = *retrains;
  m.runs_since_alert = *since;
  m.open_kind = *open_kind;
  if (const auto* lc = json::FindArray(v, "last_context")) {
    if (lc->size() != 3 || !(*lc)[0].is_string() || !(*lc)[1].is_string() || !(*lc)[2].is_int64()) {
      return bad("last_context");
    }
    m.last_context = RunContext{std::string((*lc)[0].get_string()), std::string((*lc)[1].get_string()),
                                static_cast<int>((*lc)[2].get_int64())};
  }
  for (auto [key, fm] : {std::pair<const char*, detail::FeatureModel*>{"duration", &m.models.duration},
                         {"failed_duration", &m.models.failed_duration},
                         {"queue", &m.models.queue},
                         {"tests", &m.models.tests}}) {
    const auto* sub = json::Find(v, key);
    if (!sub || !fm->Restore(*sub)) return bad(key);
  }
  const auto* detectors = json::FindObject(v, "detectors");
  if (!detectors) return bad("detectors");
  for (const auto& d : m.detectors) {
    const auto* state = detectors->if_contains(detail::KindName(d->kind()));
    if (!state || !d->Restore(*state)) return bad(std::string("detector ") + detail::KindName(d->kind()));
  }
  return model;
}

}  // namespace cicd::detector
