#include "cicd/detector/history.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace cicd::detector {
namespace {

using Key = std::pair<std::string, std::string>;  // source, pipeline

Key KeyOf(const PromSeries& s) {
  auto get = [&](const char* k) {
    auto it = s.labels.find(k);
    return it == s.labels.end() ? std::string() : it->second;
  };
  return {get("source"), get("pipeline")};
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

std::map<Key, std::vector<const PromSeries*>> Index(const PromQueryResult& r) {
  std::map<Key, std::vector<const PromSeries*>> out;
  for (const auto& s : r.series) out[KeyOf(s)].push_back(&s);
  return out;
}

}  // namespace

History RunsFromLastRunSeries(const LastRunSeries& in) {
  History out;
  const auto duration = Index(in.duration);
  const auto queue = Index(in.queue);
  const auto number = Index(in.number);
  const auto tests = Index(in.tests);
  const auto result = Index(in.result);
  for (const auto& fs : in.finished.series) {
    const Key key = KeyOf(fs);
    std::optional<double> previous;
    for (const PromSample& s : fs.samples) {
      if (previous && *previous == s.v) continue;
      previous = s.v;
      // Finish times outside 1970..2286 cannot be a run (and would overflow
      // the time conversion).
      if (s.v < 0 || s.v > 1e10) {
        ++out.incomplete;
        continue;
      }
      RunRecord r;
      r.source = key.first;
      r.pipeline = key.second;
      r.status = RunStatus::kCompleted;
      r.finished_at = FromUnixSeconds(s.v);
      if (auto it = duration.find(key); it != duration.end()) {
        r.duration_seconds = At(it->second.front()->samples, s.t);
      }
      if (auto it = queue.find(key); it != queue.end()) {
        r.queue_seconds = At(it->second.front()->samples, s.t);
      }
      if (auto it = number.find(key); it != number.end()) {
        if (auto n = At(it->second.front()->samples, s.t)) r.number = static_cast<std::int64_t>(std::llround(*n));
      }
      if (auto it = tests.find(key); it != tests.end()) {
        double total = 0;
        bool any = false;
        for (const PromSeries* ts : it->second) {
          auto v = At(ts->samples, s.t);
          if (!v) continue;
          any = true;
          total += *v;
          const std::string outcome = ts->labels.count("outcome") ? ts->labels.at("outcome") : "";
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
        ++out.incomplete;
        continue;
      }
      r.started_at = *r.finished_at - std::chrono::duration_cast<TimePoint::duration>(Seconds(*r.duration_seconds));
      r.run_id = r.number ? std::to_string(*r.number) : "t" + std::to_string(std::llround(s.v));
      out.runs.push_back(std::move(r));
    }
  }
  std::stable_sort(out.runs.begin(), out.runs.end(),
                   [](const RunRecord& a, const RunRecord& b) { return *a.finished_at < *b.finished_at; });
  return out;
}

Result<History> FetchHistory(PrometheusClient& client, Millis range, TimePoint at,
                             const std::string& matcher) {
  LastRunSeries series;
  const std::string sel = "{" + matcher + "}[" + FormatDuration(range) + "]";
  const std::pair<const char*, PromQueryResult*> queries[] = {
      {kLastFinished, &series.finished}, {kLastDuration, &series.duration},
      {kLastQueue, &series.queue},       {kLastNumber, &series.number},
      {kLastTests, &series.tests},       {kLastResult, &series.result}};
  for (const auto& [name, dest] : queries) {
    auto r = client.Query(std::string(name) + sel, at);
    if (!r) return r.status().WithContext(std::string("reading ") + name);
    *dest = std::move(*r);
  }
  return RunsFromLastRunSeries(series);
}

}  // namespace cicd::detector
