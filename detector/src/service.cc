#include "cicd/detector/service.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <set>

#include "cicd/core/atomic_file.h"
#include "cicd/core/json.h"
#include "cicd/core/log.h"
#include "cicd/detector/history.h"

namespace cicd::detector {
namespace {

constexpr const char* kActiveOldest = "cicd_pipeline_runs_active_oldest_timestamp_seconds";
constexpr std::size_t kRecentRuns = 60;
constexpr int kStateFormat = 1;
constexpr const char* kModelsFile = "models.state";
constexpr const char* kAnomaliesFile = "anomalies.state";

std::uint64_t Fnv1a(std::string_view s, std::uint64_t h = 1469598103934665603ULL) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

// "cicd-detector-<kind> v1 <fnv1a64 hex>\n<body>": versioned and checksummed,
// so a torn, edited or old file is recognised and ignored.
std::string Envelope(std::string_view kind, const std::string& body) {
  char head[96];
  std::snprintf(head, sizeof head, "cicd-detector-%.*s v%d %016" PRIx64 "\n", static_cast<int>(kind.size()),
                kind.data(), kStateFormat, Fnv1a(body));
  return head + body;
}

Result<std::string> OpenEnvelope(std::string_view kind, const std::string& text) {
  const auto nl = text.find('\n');
  if (nl == std::string::npos) return ParseError("no header line");
  const std::string head = text.substr(0, nl);
  const std::string prefix = "cicd-detector-" + std::string(kind) + " v";
  if (head.rfind(prefix, 0) != 0) return ParseError("not a cicd-detector " + std::string(kind) + " file");
  int version = 0;
  unsigned long long sum = 0;
  if (std::sscanf(head.c_str() + prefix.size(), "%d %llx", &version, &sum) != 2) {
    return ParseError("bad header \"" + head + "\"");
  }
  if (version != kStateFormat) {
    return ParseError("format v" + std::to_string(version) + " is not supported (want v" +
                      std::to_string(kStateFormat) + ")");
  }
  std::string body = text.substr(nl + 1);
  if (Fnv1a(body) != sum) return ParseError("checksum mismatch (truncated or edited file)");
  return body;
}

std::int64_t Ticks(TimePoint t) { return t.time_since_epoch().count(); }
TimePoint FromTicks(std::int64_t t) { return TimePoint(TimePoint::duration(t)); }

boost::json::array Strings(const std::vector<std::string>& v) {
  boost::json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

boost::json::object VerdictToJson(const Verdict& v) {
  boost::json::object o{{"run_id", v.run_id},   {"scored", v.scored},     {"anomalous", v.anomalous},
                        {"score", v.score},     {"severity", v.severity}, {"kind", v.kind},
                        {"reasons", Strings(v.reasons)}};
  if (v.finished_at) o["finished_at"] = Ticks(*v.finished_at);
  if (!v.context.empty()) o["context"] = v.context;
  if (v.regression_start) o["regression_start"] = Ticks(*v.regression_start);
  if (!v.regression_start_run.empty()) o["regression_start_run"] = v.regression_start_run;
  boost::json::object features;
  for (const auto& [name, x] : v.feature_scores) features[name] = x;
  if (!features.empty()) o["feature_scores"] = std::move(features);
  return o;
}

std::optional<Verdict> VerdictFromJson(const boost::json::value& o, const std::string& source,
                                       const std::string& pipeline) {
  auto run = json::GetString(o, "run_id"), severity = json::GetString(o, "severity"),
       kind = json::GetString(o, "kind");
  auto scored = json::GetBool(o, "scored"), anomalous = json::GetBool(o, "anomalous");
  auto score = json::GetNumber(o, "score");
  const auto* reasons = json::FindArray(o, "reasons");
  if (!run || !severity || !kind || !scored || !anomalous || !score || !reasons || !std::isfinite(*score)) {
    return std::nullopt;
  }
  Verdict v;
  v.source = source;
  v.pipeline = pipeline;
  v.run_id = *run;
  v.scored = *scored;
  v.anomalous = *anomalous;
  v.score = *score;
  v.severity = *severity;
  v.kind = *kind;
  for (const auto& r : *reasons) {
    if (r.is_string()) v.reasons.emplace_back(r.get_string());
  }
  if (auto t = json::GetInt(o, "finished_at")) v.finished_at = FromTicks(*t);
  v.context = json::GetString(o, "context").value_or("");
  if (auto t = json::GetInt(o, "regression_start")) v.regression_start = FromTicks(*t);
  v.regression_start_run = json::GetString(o, "regression_start_run").value_or("");
  if (const auto* features = json::FindObject(o, "feature_scores")) {
    for (const auto& [name, x] : *features) {
      if (x.is_number() && std::isfinite(x.to_number<double>())) v.feature_scores[name] = x.to_number<double>();
    }
  }
  return v;
}

}  // namespace

std::uint64_t PipelineHash(std::string_view source, std::string_view pipeline) {
  return Fnv1a(pipeline, Fnv1a("\x1f", Fnv1a(source)));
}

Result<Shard> ParseShard(std::string_view text) {
  const auto slash = text.find('/');
  Shard s;
  auto num = [](std::string_view t, int& out) {
    auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), out);
    return ec == std::errc() && p == t.data() + t.size();
  };
  if (slash == std::string_view::npos || !num(text.substr(0, slash), s.index) ||
      !num(text.substr(slash + 1), s.count) || s.count < 1 || s.index < 0 || s.index >= s.count) {
    return InvalidArgument("--shard wants i/n with 0 <= i < n, got \"" + std::string(text) + "\"");
  }
  return s;
}

TimePoint NextDailyAt(TimePoint now, int minute_of_day) {
  TimePoint t = std::chrono::floor<std::chrono::days>(now) + std::chrono::minutes(minute_of_day);
  while (t <= now) t += std::chrono::days(1);
  return t;
}

Service::Service(const DetectorConfig& config, ServiceDeps deps, Shard shard)
    : config_(config), deps_(std::move(deps)), shard_(shard) {
  const TimePoint now = deps_.clock->Now();
  next_detect_ = now;
  next_retrain_ = NextDailyAt(now, config_.schedule.retrain_minute);
  next_cleanup_ = now + config_.schedule.cleanup_interval;
}

Service::~Service() {
  std::lock_guard lock(thread_mu_);
  if (train_thread_.joinable()) train_thread_.join();
}

void Service::NoteQuery(const Status& s) {
  queried_ = true;
  if (s.ok()) {
    if (!prometheus_up_) LogInfo("prometheus reachable", {{"url", config_.prometheus.url}});
    prometheus_up_ = true;
    last_error_.clear();
    return;
  }
  ++query_errors_;
  if (prometheus_up_ || last_error_.empty()) {
    LogWarn("prometheus query failed; serving the last scores", {{"err", s}});
  }
  prometheus_up_ = false;
  last_error_ = s.ToString();
}

Result<Service::Fetched> Service::FetchRuns(Millis range, TimePoint at, std::string_view matcher) {
  auto read = ReadHistory(deps_.query, range, at, config_.history_read, matcher);
  if (!read) return read.status();
  History& h = *read;
  Fetched out;
  out.rejected += h.non_finite;
  out.rejected += h.incomplete;
  // Garbage that is finite but impossible (a negative duration, queue or
  // test count) is rejected, never learnt.
  for (RunRecord& r : h.runs) {
    // A run finishing in the future (clock skew, bad data) would hold back
    // every later run: rejected like the other impossible values.
    const bool bad = *r.duration_seconds < 0 || r.queue_seconds.value_or(0) < 0 ||
                     r.tests_total.value_or(0) < 0 || r.tests_failed.value_or(0) < 0 ||
                     *r.finished_at > at + std::chrono::minutes(10);
    if (bad) {
      ++out.rejected;
      LogWarn("rejecting an impossible run from prometheus",
              {{"source", r.source}, {"pipeline", r.pipeline}, {"run", r.run_id},
               {"duration", *r.duration_seconds}, {"queue", r.queue_seconds.value_or(0)}});
      continue;
    }
    out.runs.push_back(std::move(r));
  }
  return out;
}

std::vector<std::string> Service::TrainingBatches(Millis range, TimePoint at) {
  const std::size_t per_batch = config_.history_read.batch_pipelines;
  if (!deps_.series || per_batch == 0) return {""};
  auto listed = deps_.series(kLastFinished, at - range, at);
  if (!listed) {
    // An API without /api/v1/series (or refusing it) can still be read in
    // one batch; if Prometheus is down, that read fails and says so.
    LogWarn("cannot list pipelines; reading them all at once", {{"err", listed.status()}});
    return {""};
  }
  std::map<std::string, std::set<std::string>> by_source;
  for (const auto& labels : *listed) {
    auto src = labels.find("source"), pipe = labels.find("pipeline");
    if (src == labels.end() || pipe == labels.end()) continue;
    if (shard_.Owns(src->second, pipe->second)) by_source[src->second].insert(pipe->second);
  }
  std::vector<std::string> batches;
  for (const auto& [source, pipelines] : by_source) {
    std::vector<std::string> batch;
    for (const auto& p : pipelines) {
      batch.push_back(p);
      if (batch.size() == per_batch) {
        batches.push_back(BatchMatcher(source, batch));
        batch.clear();
      }
    }
    if (!batch.empty()) batches.push_back(BatchMatcher(source, batch));
  }
  return batches;
}

Result<TrainSummary> Service::Train(Millis history, std::optional<double> contamination) {
  std::lock_guard train_lock(train_mu_);
  if (contamination) {
    contamination_ = contamination;
  } else {
    contamination = contamination_;
  }
  const TimePoint now = deps_.clock->Now();
  // Pipelines are read and trained a batch at a time, so the runs held at
  // once are one batch's, not the whole history's.
  std::map<Key, PipelineState> trained;
  TrainSummary summary;
  std::size_t rejected = 0;
  Status failed = Status::Ok();
  for (const std::string& matcher : TrainingBatches(history, now)) {
    auto fetched = FetchRuns(history, now, matcher);
    if (!fetched) {
      failed = fetched.status();
      break;
    }
    rejected += fetched->rejected;
    std::map<Key, std::vector<const RunRecord*>> by_pipeline;
    for (const RunRecord& r : fetched->runs) {
      if (shard_.Owns(r.source, r.pipeline)) by_pipeline[{r.source, r.pipeline}].push_back(&r);
    }
    for (const auto& [key, runs] : by_pipeline) {
      PipelineState st;
      st.model = std::make_unique<PipelineModel>(config_.detection);
      for (const RunRecord* r : runs) {
        const Verdict v = st.model->Process(*r);
        st.recent.push_back({*r->finished_at, r->duration_seconds.value_or(0), v.anomalous});
        if (st.recent.size() > kRecentRuns) st.recent.pop_front();
      }
      st.model->Retrain(contamination);
      st.samples = runs.size();
      st.trained_at = now;
      st.last_finished = *runs.back()->finished_at;
      trained.emplace(key, std::move(st));
      ++summary.pipelines;
      summary.runs += runs.size();
    }
  }
  {
    std::lock_guard lock(mu_);
    NoteQuery(failed);
    if (!failed.ok() && !last_train_) {
      // Never trained: retry soon rather than at the next daily retrain.
      next_retrain_ = std::min(next_retrain_, now + std::max<Millis>(config_.schedule.detect_interval, Millis(60'000)));
    }
    if (rejected > 0) {
      rejected_samples_ += rejected;
      LogWarn("rejected samples or runs from prometheus (NaN, Inf or incomplete)", {{"count", rejected}});
    }
  }
  if (!failed.ok()) return failed;
  {
    std::lock_guard lock(mu_);
    for (auto& [key, st] : trained) {
      PipelineState& cur = pipelines_[key];
      cur.model = std::move(st.model);
      cur.samples = st.samples;
      cur.trained_at = st.trained_at;
      // Detection may have judged newer runs while this training read its
      // history: they are not judged again.
      if (cur.last_finished > st.last_finished) {
        for (const RunPoint& p : cur.recent) {
          if (p.finished > st.last_finished) st.recent.push_back(p);
        }
        while (st.recent.size() > kRecentRuns) st.recent.pop_front();
      }
      cur.last_finished = std::max(cur.last_finished, st.last_finished);
      cur.recent = std::move(st.recent);
    }
    last_train_ = now;
    dirty_ = true;
  }
  LogInfo("training done", {{"pipelines", summary.pipelines}, {"runs", summary.runs}});
  if (auto s = Save(); !s.ok()) LogError("cannot save state", {{"err", s}});
  return summary;
}

bool Service::StartTraining(Millis history, std::optional<double> contamination) {
  bool expected = false;
  if (!training_.compare_exchange_strong(expected, true)) return false;
  std::lock_guard lock(thread_mu_);
  if (train_thread_.joinable()) train_thread_.join();
  train_thread_ = std::thread([this, history, contamination] {
    auto r = Train(history, contamination);
    if (!r) LogWarn("training failed; keeping the previous models", {{"err", r.status()}});
    training_ = false;
  });
  return true;
}

void Service::RecordAnomaly(const Verdict& v, TimePoint at, std::optional<double> duration) {
  for (const auto& a : anomalies_) {
    if (a.source == v.source && a.pipeline == v.pipeline && a.run_id == v.run_id && a.kind == v.kind) return;
  }
  anomalies_.push_back({v.source, v.pipeline, v.run_id, v.kind, v.severity, v.score, v.reasons, at, duration});
  ++anomaly_counts_[{v.source, v.pipeline, v.kind, v.severity}];
  LogInfo("anomaly", {{"source", v.source},
                      {"pipeline", v.pipeline},
                      {"run", v.run_id},
                      {"kind", v.kind},
                      {"severity", v.severity},
                      {"score", v.score},
                      {"reason", v.reasons.empty() ? std::string() : v.reasons.front()}});
  dirty_ = true;
}

void Service::ApplyRun(PipelineState& st, const RunRecord& run, double threshold, DetectSummary& out) {
  const Verdict v = st.model->Process(run);
  st.last_finished = *run.finished_at;
  st.last = v;
  st.feature_scores = v.feature_scores;
  st.recent.push_back({*run.finished_at, run.duration_seconds.value_or(0), v.anomalous});
  if (st.recent.size() > kRecentRuns) st.recent.pop_front();
  const bool already_stuck = st.stuck_started && run.started_at &&
                             std::chrono::abs(*run.started_at - *st.stuck_started) <= std::chrono::seconds(2);
  if (already_stuck) st.stuck_started.reset();
  if (v.anomalous && !already_stuck) RecordAnomaly(v, *run.finished_at, run.duration_seconds);
  ++out.runs;
  if (v.scored && v.score >= threshold) out.verdicts.push_back(v);
}

Result<DetectSummary> Service::Detect(double threshold) {
  std::lock_guard detect_lock(detect_mu_);
  const TimePoint now = deps_.clock->Now();
  // Read back to the oldest model's newest run (plus a margin for scrape
  // delay), bounded by the configured history.
  // After a successful pass, only what was scraped since (with a margin for
  // ingestion delay) is read again; the first pass after a start or an
  // outage catches up from the oldest model's newest run.
  Millis range{5 * 60'000};
  {
    std::lock_guard lock(mu_);
    if (last_ok_detect_) {
      range = std::max(range, std::chrono::duration_cast<Millis>(now - *last_ok_detect_) + Millis(120'000));
    } else {
      for (const auto& [key, st] : pipelines_) {
        if (!st.model) continue;
        range = std::max(range, std::chrono::duration_cast<Millis>(now - st.last_finished) + Millis(60'000));
      }
    }
  }
  range = std::min(range, config_.schedule.history);
  range = std::chrono::duration_cast<std::chrono::seconds>(range);  // whole seconds for PromQL
  auto fetched = FetchRuns(range, now);
  Result<PromQueryResult> active = Status::Error(ErrorCode::kInternal, "not queried");
  if (fetched) active = deps_.query(std::string(kActiveOldest) + "{state=\"running\"}", now);
  std::lock_guard lock(mu_);
  if (!fetched) {
    NoteQuery(fetched.status());
    return fetched.status();
  }
  NoteQuery(active.status());
  const std::size_t rejected = fetched->rejected + (active ? active->non_finite : 0);
  if (rejected > 0) {
    rejected_samples_ += rejected;
    LogWarn("rejected samples or runs from prometheus (NaN, Inf or incomplete)", {{"count", rejected}});
  }
  DetectSummary out;
  for (const RunRecord& run : fetched->runs) {
    if (!shard_.Owns(run.source, run.pipeline)) continue;
    PipelineState& st = pipelines_[{run.source, run.pipeline}];
    if (!st.model) st.model = std::make_unique<PipelineModel>(config_.detection);
    if (*run.finished_at <= st.last_finished) continue;
    ApplyRun(st, run, threshold, out);
  }
  if (!active) {
    // Unknown is not "still stuck": no stale stuck score while the query fails.
    for (auto& [key, st] : pipelines_) st.active.reset();
  } else {
    std::map<Key, double> oldest;
    for (const auto& s : active->series) {
      auto src = s.labels.find("source"), pipe = s.labels.find("pipeline");
      if (src == s.labels.end() || pipe == s.labels.end() || s.samples.empty()) continue;
      oldest[{src->second, pipe->second}] = s.samples.back().v;
    }
    for (auto& [key, st] : pipelines_) {
      st.active.reset();
      auto it = oldest.find(key);
      if (it == oldest.end() || !st.model) continue;
      RunRecord run;
      run.source = key.first;
      run.pipeline = key.second;
      run.started_at = FromUnixSeconds(it->second);
      run.run_id = "running since " + FormatRfc3339(*run.started_at);
      st.active = st.model->CheckActive(run, now);
      if (!st.active) continue;
      if (st.stuck_started == run.started_at) continue;  // this incident is recorded already
      st.stuck_started = run.started_at;
      RecordAnomaly(*st.active, now, std::nullopt);
      if (st.active->score >= threshold) out.verdicts.push_back(*st.active);
    }
  }
  last_detect_ = now;
  last_ok_detect_ = now;
  if (out.runs > 0) dirty_ = true;
  return out;
}

std::size_t Service::Cleanup() {
  std::lock_guard lock(mu_);
  const TimePoint cutoff = deps_.clock->Now() - config_.anomaly_retention;
  const std::size_t before = anomalies_.size();
  std::erase_if(anomalies_, [&](const AnomalyRecord& a) { return a.at < cutoff; });
  const std::size_t removed = before - anomalies_.size();
  if (removed > 0) {
    dirty_ = true;
    LogInfo("old anomalies deleted", {{"count", removed}});
  }
  return removed;
}

Result<std::string> Service::Collect() {
  if (config_.exporter_url.empty()) {
    return InvalidArgument(
        "no exporter_url configured: set exporter_url in the detector config to let it ask the "
        "exporter to poll");
  }
  if (deps_.fetcher == nullptr) return Status::Error(ErrorCode::kInternal, "no HTTP client");
  HttpRequest req;
  req.method = "POST";
  req.url = JoinUrl(config_.exporter_url, "/api/v1/collect");
  req.timeout = config_.prometheus.timeout;
  auto resp = deps_.fetcher->Fetch(req);
  if (!resp) return resp.status().WithContext("exporter " + config_.exporter_url);
  if (resp->status < 200 || resp->status >= 300) {
    return Status::Error(ErrorCode::kUnavailable, "exporter " + config_.exporter_url + " answered HTTP " +
                                                      std::to_string(resp->status) + ": " +
                                                      resp->body.substr(0, 200));
  }
  return resp->body;
}

TimePoint Service::NextDue() const {
  std::lock_guard lock(mu_);
  return std::min({next_detect_, next_retrain_, next_cleanup_});
}

void Service::Tick() {
  const TimePoint now = deps_.clock->Now();
  bool detect = false, retrain = false, cleanup = false;
  {
    std::lock_guard lock(mu_);
    if (now >= next_detect_) {
      detect = true;
      next_detect_ = now + config_.schedule.detect_interval;
    }
    if (now >= next_retrain_) {
      retrain = true;
      next_retrain_ = NextDailyAt(now, config_.schedule.retrain_minute);
    }
    if (now >= next_cleanup_) {
      cleanup = true;
      next_cleanup_ = now + config_.schedule.cleanup_interval;
    }
  }
  if (retrain && !StartTraining(config_.schedule.history)) {
    // A training (e.g. from the API) is running: try again soon rather than
    // skipping a day.
    std::lock_guard lock(mu_);
    next_retrain_ = now + config_.schedule.detect_interval;
  }
  if (detect) (void)Detect();
  if (cleanup) Cleanup();
  bool dirty;
  {
    std::lock_guard lock(mu_);
    dirty = dirty_;
  }
  if (dirty) {
    if (auto s = Save(); !s.ok()) LogError("cannot save state", {{"err", s}});
  }
}

ServiceSnapshot Service::Snapshot() const {
  std::lock_guard lock(mu_);
  ServiceSnapshot s;
  for (const auto& [key, st] : pipelines_) {
    PipelineSnapshot p;
    p.source = key.first;
    p.pipeline = key.second;
    p.min_runs = config_.detection.min_runs;
    p.samples = st.samples;
    p.trained_at = st.trained_at;
    p.last = st.last;
    p.active = st.active;
    p.feature_scores = st.feature_scores;
    p.recent.assign(st.recent.begin(), st.recent.end());
    if (st.model) {
      p.runs_seen = st.model->runs_seen();
      p.has_forest = st.model->has_forest();
      p.expected = st.model->Expected();
    }
    s.pipelines.push_back(std::move(p));
  }
  s.anomalies.assign(anomalies_.begin(), anomalies_.end());
  s.anomaly_counts = anomaly_counts_;
  s.prometheus_up = prometheus_up_;
  s.query_errors = query_errors_;
  s.rejected_samples = rejected_samples_;
  s.training = training_.load();
  s.last_detect = last_detect_;
  s.last_train = last_train_;
  s.last_error = last_error_;
  s.shard = shard_;
  return s;
}

// ---- persistence ----

std::string Service::SerializeModels() const {
  boost::json::array arr;
  for (const auto& [key, st] : pipelines_) {
    if (!st.model) continue;
    boost::json::object o;
    o["source"] = key.first;
    o["pipeline"] = key.second;
    o["samples"] = st.samples;
    if (st.trained_at) o["trained_at"] = Ticks(*st.trained_at);
    o["last_finished"] = Ticks(st.last_finished);
    boost::json::array recent;
    for (const auto& r : st.recent) recent.emplace_back(boost::json::array{Ticks(r.finished), r.duration, r.anomalous});
    o["recent"] = std::move(recent);
    if (st.last) o["last"] = VerdictToJson(*st.last);
    boost::json::object features;
    for (const auto& [name, v] : st.feature_scores) features[name] = v;
    o["feature_scores"] = std::move(features);
    o["model"] = st.model->Serialize();
    arr.emplace_back(std::move(o));
  }
  return json::Serialize(boost::json::object{{"pipelines", std::move(arr)}});
}

std::string Service::SerializeAnomalies() const {
  boost::json::array arr;
  for (const auto& a : anomalies_) {
    boost::json::object o{{"source", a.source}, {"pipeline", a.pipeline}, {"run_id", a.run_id},
                          {"kind", a.kind},     {"severity", a.severity}, {"score", a.score},
                          {"reasons", Strings(a.reasons)}, {"at", Ticks(a.at)}};
    if (a.duration) o["duration"] = *a.duration;
    arr.emplace_back(std::move(o));
  }
  return json::Serialize(boost::json::object{{"anomalies", std::move(arr)}});
}

Status Service::Save() {
  if (config_.state_dir.empty()) return Status::Ok();
  std::lock_guard save_lock(save_mu_);
  std::string models, anomalies;
  {
    std::lock_guard lock(mu_);
    models = Envelope("models", SerializeModels());
    anomalies = Envelope("anomalies", SerializeAnomalies());
    dirty_ = false;
  }
  auto keep_dirty = [this](Status s) {
    std::lock_guard lock(mu_);
    dirty_ = true;  // retried at the next save
    return s;
  };
  std::error_code ec;
  std::filesystem::create_directories(config_.state_dir, ec);
  if (ec) {
    return keep_dirty(Status::Error(ErrorCode::kIo, "cannot create " + config_.state_dir + ": " + ec.message()));
  }
  const std::string dir = config_.state_dir + "/";
  // Anomalies first: after a crash between the two writes the models are
  // older than the history, so the last runs are judged again (and
  // deduplicated) instead of their anomalies being lost.
  if (auto s = WriteFileAtomically(dir + kAnomaliesFile, anomalies); !s.ok()) return keep_dirty(s);
  if (auto s = WriteFileAtomically(dir + kModelsFile, models); !s.ok()) return keep_dirty(s);
  return Status::Ok();
}

void Service::LoadModels(const std::string& body) {
  auto parsed = json::Parse(body);
  const auto* arr = parsed ? json::FindArray(*parsed, "pipelines") : nullptr;
  if (!arr) {
    LogWarn("ignoring models file: not the expected JSON");
    return;
  }
  std::lock_guard lock(mu_);
  for (const auto& o : *arr) {
    auto source = json::GetString(o, "source"), pipeline = json::GetString(o, "pipeline"),
         model = json::GetString(o, "model");
    auto last = json::GetInt(o, "last_finished"), samples = json::GetInt(o, "samples");
    if (!source || !pipeline || !model || !last || !samples) {
      LogWarn("ignoring a model entry with missing fields");
      continue;
    }
    auto m = PipelineModel::Deserialize(*model, config_.detection);
    if (!m) {
      LogWarn("ignoring a stored model", {{"pipeline", *pipeline}, {"err", m.status()}});
      continue;
    }
    if (!shard_.Owns(*source, *pipeline)) continue;
    PipelineState st;
    st.model = std::make_unique<PipelineModel>(std::move(*m));
    st.samples = static_cast<std::size_t>(std::max<std::int64_t>(0, *samples));
    if (auto t = json::GetInt(o, "trained_at")) st.trained_at = FromTicks(*t);
    st.last_finished = FromTicks(*last);
    if (const auto* recent = json::FindArray(o, "recent")) {
      for (const auto& r : *recent) {
        const auto* a = r.if_array();
        if (!a || a->size() != 3 || !(*a)[0].is_int64() || !(*a)[1].is_number() || !(*a)[2].is_bool()) continue;
        st.recent.push_back({FromTicks((*a)[0].get_int64()), (*a)[1].to_number<double>(), (*a)[2].get_bool()});
      }
    }
    if (const auto* last = json::Find(o, "last")) st.last = VerdictFromJson(*last, *source, *pipeline);
    if (const auto* features = json::FindObject(o, "feature_scores")) {
      for (const auto& [name, v] : *features) {
        if (v.is_number() && std::isfinite(v.to_number<double>())) st.feature_scores[name] = v.to_number<double>();
      }
    }
    pipelines_[{*source, *pipeline}] = std::move(st);
  }
}

void Service::LoadAnomalies(const std::string& body) {
  auto parsed = json::Parse(body);
  const auto* arr = parsed ? json::FindArray(*parsed, "anomalies") : nullptr;
  if (!arr) {
    LogWarn("ignoring anomalies file: not the expected JSON");
    return;
  }
  std::lock_guard lock(mu_);
  for (const auto& o : *arr) {
    AnomalyRecord a;
    auto source = json::GetString(o, "source"), pipeline = json::GetString(o, "pipeline"),
         run = json::GetString(o, "run_id"), kind = json::GetString(o, "kind"),
         severity = json::GetString(o, "severity");
    auto score = json::GetNumber(o, "score");
    auto at = json::GetInt(o, "at");
    const auto* reasons = json::FindArray(o, "reasons");
    if (!source || !pipeline || !run || !kind || !severity || !score || !at || !reasons) continue;
    a.source = *source;
    a.pipeline = *pipeline;
    a.run_id = *run;
    a.kind = *kind;
    a.severity = *severity;
    a.score = *score;
    a.at = FromTicks(*at);
    a.duration = json::GetNumber(o, "duration");
    for (const auto& r : *reasons) {
      if (r.is_string()) a.reasons.emplace_back(r.get_string());
    }
    anomalies_.push_back(std::move(a));
  }
}

std::size_t Service::Load() {
  if (config_.state_dir.empty()) return 0;
  const std::string dir = config_.state_dir + "/";
  for (const auto& [file, kind] : {std::pair<const char*, const char*>{kModelsFile, "models"},
                                   {kAnomaliesFile, "anomalies"}}) {
    auto text = ReadFileToString(dir + file);
    if (!text) {
      if (text.status().code() != ErrorCode::kNotFound) {
        LogWarn("cannot read state file; ignoring it", {{"file", dir + file}, {"err", text.status()}});
      }
      continue;
    }
    auto body = OpenEnvelope(kind, *text);
    if (!body) {
      LogWarn("ignoring state file", {{"file", dir + file}, {"err", body.status()}});
      continue;
    }
    if (std::string_view(kind) == "models") {
      LoadModels(*body);
    } else {
      LoadAnomalies(*body);
    }
  }
  std::lock_guard lock(mu_);
  std::size_t n = 0;
  for (const auto& [k, st] : pipelines_) n += st.model ? 1 : 0;
  LogInfo("state loaded", {{"models", n}, {"anomalies", anomalies_.size()}});
  return n;
}

}  // namespace cicd::detector
