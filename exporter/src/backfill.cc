#include "cicd/exporter/backfill.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <map>

#include "cicd/exporter/metrics.h"

namespace cicd::exporter {
namespace {

std::string Escape(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
  return out;
}

using Labels = std::vector<std::pair<std::string, std::string>>;

std::string LabelText(const Labels& labels) {
  std::string out = "{";
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (i) out += ',';
    out += labels[i].first + "=\"" + Escape(labels[i].second) + "\"";
  }
  return out + "}";
}

std::string Ts(TimePoint t) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", ToUnixSeconds(t));
  return buf;
}

// Collects samples per family and series, then writes them in order.
class Writer {
 public:
  void Sample(const std::string& family, const std::string& sample_name, const Labels& labels,
              double value, TimePoint t) {
    auto& series = families_[family].series[sample_name + LabelText(labels)];
    series.emplace_back(t, value);
  }
  void Declare(const std::string& family, const char* type, const char* help) {
    auto& f = families_[family];
    f.type = type;
    f.help = help;
    if (std::find(order_.begin(), order_.end(), family) == order_.end()) order_.push_back(family);
  }
  std::string Render() {
    std::string out;
    for (const auto& name : order_) {
      auto& f = families_[name];
      if (f.series.empty()) continue;
      out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + f.type + "\n";
      for (auto& [series, samples] : f.series) {
        std::stable_sort(samples.begin(), samples.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        for (std::size_t i = 0; i < samples.size(); ++i) {
          // One sample per series and timestamp: the later write wins.
          if (i + 1 < samples.size() && samples[i + 1].first == samples[i].first) continue;
          out += series + " " + FormatMetricValue(samples[i].second) + " " + Ts(samples[i].first) + "\n";
        }
      }
    }
    out += "# EOF\n";
    return out;
  }

 private:
  struct FamilyData {
    std::string type, help;
    std::map<std::string, std::vector<std::pair<TimePoint, double>>> series;
  };
  std::map<std::string, FamilyData> families_;
  std::vector<std::string> order_;
};

std::string FamilyName(const MetricDef& d) {
  std::string name = d.name;
  if (name.size() > 6 && name.compare(name.size() - 6, 6, "_total") == 0) name.resize(name.size() - 6);
  return name;
}

}  // namespace

std::string FormatMetricValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Shortest representation that round-trips ("120", "0.25"), as
  // prometheus-cpp's serializer prints bucket bounds.
  char buf[32];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, res.ptr);
}

std::string RenderJsonl(std::vector<RunRecord> runs) {
  std::stable_sort(runs.begin(), runs.end(), [](const RunRecord& a, const RunRecord& b) {
    const TimePoint ta = a.finished_at.value_or(a.started_at.value_or(TimePoint{}));
    const TimePoint tb = b.finished_at.value_or(b.started_at.value_or(TimePoint{}));
    return ta < tb;
  });
  std::string out;
  for (const auto& r : runs) out += ToJsonLine(r) + "\n";
  return out;
}

std::string RenderOpenMetricsBackfill(std::vector<RunRecord> runs, const StoreOptions& options) {
  std::erase_if(runs, [](const RunRecord& r) {
    return r.status != RunStatus::kCompleted || !r.finished_at || !r.result;
  });
  std::stable_sort(runs.begin(), runs.end(),
                   [](const RunRecord& a, const RunRecord& b) { return *a.finished_at < *b.finished_at; });
  Writer w;
  // OpenMetrics names a counter family without its _total suffix.
  const std::string runs_family = FamilyName(metric::kRunsTotal);
  w.Declare(runs_family, "counter", metric::kRunsTotal.help);
  w.Declare(metric::kRunDuration.name, "histogram", metric::kRunDuration.help);
  w.Declare(metric::kRunQueue.name, "histogram", metric::kRunQueue.help);
  const std::string tests_family = FamilyName(metric::kTestsTotal);
  w.Declare(tests_family, "counter", metric::kTestsTotal.help);
  for (const MetricDef& d : {metric::kLastDuration, metric::kLastQueue, metric::kLastFinished,
                             metric::kLastNumber, metric::kLastTests, metric::kLastResult}) {
    w.Declare(d.name, "gauge", d.help);
  }

  const std::string kDur = metric::kRunDuration.name;
  // Writes a histogram's buckets, count and sum as of time t.
  auto histogram = [&w](const std::string& name, const Labels& series, const std::vector<double>& bounds,
                        const Histogram& h, TimePoint t) {
    std::uint64_t cumulative = 0;
    for (std::size_t i = 0; i <= bounds.size(); ++i) {
      cumulative += i < h.bucket_counts.size() ? h.bucket_counts[i] : 0;
      Labels b = series;
      b.emplace_back("le", i < bounds.size() ? FormatMetricValue(bounds[i]) : "+Inf");
      w.Sample(name, name + "_bucket", b, static_cast<double>(cumulative), t);
    }
    w.Sample(name, name + "_count", series, static_cast<double>(h.count), t);
    w.Sample(name, name + "_sum", series, h.sum, t);
  };
  std::map<std::string, ResultAggregate> aggregates;
  std::map<std::string, Histogram> queues;          // by source, pipeline, branch
  std::map<std::string, double> tests;              // by source, pipeline, outcome
  for (const RunRecord& r : runs) {
    const TimePoint t = *r.finished_at;
    const std::string branch = options.branches.Fold(r.branch);
    const Labels series = {{"source", r.source}, {"pipeline", r.pipeline}, {"branch", branch}, {"result", *r.result}};
    ResultAggregate& agg = aggregates[LabelText(series)];
    ++agg.runs;
    if (r.duration_seconds) agg.duration.Observe(options.duration_buckets, *r.duration_seconds);
    w.Sample(runs_family, metric::kRunsTotal.name, series, static_cast<double>(agg.runs), t);
    histogram(kDur, series, options.duration_buckets, agg.duration, t);
    // The queue histogram and the tests counter count as RunStore::Count
    // does: an outcome the source did not report is not counted as zero.
    if (r.queue_seconds) {
      const Labels q = {{"source", r.source}, {"pipeline", r.pipeline}, {"branch", branch}};
      Histogram& h = queues[LabelText(q)];
      h.Observe(options.queue_buckets, *r.queue_seconds);
      histogram(metric::kRunQueue.name, q, options.queue_buckets, h, t);
    }
    if (r.tests_total) {
      auto count = [&](const char* outcome, std::int64_t n) {
        const Labels l = {{"source", r.source}, {"pipeline", r.pipeline}, {"outcome", outcome}};
        double& total = tests[LabelText(l)];
        total += static_cast<double>(std::max<std::int64_t>(0, n));
        w.Sample(tests_family, metric::kTestsTotal.name, l, total, t);
      };
      if (r.tests_failed && r.tests_skipped) count("passed", *r.tests_total - *r.tests_failed - *r.tests_skipped);
      if (r.tests_failed) count("failed", *r.tests_failed);
      if (r.tests_skipped) count("skipped", *r.tests_skipped);
    }

    const Labels base = {{"source", r.source}, {"pipeline", r.pipeline}};
    if (r.duration_seconds) {
      w.Sample(metric::kLastDuration.name, metric::kLastDuration.name, base, *r.duration_seconds, t);
    }
    if (r.queue_seconds) {
      w.Sample(metric::kLastQueue.name, metric::kLastQueue.name, base, *r.queue_seconds, t);
    }
    w.Sample(metric::kLastFinished.name, metric::kLastFinished.name, base, ToUnixSeconds(t), t);
    if (r.number) {
      w.Sample(metric::kLastNumber.name, metric::kLastNumber.name, base,
               static_cast<double>(*r.number), t);
    }
    if (r.tests_total) {
      auto add = [&](const char* outcome, double v) {
        Labels l = base;
        l.emplace_back("outcome", outcome);
        w.Sample(metric::kLastTests.name, metric::kLastTests.name, l, v, t);
      };
      if (r.tests_failed && r.tests_skipped) {
        add("passed", std::max(0.0, static_cast<double>(*r.tests_total - *r.tests_failed - *r.tests_skipped)));
      }
      if (r.tests_failed) add("failed", static_cast<double>(*r.tests_failed));
      if (r.tests_skipped) add("skipped", static_cast<double>(*r.tests_skipped));
    }
    for (auto res : kRunResults) {
      Labels l = base;
      l.emplace_back("result", std::string(res));
      w.Sample(metric::kLastResult.name, metric::kLastResult.name, l, *r.result == res ? 1.0 : 0.0, t);
    }
  }
  return w.Render();
}

}  // namespace cicd::exporter
