#pragma once
// A fake of Prometheus's query API for service tests: serves the exporter's
// last-run gauges for a list of runs as a QueryFunc, one sample per run at
// its finish time (like a scrape right after the run finished).

#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "support/batch_matcher.h"
#include "cicd/detector/history.h"
#include "cicd/detector/service.h"

namespace cicd::detector::testing {

struct FakeRun {
  std::string source = "github";
  std::string pipeline = "org/app/ci.yml";
  double finished = 0;  // Unix seconds
  double duration = 600;
  double queue = 5;
  double tests = 1500;
  std::string result = "success";
};

class FakePrometheus {
 public:
  void Add(FakeRun r) {
    std::lock_guard lock(mu_);
    runs_.push_back(std::move(r));
  }
  void SetUp(bool up) {
    std::lock_guard lock(mu_);
    up_ = up;
  }
  void SetNonFinite(std::size_t n) {
    std::lock_guard lock(mu_);
    non_finite_ = n;
  }
  // cicd_pipeline_runs_active_oldest_timestamp_seconds{state="running"}
  void SetActive(const std::string& source, const std::string& pipeline, double started) {
    std::lock_guard lock(mu_);
    active_[{source, pipeline}] = started;
  }
  void ClearActive() {
    std::lock_guard lock(mu_);
    active_.clear();
  }
  std::size_t queries() const {
    std::lock_guard lock(mu_);
    return queries_;
  }

  QueryFunc Func() {
    return [this](const std::string& promql, TimePoint at) { return Query(promql, at); };
  }
  SeriesFunc Series() {
    return [this](const std::string& match, TimePoint start, TimePoint end) -> Result<std::vector<std::map<std::string, std::string>>> {
      std::lock_guard lock(mu_);
      ++queries_;
      if (!up_) return Status::Error(ErrorCode::kUnavailable, "connection refused");
      std::set<std::map<std::string, std::string>> found;
      for (const FakeRun& r : runs_) {
        const double t = r.finished + 1;
        if (t < ToUnixSeconds(start) || t > ToUnixSeconds(end)) continue;
        found.insert({{"__name__", match}, {"source", r.source}, {"pipeline", r.pipeline}});
      }
      return std::vector<std::map<std::string, std::string>>(found.begin(), found.end());
    };
  }
  std::size_t history_queries() const {
    std::lock_guard lock(mu_);
    return history_queries_;
  }

  Result<PromQueryResult> Query(const std::string& promql, TimePoint at) {
    std::lock_guard lock(mu_);
    ++queries_;
    if (!up_) return Status::Error(ErrorCode::kUnavailable, "connection refused");
    PromQueryResult out;
    out.result_type = "matrix";
    out.non_finite = non_finite_;
    const std::string name = promql.substr(0, promql.find_first_of("[{"));
    if (name == "cicd_pipeline_runs_active_oldest_timestamp_seconds") {
      out.result_type = "vector";
      for (const auto& [key, started] : active_) {
        out.series.push_back({{{"source", key.first}, {"pipeline", key.second}, {"state", "running"}},
                              {{ToUnixSeconds(at), started}}});
      }
      return out;
    }
    if (promql.find(kFieldLabel) == std::string::npos) {
      return Status::Error(ErrorCode::kInvalidArgument, "fake prometheus cannot answer: " + promql);
    }
    ++history_queries_;
    // A HistoryQuery: "...{MATCHER}...)[WINDOWms:STEPms]".
    const auto open = promql.rfind('[');
    const double window = std::stod(promql.substr(open + 1)) / 1000.0;
    const std::set<std::string> only = cicd::testing::PipelinesOfBatchMatcher(promql);
    const double now = ToUnixSeconds(at);
    const double from = now - window;
    std::map<std::map<std::string, std::string>, std::vector<PromSample>> series;
    for (const FakeRun& r : runs_) {
      const double t = r.finished + 1;
      if (t < from || t > now) continue;
      if (!only.empty() && only.count(r.pipeline) == 0) continue;
      const std::map<std::string, std::string> l{{"source", r.source}, {"pipeline", r.pipeline}};
      auto field = [&](const char* f, std::map<std::string, std::string> extra = {}) {
        auto labels = l;
        labels[kFieldLabel] = f;
        labels.insert(extra.begin(), extra.end());
        return labels;
      };
      series[field("finished")].push_back({t, r.finished});
      series[field("duration")].push_back({t, r.duration});
      series[field("queue")].push_back({t, r.queue});
      series[field("tests", {{"outcome", "passed"}})].push_back({t, r.tests});
      series[field("result", {{"result", r.result}})].push_back({t, 1.0});
    }
    for (auto& [labels, samples] : series) out.series.push_back({labels, std::move(samples)});
    return out;
  }

 private:
  mutable std::mutex mu_;
  std::vector<FakeRun> runs_;
  std::map<std::pair<std::string, std::string>, double> active_;
  bool up_ = true;
  std::size_t non_finite_ = 0;
  std::size_t queries_ = 0;
  std::size_t history_queries_ = 0;
};

// 600 s +- 10 s runs every hour, ending `end` seconds.
inline void AddNormalRuns(FakePrometheus& p, int n, double end, const std::string& pipeline = "org/app/ci.yml") {
  for (int i = 0; i < n; ++i) {
    FakeRun r;
    r.pipeline = pipeline;
    r.finished = end - (n - 1 - i) * 3600.0;
    r.duration = 600 + (i * 7 % 21) - 10;
    r.queue = 5 + (i % 3);
    p.Add(r);
  }
}

}  // namespace cicd::detector::testing
