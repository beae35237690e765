#pragma once
// Every metric of cicd-exporter is defined here and in metrics.cc (STYLE.md
// principle 7). Scrapes only read the RunStore; the API self-metrics live in
// a prometheus-cpp Registry fed by the ApiObserver callbacks.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "cicd/exporter/api_client.h"
#include "cicd/exporter/store.h"

namespace cicd::exporter {

// Name and help of every pipeline metric family, shared by the live
// exposition (metrics.cc) and the backfill (backfill.cc) so both write the
// same series.
struct MetricDef {
  const char* name;
  const char* help;
};
namespace metric {
inline constexpr MetricDef kRunsTotal{"cicd_pipeline_runs_total",
                                 "Finished pipeline runs, by branch and result (OpenTelemetry CI/CD vocabulary)."};
inline constexpr MetricDef kRunDuration{"cicd_pipeline_run_duration_seconds",
                                 "Duration of finished pipeline runs, from start to finish."};
inline constexpr MetricDef kRunQueue{"cicd_pipeline_run_queue_seconds",
                                 "Time finished runs waited between creation and start."};
inline constexpr MetricDef kTestsTotal{"cicd_pipeline_tests_total",
                                 "Tests of finished runs that reported tests, by outcome."};
inline constexpr MetricDef kRunsActive{"cicd_pipeline_runs_active",
                                 "Runs queued or running now."};
inline constexpr MetricDef kRunsActiveOldest{"cicd_pipeline_runs_active_oldest_timestamp_seconds",
                                 "When the oldest active run entered its state (queued: created, running: started)."};
inline constexpr MetricDef kLastDuration{"cicd_pipeline_last_run_duration_seconds",
                                 "Duration of the pipeline's most recently finished run."};
inline constexpr MetricDef kLastQueue{"cicd_pipeline_last_run_queue_seconds",
                                 "Queue time of the pipeline's most recently finished run, when known."};
inline constexpr MetricDef kLastFinished{"cicd_pipeline_last_run_finished_timestamp_seconds",
                                 "Finish time of the pipeline's most recently finished run; a change marks a new run."};
inline constexpr MetricDef kLastNumber{"cicd_pipeline_last_run_number",
                                 "Build or run number of the pipeline's most recently finished run, when the CI has one."};
inline constexpr MetricDef kLastTests{"cicd_pipeline_last_run_tests",
                                 "Tests of the most recently finished run by outcome, when it reported tests."};
inline constexpr MetricDef kLastResult{"cicd_pipeline_last_run_result",
                                 "1 for the result of the most recently finished run, 0 for the others."};
}  // namespace metric

// Thread-safe. `store` must outlive this object.
class ExporterMetrics final : public ApiObserver {
 public:
  ExporterMetrics(const RunStore* store, std::string version);

  void OnApiRequest(const std::string& source, const std::string& code) override;
  void OnRateLimitRemaining(const std::string& source, double remaining) override;

  // Writes the exposition (text format 0.0.4) to `sink` in pieces of about
  // `chunk_bytes`, family by family and a block of pipelines at a time, so
  // neither the whole body nor all series as objects exist at once. Works on
  // a copy of the store taken under its lock: a slow scraper never blocks
  // the pollers.
  void Stream(std::size_t chunk_bytes, const std::function<void(std::string_view)>& sink) const;
  // The whole exposition as one string (tests, small outputs).
  std::string Render() const;

 private:
  const RunStore* store_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* api_requests_;
  prometheus::Family<prometheus::Gauge>* rate_limit_remaining_;
};

}  // namespace cicd::exporter
