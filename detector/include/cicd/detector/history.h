#pragma once
// Rebuilds per-run history from the exporter's last-run gauges as Prometheus
// returns them for range selectors (`cicd_pipeline_last_run_*[30d]` through
// /api/v1/query: raw samples, no 11,000-point step limit).
//
// Deduplication: a run is one distinct value of
// cicd_pipeline_last_run_finished_timestamp_seconds per (source, pipeline);
// scraping the same run many times, or backfilled plus scraped samples of the
// same run, yield one run. The other gauges are joined at the sample time at
// which the finish timestamp first took that value. Pure.

#include <string>
#include <vector>

#include "cicd/core/run_record.h"
#include "cicd/detector/prometheus_client.h"

namespace cicd::detector {

// The metric names the history is read from (the exporter's contract).
inline constexpr const char* kLastFinished = "cicd_pipeline_last_run_finished_timestamp_seconds";
inline constexpr const char* kLastDuration = "cicd_pipeline_last_run_duration_seconds";
inline constexpr const char* kLastQueue = "cicd_pipeline_last_run_queue_seconds";
inline constexpr const char* kLastNumber = "cicd_pipeline_last_run_number";
inline constexpr const char* kLastTests = "cicd_pipeline_last_run_tests";
inline constexpr const char* kLastResult = "cicd_pipeline_last_run_result";

struct LastRunSeries {
  PromQueryResult finished, duration, queue, number, tests, result;
};

// Runs in finish order. Runs whose duration or result is missing at the join
// time are dropped and counted in `incomplete`.
struct History {
  std::vector<RunRecord> runs;
  std::size_t incomplete = 0;
};
History RunsFromLastRunSeries(const LastRunSeries& series);

// Fetches the six range selectors over `range` (e.g. 30d) ending at `at`,
// optionally restricted by a label matcher string such as
// `pipeline="a/b"` (empty = all), and rebuilds the runs.
Result<History> FetchHistory(PrometheusClient& client, Millis range, TimePoint at,
                             const std::string& matcher = "");

}  // namespace cicd::detector
