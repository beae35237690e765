#pragma once
// The run record of shared/DESIGN.md: what every collector normalises a CI API
// response into, and the JSON Lines interchange format (one run per line).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cicd/core/result.h"
#include "cicd/core/time.h"

namespace cicd {

enum class RunStatus { kQueued, kRunning, kCompleted };
const char* RunStatusName(RunStatus s);  // "queued", "running", "completed"

// The OpenTelemetry CI/CD result vocabulary.
inline constexpr std::string_view kRunResults[] = {
    "success", "failure", "error", "timeout", "cancellation", "skip"};
bool IsRunResult(std::string_view result);

// The bounded normalisation of a run's trigger (DESIGN.md "The run record"):
// what started the run, in a vocabulary shared by every CI system, so the
// detector can keep baselines per trigger (nightly runs are longer).
inline constexpr std::string_view kRunTriggers[] = {"push", "pull_request", "schedule", "manual",
                                                    "other"};
bool IsRunTrigger(std::string_view trigger);
// Maps a CI system's own event word to a trigger: GitHub `event`
// (push, pull_request[_target], schedule, workflow_dispatch, ...), GitLab
// `source` (push, merge_request_event, schedule, web, api, trigger,
// pipeline, ...), Buildkite `source` (webhook, schedule, ui, api,
// trigger_job), CircleCI `trigger.type` (webhook, schedule, api). A word
// that is already a trigger maps to itself; "" (unknown) maps to ""; any
// other word maps to "other".
std::string TriggerFromEvent(std::string_view event);

// One run (one attempt) of one pipeline. Unknown values are std::nullopt,
// never 0: a run without a test report has no tests_total.
struct RunRecord {
  std::string source;    // configured source name, e.g. "github"
  std::string pipeline;  // stable across runs: "owner/repo/.github/workflows/ci.yml"
  std::string branch;    // "" when unknown
  std::string run_id;    // unique within (source, pipeline, attempt)
  std::optional<std::int64_t> number;
  std::optional<std::int64_t> attempt;  // 1-based; re-runs are their own runs
  std::string event;                    // the CI system's own word: "push", "workflow_dispatch", ... or ""
  std::string trigger;                  // one of kRunTriggers, or "" when unknown
  RunStatus status = RunStatus::kCompleted;
  std::optional<std::string> result;    // one of kRunResults once completed
  std::optional<TimePoint> created_at;  // entered the queue
  std::optional<TimePoint> started_at;
  std::optional<TimePoint> finished_at;
  std::optional<double> queue_seconds;     // started_at - created_at, >= 0
  std::optional<double> duration_seconds;  // finished_at - started_at, >= 0
  std::optional<std::int64_t> tests_total;
  std::optional<std::int64_t> tests_failed;
  std::optional<std::int64_t> tests_skipped;
  std::string url;

  // Identity of this attempt: "run_id" or "run_id#attempt" when attempt > 1.
  std::string Key() const;
};

// Fills derived fields the source left out: duration from start/finish (or
// finish from start + duration), queue time from created/started clamped at
// zero (a clock skew must never give a negative queue), the trigger from the
// event (TriggerFromEvent) when the source set none.
void Normalize(RunRecord& run);

// Checks the contract of DESIGN.md: required fields present, result in the
// vocabulary, no negative or non-finite numbers.
Status Validate(const RunRecord& run);

// One JSON object on one line, fields in the order of DESIGN.md, unknown
// fields omitted.
std::string ToJsonLine(const RunRecord& run);

// Parses and validates one JSONL line (also normalises it).
Result<RunRecord> ParseRunRecord(std::string_view line);

// A JSONL document split into runs; `errors` collects "line N: message" for
// malformed lines, which are skipped.
struct ParsedRuns {
  std::vector<RunRecord> runs;
  std::vector<std::string> errors;
};
ParsedRuns ParseRunRecords(std::string_view text);

}  // namespace cicd
