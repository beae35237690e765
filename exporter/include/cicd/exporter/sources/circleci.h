#pragma once
// CircleCI source: pipelines -> workflows -> jobs of configured projects
// through the API v2 (circleci.com or a CircleCI server).
//
// A workflow is the run. Mapping to a run record (shared/DESIGN.md):
//   pipeline     "<project slug>/<workflow name>", the slug in its short
//                form ("gh/org/repo", "bb/org/repo", "circleci/<org>/<proj>";
//                webhooks say "github/...", "bitbucket/...": normalised)
//   branch       the pipeline's vcs.branch; else vcs.tag; else the GitLab
//                integration's trigger_parameters.git.branch/gitlab.branch;
//                else "" (a tag build whose payload names no tag)
//   run_id       workflow id            number  pipeline number
//   attempt      absent: a re-run is a new workflow with its own id
//   event        the pipeline's trigger.type (webhook, schedule, api, and
//                gitlab for GitLab-integrated projects, whose
//                trigger_parameters.gitlab.type, e.g. "push", then gives the
//                trigger); trigger by TriggerFromEvent
//   status       running, failing, on_hold -> running; the rest completed
//   result       see MapWorkflowStatus
//   created_at   workflow created_at, when the jobs are known; absent
//                otherwise (see started_at)
//   started_at   the earliest started_at of the workflow's jobs; without
//                jobs the workflow's created_at (and created_at is left
//                absent so no queue time is invented)
//   finished_at  stopped_at (created_at for a workflow that never ran)
//   queue        the longest executor wait of its jobs (job details
//                started_at - queued_at), when job details were read; else
//                first job start - workflow creation; never negative
//   url          <web_url>/pipelines/<github|bitbucket|circleci>/.../<number>
//                /workflows/<id>
//   tests_*      absent: test metadata is per job and not summed here.

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cicd/core/glob.h"
#include "cicd/exporter/source.h"

namespace cicd::exporter {

// The `circleci` entry of `sources[]`. Defaults stand next to the fields.
struct CircleciSettings {
  // API v2 root. CircleCI server: "https://HOST/api/v2".
  std::string api_url = "https://circleci.com/api/v2";
  // Where run links point. CircleCI server: "https://HOST".
  std::string web_url = "https://app.circleci.com";
  // Required. A personal API token, sent as "Circle-Token: <token>"; never
  // logged.
  std::string token;
  // Required, at least one: project slugs "gh/org/repo", "bb/org/repo" or
  // "circleci/<org-id>/<project-id>" ("github/..." and "bitbucket/..." are
  // accepted and shortened). A failing project does not stop the others.
  std::vector<std::string> projects;
  // Matched against the workflow name; empty include admits every workflow.
  NameFilter workflows;
  // Pipeline pages (20 pipelines each) per project and poll; older pipelines
  // are left out.
  int max_pages = 5;
  // Read each finished workflow's jobs (one request) and their details (one
  // request per job that ran), once per workflow, for the start time and the
  // executor queue time. false: one request per pipeline only; the run then
  // starts at the workflow's creation and has no queue time.
  bool fetch_jobs = true;
  // Pipelines created longer than this before `since` are not read: a
  // workflow (or a re-run) finishing now in an older pipeline is missed.
  // Default 1 day.
  Millis created_margin{24 * 3'600'000};
};

// Reads url, web_url, token (${VAR} expanded, trimmed, registered as a
// secret), projects, workflows {include, exclude}, max_pages, fetch_jobs and
// created_margin from `yaml`, marking them read. Throws ConfigError naming
// the key.
CircleciSettings ParseCircleciSettings(YamlMap& yaml);

// The sources-table entry.
SourceFactory ParseCircleciConfig(YamlMap& yaml, SourceCommon& common);

// Pure parsers: no I/O, never throw, thread-safe.
namespace circleci {

// "github/o/r" -> "gh/o/r", "bitbucket/o/r" -> "bb/o/r"; "gh/...", "bb/..."
// and "circleci/<org>/<project>" unchanged; nullopt unless three non-empty
// parts of letters, digits, '-', '_' and '.' under a known provider.
std::optional<std::string> NormalizeSlug(std::string_view slug);

// A workflow status to run status and, when finished, the OpenTelemetry
// result: success -> success, failed -> failure, error -> error, canceled
// -> cancellation, unauthorized -> error (the run was refused, a problem of
// the CI setup, not of the code), not_run -> skip; running, failing,
// on_hold -> running. nullopt for an undocumented status.
struct StatusMapping {
  RunStatus status;
  std::optional<std::string> result;
};
std::optional<StatusMapping> MapWorkflowStatus(std::string_view status);

// What a pipeline tells its workflows.
struct Pipeline {
  std::string id;
  std::optional<std::int64_t> number;  // also read from a string ("3")
  std::optional<TimePoint> created_at;
  std::string updated_at;  // as sent, for change detection; "" when absent
  std::string event;       // trigger.type
  std::string trigger;     // set only when trigger_parameters say better
  std::string branch;
};
Result<Pipeline> PipelineFromJson(const boost::json::value& pipeline);

// GET /project/{slug}/pipeline: {items, next_page_token}.
struct PipelinesPage {
  std::vector<Pipeline> pipelines;
  std::string next_page_token;  // "" on the last page
  std::vector<std::string> errors;
};
Result<PipelinesPage> ParsePipelinesPage(std::string_view body);

// One workflow of `pipeline` in project `slug` (normalised). The record is
// normalised and valid, else the error says why.
Result<RunRecord> WorkflowFromJson(const boost::json::value& workflow, const Pipeline& pipeline,
                                   std::string_view source, std::string_view slug,
                                   std::string_view web_url);

// GET /pipeline/{id}/workflow: {items, next_page_token}.
struct WorkflowsPage {
  std::vector<RunRecord> runs;
  std::vector<std::string> names;  // parallel to runs: the workflow names
  std::string next_page_token;
  std::vector<std::string> errors;
};
Result<WorkflowsPage> ParseWorkflowsPage(std::string_view body, const Pipeline& pipeline,
                                         std::string_view source, std::string_view slug,
                                         std::string_view web_url);

// A job from GET /workflow/{id}/job (job_number) or GET
// /project/{slug}/job/{n} (number, queued_at). Unknown values are nullopt.
struct Job {
  std::string id;
  std::optional<std::int64_t> number;  // also read from a string
  std::string name;
  std::string type;  // "build", "approval"
  std::string status;
  std::optional<TimePoint> queued_at;  // job details only
  std::optional<TimePoint> started_at;
  std::optional<TimePoint> stopped_at;
};
Result<Job> JobFromJson(const boost::json::value& job);
Result<Job> ParseJobDetails(std::string_view body);

struct JobsPage {
  std::vector<Job> jobs;
  std::string next_page_token;
  std::vector<std::string> errors;
};
Result<JobsPage> ParseJobsPage(std::string_view body);

// What the jobs say about their workflow.
struct JobTimes {
  std::optional<TimePoint> first_started;  // over jobs that started
  // Longest started_at - queued_at (>= 0) over jobs that have both.
  std::optional<double> queue_seconds;
};
JobTimes SummarizeJobs(const std::vector<Job>& jobs);

// Refines a workflow's run with its jobs: created_at becomes the workflow's
// creation (`workflow_created`), started_at the first job start (never
// before the creation), queue_seconds the jobs' wait.
void ApplyJobTimes(RunRecord& run, TimePoint workflow_created, const JobTimes& times);

// A `workflow-completed` webhook delivery (the whole body) as a run: the
// same mapping, with the project slug, url and times of the delivery. The
// delivery has no jobs: the run has no queue time.
Result<RunRecord> ParseWorkflowCompletedEvent(std::string_view body, std::string_view source);

}  // namespace circleci

// Polls each project: pipelines newest first (next_page_token, up to
// max_pages, until one was created before `since` - created_margin), each
// such pipeline's workflows, and for workflows finished since `since` their
// jobs when fetch_jobs.
//
// Requests per poll: the pipeline pages, plus one per pipeline whose
// workflows may have changed (not seen, not all finished, updated_at moved,
// or last asked 15 minutes ago or more, which catches a re-run added to an
// older pipeline), plus 1 + jobs for each newly finished workflow.
//
// Not thread-safe (one poller thread owns it, as Source says).
class CircleciSource final : public Source {
 public:
  // REQUIRES: deps.clock outlives the source; deps.fetcher too, or null for
  // an owned HttplibFetcher with common.api.http.
  CircleciSource(const SourceCommon& common, CircleciSettings settings, const SourceDeps& deps);

  // A failing project adds to partial_errors; when every project fails the
  // first error is returned. A finished workflow whose jobs cannot be read
  // is returned with its workflow-level times and noted in partial_errors.
  Result<PollResult> Poll(TimePoint since) override;

 private:
  struct CachedPipeline {
    std::string updated_at;
    TimePoint asked;
    std::vector<RunRecord> runs;
    std::vector<std::string> names;
  };
  struct Workflows {
    std::vector<RunRecord> runs;
    std::vector<std::string> names;
  };

  Status PollProject(const std::string& slug, TimePoint since, PollResult& out);
  Result<std::vector<circleci::Pipeline>> ListPipelines(const std::string& slug,
                                                        TimePoint created_since);
  Result<Workflows> ListWorkflows(const std::string& slug, const circleci::Pipeline& pipeline);
  Result<circleci::JobTimes> FetchJobTimes(const std::string& slug, const RunRecord& run);

  const std::string name_;
  const CircleciSettings settings_;
  const Clock* const clock_;
  std::unique_ptr<HttpFetcher> owned_fetcher_;
  std::unique_ptr<ApiClient> api_;
  // Keyed by pipeline id; dropped when a pipeline leaves the window.
  std::map<std::string, CachedPipeline> pipelines_;
  // Keyed by workflow id; finished workflows never change.
  std::map<std::string, circleci::JobTimes> job_times_;
};

}  // namespace cicd::exporter
