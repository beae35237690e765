#include "cicd/detector/history.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

namespace cicd::detector {
namespace {

using Labels = std::map<std::string, std::string>;

std::string Get(const Labels& l, const char* k) {
  auto it = l.find(k);
  return it == l.end() ? std::string() : it->second;
}

// The labels that identify one exporter series of a pipeline: everything but
// the metric name and the per-gauge labels (outcome, result). Backfilled
// series (no job/instance) and scraped ones stay apart, so each finish time
// is joined with the gauges of the same target.
Labels JoinKey(const Labels& l) {
  Labels k = l;
  for (const char* drop : {"__name__", kFieldLabel, "outcome", "result"}) k.erase(drop);
  return k;
}

// Value of a series at sample time t (exact match, else the latest sample at
// or before t within 1 s of slack for scrape jitter).
std::optional<double> At(const std::vector<PromSample>& samples, double t) {
  auto it = std::upper_bound(samples.begin(), samples.end(), t + 1e-6,
                             [](double x, const PromSample& s) { return x < s.t; });
  if (it == samples.begin()) return std::nullopt;
  --it;
  if (t - it->t > 1.0) return std::nullopt;
  return it->v;
}

std::map<Labels, std::vector<const PromSeries*>> Index(const PromQueryResult& r) {
  std::map<Labels, std::vector<const PromSeries*>> out;
  for (const auto& s : r.series) out[JoinKey(s.labels)].push_back(&s);
  return out;
}

std::optional<double> First(const std::map<Labels, std::vector<const PromSeries*>>& idx, const Labels& key,
                            double t) {
  auto it = idx.find(key);
  if (it == idx.end()) return std::nullopt;
  for (const PromSeries* s : it->second) {
    if (auto v = At(s->samples, t)) return v;
  }
  return std::nullopt;
}

std::string PromQLString(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + '"';
}

std::string RegexEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\.+*?()|[]{}^$").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

std::string Ms(Millis d) { return std::to_string(d.count()) + "ms"; }

}  // namespace

History RunsFromLastRunSeries(const LastRunSeries& in) {
  History out;
  out.non_finite = in.finished.non_finite + in.duration.non_finite + in.queue.non_finite +
                   in.number.non_finite + in.tests.non_finite + in.result.non_finite;
  const auto duration = Index(in.duration);
  const auto queue = Index(in.queue);
  const auto number = Index(in.number);
  const auto tests = Index(in.tests);
  const auto result = Index(in.result);
  // The same run read from two series (backfilled and scraped, or two
  // exporter replicas) is one run.
  using Run3 = std::tuple<std::string, std::string, std::string>;  // source, pipeline, branch
  std::map<Run3, std::set<double>> seen, incomplete;
  for (const auto& fs : in.finished.series) {
    const Labels key = JoinKey(fs.labels);
    const Run3 run3{Get(key, "source"), Get(key, "pipeline"), Get(key, "branch")};
    auto& seen_here = seen[run3];
    for (const PromSample& s : fs.samples) {
      // A run already read complete from another series is not read again;
      // an incomplete copy does not hide a complete one.
      if (seen_here.count(s.v) != 0) continue;
      // Finish times outside 1970..2286 cannot be a run (and would overflow
      // the time conversion).
      if (s.v < 0 || s.v > 1e10) {
        ++out.incomplete;
        continue;
      }
      RunRecord r;
      r.source = Get(key, "source");
      r.pipeline = Get(key, "pipeline");
      r.branch = Get(key, "branch");
      r.status = RunStatus::kCompleted;
      r.finished_at = FromUnixSeconds(s.v);
      r.duration_seconds = First(duration, key, s.t);
      r.queue_seconds = First(queue, key, s.t);
      if (auto n = First(number, key, s.t)) r.number = static_cast<std::int64_t>(std::llround(*n));
      if (auto it = tests.find(key); it != tests.end()) {
        double total = 0;
        bool any = false;
        for (const PromSeries* ts : it->second) {
          auto v = At(ts->samples, s.t);
          if (!v) continue;
          any = true;
          total += *v;
          const std::string outcome = Get(ts->labels, "outcome");
          if (outcome == "failed") r.tests_failed = static_cast<std::int64_t>(std::llround(*v));
          if (outcome == "skipped") r.tests_skipped = static_cast<std::int64_t>(std::llround(*v));
        }
        if (any) r.tests_total = static_cast<std::int64_t>(std::llround(total));
      }
      if (auto it = result.find(key); it != result.end()) {
        for (const PromSeries* rs : it->second) {
          auto v = At(rs->samples, s.t);
          if (v && *v == 1.0 && rs->labels.count("result")) r.result = rs->labels.at("result");
        }
      }
      if (!r.duration_seconds || !r.result) {
        incomplete[run3].insert(s.v);
        continue;
      }
      r.started_at = *r.finished_at - std::chrono::duration_cast<TimePoint::duration>(Seconds(*r.duration_seconds));
      r.run_id = r.number ? std::to_string(*r.number) : "t" + std::to_string(std::llround(s.v));
      seen_here.insert(s.v);
      out.runs.push_back(std::move(r));
    }
  }
  // Incomplete in every series that had it.
  for (const auto& [run3, values] : incomplete) {
    for (double v : values) out.incomplete += seen[run3].count(v) == 0 ? 1 : 0;
  }
  std::stable_sort(out.runs.begin(), out.runs.end(),
                   [](const RunRecord& a, const RunRecord& b) { return *a.finished_at < *b.finished_at; });
  return out;
}

std::string HistoryQuery(std::string_view matcher, Millis window, Millis step) {
  const std::string sel = "{" + std::string(matcher) + "}";
  const std::string f = kLastFinished + sel;
  // Finish times that differ from one step earlier (or have nothing one step
  // earlier): one point per run however often it was scraped.
  const std::string changed = "(" + f + " unless " + f + " == " + f + " offset " + Ms(step) + ")";
  // A gauge counts only when it has a sample within the last step, as the
  // finish time that changed there does: a backfilled run that did not
  // report it (no staleness marker) would otherwise show the previous run's
  // sample within the 5 min lookback of the instant selector. (Comparing
  // timestamp()s is exact too but made the query 7x slower; this costs about
  // 1.35x.) A scraped gauge the exporter dropped is stale at once.
  auto fresh = [&](const char* name) {
    const std::string x = name + sel;
    return "(" + x + " and last_over_time(" + x + "[" + Ms(step) + "]))";
  };
  auto field = [](const std::string& expr, const char* name) {
    return std::string("label_replace(") + expr + ", \"" + kFieldLabel + "\", \"" + name +
           "\", \"__name__\", \".*\")";
  };
  const std::string parts[] = {
      field(changed, "finished"),
      field(fresh(kLastDuration) + " and " + changed, "duration"),
      field(fresh(kLastQueue) + " and " + changed, "queue"),
      field(fresh(kLastNumber) + " and " + changed, "number"),
      field(fresh(kLastTests) + " and ignoring(outcome) " + changed, "tests"),
      field("(" + fresh(kLastResult) + " == 1) and ignoring(result) " + changed, "result"),
  };
  std::string q = "(";
  for (std::size_t i = 0; i < std::size(parts); ++i) {
    if (i > 0) q += " or ";
    q += parts[i];
  }
  return q + ")[" + Ms(window) + ":" + Ms(step) + "]";
}

void MergeHistoryResult(PromQueryResult result, LastRunSeries& into) {
  const std::pair<const char*, PromQueryResult*> fields[] = {
      {"finished", &into.finished}, {"duration", &into.duration}, {"queue", &into.queue},
      {"number", &into.number},     {"tests", &into.tests},       {"result", &into.result}};
  into.finished.non_finite += result.non_finite;
  std::map<std::pair<const PromQueryResult*, Labels>, std::size_t> index;
  for (const auto& [n, d] : fields) {
    for (std::size_t i = 0; i < d->series.size(); ++i) index[{d, d->series[i].labels}] = i;
  }
  for (PromSeries& s : result.series) {
    const std::string name = Get(s.labels, kFieldLabel);
    PromQueryResult* dest = nullptr;
    for (const auto& [n, d] : fields) {
      if (name == n) dest = d;
    }
    if (dest == nullptr) continue;
    s.labels.erase(kFieldLabel);
    s.labels.erase("__name__");
    auto [it, added] = index.try_emplace({dest, s.labels}, dest->series.size());
    if (added) {
      dest->series.push_back(std::move(s));
      continue;
    }
    PromSeries& known = dest->series[it->second];
    const double last = known.samples.empty() ? -1e300 : known.samples.back().t;
    for (const PromSample& p : s.samples) {
      if (p.t > last) known.samples.push_back(p);
    }
  }
}

Result<History> ReadHistory(const QueryFunc& query, Millis range, TimePoint at,
                            const HistoryReadOptions& options, std::string_view matcher) {
  LastRunSeries series;
  const TimePoint start = at - range;
  for (TimePoint from = start; from < at; from += options.window) {
    const TimePoint to = std::min(at, from + options.window);
    const Millis window = std::max(options.step, std::chrono::duration_cast<Millis>(to - from));
    auto r = query(HistoryQuery(matcher, window, options.step), to);
    if (!r) return r.status().WithContext("reading the run history");
    MergeHistoryResult(std::move(*r), series);
  }
  return RunsFromLastRunSeries(series);
}

std::string BatchMatcher(std::string_view source, const std::vector<std::string>& pipelines) {
  std::string alternation;
  for (const auto& p : pipelines) {
    if (!alternation.empty()) alternation += '|';
    alternation += RegexEscape(p);
  }
  return "source=" + PromQLString(source) + ",pipeline=~" + PromQLString(alternation);
}

}  // namespace cicd::detector
