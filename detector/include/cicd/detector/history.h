#pragma once
// Rebuilds per-run history from the exporter's last-run gauges.
//
// Deduplication happens in Prometheus: HistoryQuery returns, per
// (source, pipeline, branch), the gauges only at the evaluation steps where
// cicd_pipeline_last_run_finished_timestamp_seconds took a new value, so a
// run scraped 240 times (one hour at 15 s) is read once, and the data read
// grows with the number of runs, not of scrapes. Queries go through
// /api/v1/query (a subquery's points are not capped at 11,000 like
// query_range's), in time windows and pipeline batches that keep each query
// under Prometheus's --query.max-samples.
//
// RunsFromLastRunSeries is pure and also accepts raw scraped samples: a run
// is one distinct value of the finish timestamp per series; the other gauges
// of the same (source, pipeline, branch) are joined at the sample time at
// which the finish timestamp first took that value.

#include <functional>
#include <string>
#include <string_view>
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

// The label HistoryQuery adds to tell its six gauges apart ("finished",
// "duration", "queue", "number", "tests", "result").
inline constexpr const char* kFieldLabel = "cicd_field";

// Evaluates PromQL at a time (Prometheus's /api/v1/query): the seam through
// which the detector reads Prometheus.
using QueryFunc = std::function<Result<PromQueryResult>(const std::string& promql, TimePoint at)>;
// Lists the label sets of the series matching a selector that had samples in
// [start, end] (Prometheus's /api/v1/series).
using SeriesFunc = std::function<Result<std::vector<std::map<std::string, std::string>>>(
    const std::string& match, TimePoint start, TimePoint end)>;

// How the history is read (YAML prometheus.history_step, history_window,
// history_batch_pipelines).
struct HistoryReadOptions {
  // Resolution at which a new finish time is looked for. Set it to the
  // scrape interval: runs of one pipeline and branch finishing closer
  // together than this are read as one (a scrape would have missed them
  // anyway); a smaller step costs Prometheus more evaluation steps.
  Millis step{15'000};
  // Time span of one query. A query evaluates window/step steps over its
  // batch's series; that product must stay under Prometheus's
  // --query.max-samples (default 50 M): 1 d at 15 s over 50 pipelines with a
  // few branches is about 5 M.
  Millis window{24LL * 3'600'000};
  // Pipelines read per query when training (0 = all in one query).
  std::size_t batch_pipelines = 50;
};

struct LastRunSeries {
  PromQueryResult finished, duration, queue, number, tests, result;
};

// Runs in finish order. Runs whose duration or result is missing at the join
// time are dropped and counted in `incomplete`; NaN/Inf samples Prometheus
// returned are counted in `non_finite`.
struct History {
  std::vector<RunRecord> runs;
  std::size_t incomplete = 0;
  std::size_t non_finite = 0;
};
History RunsFromLastRunSeries(const LastRunSeries& series);

// The PromQL for one window: evaluated at time t it returns a matrix of the
// six gauges at each `step`-aligned time in [t - window, t] where a finish
// time changed, each series labelled kFieldLabel. `matcher` is a label
// matcher list such as `source="a",pipeline=~"x|y"` ("" = every pipeline).
// REQUIRES: window and step positive, whole milliseconds.
std::string HistoryQuery(std::string_view matcher, Millis window, Millis step);

// Sorts a HistoryQuery result into the six gauges (kFieldLabel removed),
// appending to `into`; samples at or before a series' last stored time are
// skipped, so adjacent windows read oldest first never add a point twice.
// Series without a known kFieldLabel are ignored.
void MergeHistoryResult(PromQueryResult result, LastRunSeries& into);

// Reads [at - range, at] window by window (oldest first) and rebuilds the
// runs.
Result<History> ReadHistory(const QueryFunc& query, Millis range, TimePoint at,
                            const HistoryReadOptions& options, std::string_view matcher = "");

// `source="S",pipeline=~"P1|P2|..."` with both strings escaped for PromQL and
// the pipelines for RE2: a batch of one source's pipelines.
std::string BatchMatcher(std::string_view source, const std::vector<std::string>& pipelines);

}  // namespace cicd::detector
