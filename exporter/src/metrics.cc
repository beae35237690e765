#include "cicd/exporter/metrics.h"

#include <algorithm>
#include <limits>
#include <optional>

#include "cicd/core/run_record.h"
#include "cicd/exporter/text_format.h"

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

using AddSeries = void (*)(MetricFamily&, const PipelineState&, const StoreOptions&);

struct PipelineFamily {
  MetricDef def;
  MetricType type;
  AddSeries add;
};

void AddRuns(MetricFamily& f, const PipelineState& p, const StoreOptions&) {
  for (const auto& [br, agg] : p.by_branch_result) {
    Add(f, {{"source", p.source}, {"pipeline", p.pipeline}, {"branch", br.first}, {"result", br.second}})
        .counter.value = static_cast<double>(agg.runs);
  }
}

void AddDuration(MetricFamily& f, const PipelineState& p, const StoreOptions& opt) {
  for (const auto& [br, agg] : p.by_branch_result) {
    AddHistogram(f, {{"source", p.source}, {"pipeline", p.pipeline}, {"branch", br.first}, {"result", br.second}},
                 opt.duration_buckets, agg.duration);
  }
}

void AddQueue(MetricFamily& f, const PipelineState& p, const StoreOptions& opt) {
  for (const auto& [branch, h] : p.queue_by_branch) {
    AddHistogram(f, {{"source", p.source}, {"pipeline", p.pipeline}, {"branch", branch}},
                 opt.queue_buckets, h);
  }
}

void AddTests(MetricFamily& f, const PipelineState& p, const StoreOptions&) {
  if (!p.has_tests) return;
  for (auto [outcome, v] : {std::pair{"passed", p.tests_passed}, std::pair{"failed", p.tests_failed},
                            std::pair{"skipped", p.tests_skipped}}) {
    Add(f, {{"source", p.source}, {"pipeline", p.pipeline}, {"outcome", outcome}}).counter.value =
        static_cast<double>(v);
  }
}

void AddActive(MetricFamily& f, const PipelineState& p, const StoreOptions&) {
  for (auto [state, st] : {std::pair{"queued", &p.queued}, std::pair{"running", &p.running}}) {
    Add(f, {{"source", p.source}, {"pipeline", p.pipeline}, {"state", state}}).gauge.value =
        static_cast<double>(st->count);
  }
}

void AddOldest(MetricFamily& f, const PipelineState& p, const StoreOptions&) {
  for (auto [state, st] : {std::pair{"queued", &p.queued}, std::pair{"running", &p.running}}) {
    if (st->count > 0 && st->oldest) {
      Add(f, {{"source", p.source}, {"pipeline", p.pipeline}, {"state", state}}).gauge.value =
          ToUnixSeconds(*st->oldest);
    }
  }
}

void AddLastGauge(MetricFamily& f, const PipelineState& p, std::optional<double> v) {
  if (v) Add(f, {{"source", p.source}, {"pipeline", p.pipeline}}).gauge.value = *v;
}

void AddLastDuration(MetricFamily& f, const PipelineState& p, const StoreOptions&) {
  if (p.last_run) AddLastGauge(f, p, p.last_run->duration_seconds);
}

void AddLastQueue(MetricFamily& f, const PipelineState& p, const StoreOptions&) {
  if (p.last_run) AddLastGauge(f, p, p.last_run->queue_seconds);
}

void AddLastFinished(MetricFamily& f, const PipelineState& p, const StoreOptions&) {
  if (p.last_run) AddLastGauge(f, p, ToUnixSeconds(p.last_run->finished_at));
}

void AddLastNumber(MetricFamily& f, const PipelineState& p, const StoreOptions&) {
  if (p.last_run && p.last_run->number) {
    AddLastGauge(f, p, static_cast<double>(*p.last_run->number));
  }
}

void AddLastTests(MetricFamily& f, const PipelineState& p, const StoreOptions&) {
  if (!p.last_run || !p.last_run->tests_total) return;
  const LastRun& l = *p.last_run;
  auto add = [&](const char* outcome, double v) {
    Add(f, {{"source", p.source}, {"pipeline", p.pipeline}, {"outcome", outcome}}).gauge.value = v;
  };
  // An outcome the source did not report is absent, not zero.
  if (l.tests_failed && l.tests_skipped) {
    add("passed", std::max(0.0, static_cast<double>(*l.tests_total - *l.tests_failed - *l.tests_skipped)));
  }
  if (l.tests_failed) add("failed", static_cast<double>(*l.tests_failed));
  if (l.tests_skipped) add("skipped", static_cast<double>(*l.tests_skipped));
}

void AddLastResult(MetricFamily& f, const PipelineState& p, const StoreOptions&) {
  if (!p.last_run) return;
  for (auto r : kRunResults) {
    Add(f, {{"source", p.source}, {"pipeline", p.pipeline}, {"result", std::string(r)}}).gauge.value =
        p.last_run->result == r ? 1.0 : 0.0;
  }
}

// The table of pipeline families, in exposition order.
const PipelineFamily kPipelineFamilies[] = {
    {metric::kRunsTotal, MetricType::Counter, AddRuns},
    {metric::kRunDuration, MetricType::Histogram, AddDuration},
    {metric::kRunQueue, MetricType::Histogram, AddQueue},
    {metric::kTestsTotal, MetricType::Counter, AddTests},
    {metric::kRunsActive, MetricType::Gauge, AddActive},
    {metric::kRunsActiveOldest, MetricType::Gauge, AddOldest},
    {metric::kLastDuration, MetricType::Gauge, AddLastDuration},
    {metric::kLastQueue, MetricType::Gauge, AddLastQueue},
    {metric::kLastFinished, MetricType::Gauge, AddLastFinished},
    {metric::kLastNumber, MetricType::Gauge, AddLastNumber},
    {metric::kLastTests, MetricType::Gauge, AddLastTests},
    {metric::kLastResult, MetricType::Gauge, AddLastResult},
};

// Serialized every this many pipelines, so at most one block of series
// exists as ClientMetric objects.
constexpr std::size_t kPipelinesPerBlock = 64;

// Called after each block with the text so far; may hand it on and clear it.
using Flush = std::function<void(std::string& out)>;

void AppendPipelineFamily(const PipelineFamily& spec,
                          const std::map<std::string, PipelineState>& pipelines,
                          const StoreOptions& opt, std::string& out, const Flush& flush) {
  MetricFamily f = Family(spec.def.name, spec.def.help, spec.type);
  AppendFamilyHeader(f, out);
  std::size_t in_block = 0;
  for (const auto& [key, p] : pipelines) {
    (void)key;
    spec.add(f, p, opt);
    if (++in_block == kPipelinesPerBlock) {
      AppendFamilyMetrics(f, out);
      if (flush) flush(out);
      f.metric.clear();
      in_block = 0;
    }
  }
  AppendFamilyMetrics(f, out);
}

void AppendSourceFamilies(const std::map<std::string, SourceHealth>& sources, std::string& out) {
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
    if (h.polled) Add(up, l).gauge.value = h.up ? 1 : 0;  // unknown before the first poll
    if (h.last_success) Add(last_success, l).gauge.value = ToUnixSeconds(*h.last_success);
    if (h.polled) Add(poll, l).gauge.value = h.last_poll_seconds;
    Add(failures, l).counter.value = static_cast<double>(h.polls_failed);
    Add(counted, l).counter.value = static_cast<double>(h.runs_counted);
    Add(invalid, l).counter.value = static_cast<double>(h.runs_invalid);
  }
  for (const auto* f : {&up, &last_success, &poll, &failures, &counted, &invalid}) {
    AppendFamilyHeader(*f, out);
    AppendFamilyMetrics(*f, out);
  }
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

void ExporterMetrics::Stream(std::size_t chunk_bytes,
                             const std::function<void(std::string_view)>& sink) const {
  std::map<std::string, PipelineState> pipelines;
  std::map<std::string, SourceHealth> sources;
  store_->Read([&](const std::map<std::string, PipelineState>& p,
                   const std::map<std::string, SourceHealth>& s) {
    pipelines = p;
    sources = s;
  });
  std::string out;
  out.reserve(2 * chunk_bytes);
  const Flush flush = [&](std::string& text) {
    if (text.size() < chunk_bytes) return;
    sink(text);
    text.clear();
  };
  for (const auto& spec : kPipelineFamilies) {
    AppendPipelineFamily(spec, pipelines, store_->options(), out, flush);
  }
  AppendSourceFamilies(sources, out);
  for (const auto& f : registry_->Collect()) {
    AppendFamilyHeader(f, out);
    AppendFamilyMetrics(f, out);
  }
  if (!out.empty()) sink(out);
}

std::string ExporterMetrics::Render() const {
  std::string out;
  Stream(1 << 20, [&](std::string_view chunk) { out.append(chunk); });
  return out;
}

}  // namespace cicd::exporter
