#include "cicd/exporter/metrics.h"

#include <prometheus/text_serializer.h>

#include <sstream>

#include "cicd/core/run_record.h"

namespace cicd::exporter {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Family(const char* name, const char* help, MetricType type) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  return f;
}

ClientMetric& Add(MetricFamily& f, std::vector<ClientMetric::Label> labels) {
  f.metric.emplace_back();
  f.metric.back().label = std::move(labels);
  return f.metric.back();
}

void AddGauge(MetricFamily& f, std::vector<ClientMetric::Label> labels, double v) {
  Add(f, std::move(labels)).gauge.value = v;
}

void AddCounter(MetricFamily& f, std::vector<ClientMetric::Label> labels, double v) {
  Add(f, std::move(labels)).counter.value = v;
}

void AddHistogram(MetricFamily& f, std::vector<ClientMetric::Label> labels,
                  const std::vector<double>& bounds, const Histogram& h) {
  ClientMetric& m = Add(f, std::move(labels));
  m.histogram.sample_count = h.count;
  m.histogram.sample_sum = h.sum;
  m.histogram.bucket.reserve(bounds.size() + 1);
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= bounds.size(); ++i) {
    cumulative += i < h.bucket_counts.size() ? h.bucket_counts[i] : 0;
    m.histogram.bucket.push_back(
        {cumulative, i < bounds.size() ? bounds[i] : std::numeric_limits<double>::infinity()});
  }
}

void CollectPipelines(const std::map<std::string, PipelineState>& pipelines,
                      const StoreOptions& opt, std::vector<MetricFamily>& out) {
  auto runs = Family("cicd_pipeline_runs_total",
                     "Finished pipeline runs, by branch and result (OpenTelemetry CI/CD vocabulary).",
                     MetricType::Counter);
  auto duration = Family("cicd_pipeline_run_duration_seconds",
                         "Duration of finished pipeline runs, from start to finish.",
                         MetricType::Histogram);
  auto queue = Family("cicd_pipeline_run_queue_seconds",
                      "Time finished runs waited between creation and start.", MetricType::Histogram);
  auto tests = Family("cicd_pipeline_tests_total",
                      "Tests of finished runs that reported tests, by outcome.", MetricType::Counter);
  auto active = Family("cicd_pipeline_runs_active", "Runs queued or running now.", MetricType::Gauge);
  auto oldest = Family("cicd_pipeline_runs_active_oldest_timestamp_seconds",
                       "When the oldest active run entered its state (queued: created, running: started).",
                       MetricType::Gauge);
  auto last_duration = Family("cicd_pipeline_last_run_duration_seconds",
                              "Duration of the pipeline's most recently finished run.",
                              MetricType::Gauge);
  auto last_queue = Family("cicd_pipeline_last_run_queue_seconds",
                           "Queue time of the pipeline's most recently finished run, when known.",
                           MetricType::Gauge);
  auto last_finished = Family("cicd_pipeline_last_run_finished_timestamp_seconds",
                              "Finish time of the pipeline's most recently finished run; a change marks a new run.",
                              MetricType::Gauge);
  auto last_number = Family("cicd_pipeline_last_run_number",
                            "Build or run number of the pipeline's most recently finished run, when the CI has one.",
                            MetricType::Gauge);
  auto last_tests = Family("cicd_pipeline_last_run_tests",
                           "Tests of the most recently finished run by outcome, when it reported tests.",
                           MetricType::Gauge);
  auto last_result = Family("cicd_pipeline_last_run_result",
                            "1 for the result of the most recently finished run, 0 for the others.",
                            MetricType::Gauge);
  for (const auto& [key, p] : pipelines) {
    (void)key;
    for (const auto& [br, agg] : p.by_branch_result) {
      std::vector<ClientMetric::Label> labels = {
          {"source", p.source}, {"pipeline", p.pipeline}, {"branch", br.first}, {"result", br.second}};
      AddCounter(runs, labels, static_cast<double>(agg.runs));
      AddHistogram(duration, std::move(labels), opt.duration_buckets, agg.duration);
    }
    for (const auto& [branch, h] : p.queue_by_branch) {
      AddHistogram(queue, {{"source", p.source}, {"pipeline", p.pipeline}, {"branch", branch}},
                   opt.queue_buckets, h);
    }
    if (p.has_tests) {
      for (auto [outcome, v] : {std::pair{"passed", p.tests_passed}, std::pair{"failed", p.tests_failed},
                                std::pair{"skipped", p.tests_skipped}}) {
        AddCounter(tests, {{"source", p.source}, {"pipeline", p.pipeline}, {"outcome", outcome}},
                   static_cast<double>(v));
      }
    }
    for (auto [state, st] : {std::pair{"queued", &p.queued}, std::pair{"running", &p.running}}) {
      AddGauge(active, {{"source", p.source}, {"pipeline", p.pipeline}, {"state", state}},
               static_cast<double>(st->count));
      if (st->count > 0 && st->oldest) {
        AddGauge(oldest, {{"source", p.source}, {"pipeline", p.pipeline}, {"state", state}},
                 ToUnixSeconds(*st->oldest));
      }
    }
    if (!p.last_run) continue;
    const LastRun& l = *p.last_run;
    const std::vector<ClientMetric::Label> base = {{"source", p.source}, {"pipeline", p.pipeline}};
    AddGauge(last_duration, base, l.duration_seconds);
    if (l.queue_seconds) AddGauge(last_queue, base, *l.queue_seconds);
    AddGauge(last_finished, base, ToUnixSeconds(l.finished_at));
    if (l.number) AddGauge(last_number, base, static_cast<double>(*l.number));
    if (l.tests_total) {
      const double failed = static_cast<double>(l.tests_failed.value_or(0));
      const double skipped = static_cast<double>(l.tests_skipped.value_or(0));
      const double passed = std::max(0.0, static_cast<double>(*l.tests_total) - failed - skipped);
      for (auto [outcome, v] : {std::pair{"passed", passed}, std::pair{"failed", failed},
                                std::pair{"skipped", skipped}}) {
        auto labels = base;
        labels.push_back({"outcome", outcome});
        AddGauge(last_tests, std::move(labels), v);
      }
    }
    for (auto r : kRunResults) {
      auto labels = base;
      labels.push_back({"result", std::string(r)});
      AddGauge(last_result, std::move(labels), l.result == r ? 1.0 : 0.0);
    }
  }
  for (auto* f : {&runs, &duration, &queue, &tests, &active, &oldest, &last_duration, &last_queue,
                  &last_finished, &last_number, &last_tests, &last_result}) {
    out.push_back(std::move(*f));
  }
}

void CollectSources(const std::map<std::string, SourceHealth>& sources,
                    std::vector<MetricFamily>& out) {
  auto up = Family("cicd_exporter_source_up",
                   "1 when the last poll of the source fully succeeded, 0 otherwise.", MetricType::Gauge);
  auto last_success = Family("cicd_exporter_source_last_success_timestamp_seconds",
                             "When the source was last polled successfully.", MetricType::Gauge);
  auto poll = Family("cicd_exporter_poll_duration_seconds",
                     "Duration of the source's last poll, retries and waits included.", MetricType::Gauge);
  auto failures = Family("cicd_exporter_poll_failures_total",
                         "Polls that failed in whole or in part.", MetricType::Counter);
  auto counted = Family("cicd_exporter_runs_counted_total",
                        "Finished runs counted into the pipeline metrics since start.", MetricType::Counter);
  auto invalid = Family("cicd_exporter_runs_invalid_total",
                        "Runs a source returned that broke the run record contract and were skipped.",
                        MetricType::Counter);
  for (const auto& [name, h] : sources) {
    const std::vector<ClientMetric::Label> l = {{"source", name}};
    AddGauge(up, l, h.up ? 1 : 0);
    if (h.last_success) AddGauge(last_success, l, ToUnixSeconds(*h.last_success));
    if (h.polled) AddGauge(poll, l, h.last_poll_seconds);
    AddCounter(failures, l, static_cast<double>(h.polls_failed));
    AddCounter(counted, l, static_cast<double>(h.runs_counted));
    AddCounter(invalid, l, static_cast<double>(h.runs_invalid));
  }
  for (auto* f : {&up, &last_success, &poll, &failures, &counted, &invalid}) out.push_back(std::move(*f));
}

}  // namespace

ExporterMetrics::ExporterMetrics(const RunStore* store, std::string version)
    : store_(store), registry_(std::make_shared<prometheus::Registry>()) {
  api_requests_ = &prometheus::BuildCounter()
                       .Name("cicd_exporter_api_requests_total")
                       .Help("Requests to CI APIs by HTTP status code (timeout/error for transport failures).")
                       .Register(*registry_);
  rate_limit_remaining_ = &prometheus::BuildGauge()
                               .Name("cicd_exporter_api_rate_limit_remaining")
                               .Help("Requests left in the CI API's rate-limit window, as it last reported.")
                               .Register(*registry_);
  prometheus::BuildGauge()
      .Name("cicd_exporter_build_info")
      .Help("Build information of cicd-exporter; always 1.")
      .Register(*registry_)
      .Add({{"version", std::move(version)}})
      .Set(1);
}

void ExporterMetrics::OnApiRequest(const std::string& source, const std::string& code) {
  api_requests_->Add({{"source", source}, {"code", code}}).Increment();
}

void ExporterMetrics::OnRateLimitRemaining(const std::string& source, double remaining) {
  rate_limit_remaining_->Add({{"source", source}}).Set(remaining);
}

std::vector<prometheus::MetricFamily> ExporterMetrics::Collect() const {
  std::vector<MetricFamily> out;
  store_->Read([&](const std::map<std::string, PipelineState>& pipelines,
                   const std::map<std::string, SourceHealth>& sources) {
    CollectPipelines(pipelines, store_->options(), out);
    CollectSources(sources, out);
  });
  for (auto& f : registry_->Collect()) out.push_back(std::move(f));
  return out;
}

std::string RenderText(const std::vector<prometheus::MetricFamily>& families) {
  std::ostringstream ss;
  prometheus::TextSerializer().Serialize(ss, families);
  return ss.str();
}

std::string ExporterMetrics::Render() const { return RenderText(Collect()); }

}  // namespace cicd::exporter
