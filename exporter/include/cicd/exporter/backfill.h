#pragma once
// Offline output of finished runs: JSON Lines (the run record) and OpenMetrics
// text for `promtool tsdb create-blocks-from openmetrics`, so Prometheus has
// history from day one. Pure functions: runs in, text out.

#include <string>
#include <vector>

#include "cicd/core/run_record.h"
#include "cicd/exporter/store.h"

namespace cicd::exporter {

// One JSON line per run, sorted by finish time.
std::string RenderJsonl(std::vector<RunRecord> runs);

// OpenMetrics for promtool: per finished run, samples at its finish time of
//   cicd_pipeline_last_run_{duration_seconds,queue_seconds,finished_timestamp_seconds,number,tests,result}
// (the same series the live exporter serves, so the detector reads one
// history), and the cumulative cicd_pipeline_runs_total and
// cicd_pipeline_run_duration_seconds histogram as they stood after each run.
// Families are contiguous, series in time order, timestamps in seconds,
// "# EOF" last. Runs without a finish time are skipped.
std::string RenderOpenMetricsBackfill(std::vector<RunRecord> runs, const StoreOptions& options);

// Formats a sample value or `le` bound the way the live exposition does, so
// backfilled and scraped series carry identical labels.
std::string FormatMetricValue(double v);

}  // namespace cicd::exporter
