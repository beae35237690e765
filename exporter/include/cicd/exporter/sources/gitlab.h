#pragma once
// GitLab CI source: pipelines of configured projects (or of projects found in
// groups) through the REST API v4, on gitlab.com or a self-managed instance.
//
// Mapping of a pipeline to a run record (shared/DESIGN.md):
//   pipeline     "group/project" (path_with_namespace, subgroups included)
//   branch       ref; tags and merge-request refs are refs like any other
//                and fold into branch="other" unless branches.keep has them
//   run_id       id (as text)           number  iid (the project's counter)
//   attempt      absent: GitLab retries jobs inside the same pipeline
//   event        source (push, merge_request_event, schedule, web, api,
//                trigger, pipeline, parent_pipeline, ...); trigger by
//                TriggerFromEvent
//   url          web_url
//   status       see MapStatus          result  see MapResult, refined by
//                                                the jobs' failure_reason
//   created_at   created_at
//   started_at   started_at of the pipeline's details; else (webhooks)
//                finished_at - duration; a pipeline that never started
//                (canceled while pending, skipped) starts when it finished,
//                so its wait is queue time and its duration 0
//   finished_at  finished_at of the details, else updated_at (GitLab leaves
//                it empty for skipped and manual pipelines)
//   duration     the details' `duration` (GitLab's running time, which
//                leaves out waits for manual jobs), else finished - started
//   queue        the details' `queued_duration`, else the earliest start of
//                the pipeline's jobs minus created_at, else started_at -
//                created_at; never negative
//   tests_*      the test report summary: total.count, failed + error,
//                skipped; absent when the pipeline has no test suites
//
// Child pipelines (source parent_pipeline) and multi-project downstream
// pipelines (source pipeline) are listed by their own project and counted
// there, once. A parent's bridge jobs (which wait for the downstream) are not
// jobs of the parent: they are never fetched, and SummarizeJobs skips them.

#include <boost/json/fwd.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cicd/core/glob.h"
#include "cicd/exporter/source.h"

namespace cicd::exporter {

// One entry of `groups`: its projects are discovered and polled.
struct GitlabGroup {
  std::string path;  // "my-group" or "my-group/subgroup"; URL-encoded in requests
  bool include_subgroups = true;
  // Globs on the project path "group/sub/project"; empty include = all.
  NameFilter projects;
  // Archived projects run no pipelines; they are left out unless true.
  bool include_archived = false;
};

// The `gitlab` entry of `sources[]`. Defaults stand next to the fields.
struct GitlabSettings {
  // The instance, with its base path when it has one
  // ("https://example.com/gitlab"); the API is <url>/api/v4. A url that
  // already ends in /api/v4 is accepted.
  std::string url = "https://gitlab.com";
  // Sent as "PRIVATE-TOKEN: <token>" (scope read_api); never logged. ""
  // polls without authentication (public projects only).
  std::string token;
  // "group/project" paths. A failing project does not stop the others.
  std::vector<std::string> projects;
  // Groups whose projects are polled too; at least one of projects and
  // groups is required.
  std::vector<GitlabGroup> groups;
  // How often the groups' project lists are read again. Default 30 min.
  Millis discovery_interval{30 * 60'000};
  int per_page = 100;  // items per page (GitLab's maximum is 100)
  int max_pages = 10;  // pages per listing and poll; older pipelines are left out
  // Fetch each finished pipeline's jobs (one request per pipeline, cached):
  // queue time when the details lack it, timeout and system failures told
  // apart from failing scripts. false saves those requests.
  bool fetch_jobs = true;
  // Fetch each finished pipeline's test report summary (one request,
  // cached) for the test counts. false leaves tests_* absent.
  bool fetch_test_reports = true;
};

// Reads url, token (${VAR} expanded, surrounding whitespace trimmed),
// projects, groups [{path, include_subgroups, include, exclude,
// include_archived}], discovery_interval, per_page, max_pages, fetch_jobs and
// fetch_test_reports from `yaml`, marking them read (`yaml` itself is not
// Finish()ed: the caller does). Throws ConfigError naming the key. Registers
// the token with Logging::AddSecret.
GitlabSettings ParseGitlabSettings(YamlMap& yaml);

// The sources-table entry: ParseGitlabSettings, then a factory of
// GitlabSource bound to the settings.
SourceFactory ParseGitlabConfig(YamlMap& yaml, SourceCommon& common);

// Pure parsers: bytes or JSON values in, values out; no I/O, never throw,
// thread-safe.
namespace gitlab {

// A pipeline or job status to the run record's: created,
// waiting_for_resource, preparing, pending, scheduled -> queued; running,
// canceling -> running; success, failed, canceled, skipped, manual ->
// completed; nullopt for any other value.
std::optional<RunStatus> MapStatus(std::string_view status);

// A completed status to the OpenTelemetry result vocabulary: success ->
// success, failed -> failure, canceled -> cancellation, skipped -> skip,
// manual -> skip (the pipeline stopped at a manual job nobody played: its
// later stages did not run); nullopt for statuses that are not completed.
std::optional<std::string> MapResult(std::string_view status);

// True for "group/project" or "group/sub/project" with GitLab's path
// characters (letters, digits, '_', '-', '.'), no empty, "." or ".." part.
bool IsProjectPath(std::string_view path, bool allow_single = false);

// GitLab's times: RFC 3339 ("2022-09-21T01:05:07.200Z", "+01:00" offsets) in
// the REST API, "2016-08-12 15:23:28 UTC" in webhooks.
Result<TimePoint> ParseTime(std::string_view text);

// The page after this one, from X-Next-Page (offset pagination) or else the
// page= of the Link header's rel="next"; nullopt when there is none (last
// page, or keyset pagination whose link carries a cursor instead).
std::optional<int> NextPage(std::string_view x_next_page, std::string_view link_header);

// A pipeline as GitLab describes it: the run record so far and the time it
// last changed.
struct Pipeline {
  RunRecord run;
  std::optional<TimePoint> updated_at;
  // The details' own `duration` / `queued_duration` were present. List
  // items have neither.
  bool has_duration = false;
  bool has_queued_duration = false;
};

// One pipeline object: a list item (GET /projects/:id/pipelines), the
// details (GET /projects/:id/pipelines/:pid) or a pipeline webhook's
// object_attributes. `project` ("group/project") names the pipeline. The
// record is normalised; it is validated (cicd::Validate) only when `validate`,
// because a running list item lacks started_at until its details are read.
Result<Pipeline> PipelineFromJson(const boost::json::value& pipeline, std::string_view source,
                                  std::string_view project, bool validate = true);
Result<Pipeline> ParsePipeline(std::string_view body, std::string_view source,
                               std::string_view project);

// A page of GET /projects/:id/pipelines: a JSON array. Malformed JSON or a
// wrong shape is an error; a malformed item is skipped and described in
// `errors` ("[3]: ..."). Items are not validated (see PipelineFromJson).
struct PipelinesPage {
  std::vector<Pipeline> pipelines;
  std::vector<std::string> errors;
};
Result<PipelinesPage> ParsePipelinesPage(std::string_view body, std::string_view source,
                                         std::string_view project);

// A pipeline webhook delivery (object_kind "pipeline"): object_attributes
// with project.path_with_namespace. Validated.
Result<RunRecord> ParsePipelineEvent(std::string_view body, std::string_view source);

// One job of a pipeline (GET .../pipelines/:pid/jobs) or bridge
// (GET .../pipelines/:pid/bridges). Unknown values are nullopt.
struct Job {
  std::int64_t id = 0;
  std::string name;
  std::string stage;
  std::string status;                         // GitLab's, e.g. "failed"
  std::optional<std::string> failure_reason;  // e.g. "script_failure"
  bool allow_failure = false;
  std::optional<TimePoint> created_at;
  std::optional<TimePoint> started_at;
  std::optional<TimePoint> finished_at;
  std::optional<double> duration_seconds;  // GitLab's, float seconds
  std::optional<double> queue_seconds;     // GitLab's queued_duration
  // Set for bridges: the pipeline they triggered.
  std::optional<std::int64_t> downstream_pipeline_id;
};
Result<Job> JobFromJson(const boost::json::value& job);

// A page of jobs or bridges: a JSON array. Errors as in PipelinesPage.
struct JobsPage {
  std::vector<Job> jobs;
  std::vector<std::string> errors;
};
Result<JobsPage> ParseJobsPage(std::string_view body);

// What the jobs of a pipeline say about its run. Bridges are left out.
struct JobsSummary {
  // Earliest start of a job that ran (skipped and manual jobs never did).
  std::optional<TimePoint> first_started;
  // For a failed pipeline: "timeout" when its failed jobs (those not
  // allowed to fail) all failed by a timeout (job_execution_timeout,
  // stuck_or_timeout_failure), "error" when they all failed by a fault of
  // GitLab or its runners (runner_system_failure, api_failure, ...), else
  // "failure"; nullopt when no failed job says.
  std::optional<std::string> failed_result;
};
JobsSummary SummarizeJobs(const std::vector<Job>& jobs);

// Refines a run with its jobs: queue time from first_started when GitLab
// gave no queued_duration (`keep_queue` false), and the result of a failed
// run from failed_result.
void ApplyJobs(RunRecord& run, const JobsSummary& summary, bool keep_queue);

// Test counts of GET .../pipelines/:pid/test_report_summary ({total:{count,
// failed, error, skipped}}) or of the full test_report ({total_count,
// failed_count, error_count, skipped_count}). nullopt counts when the
// pipeline has no test suites (nothing was reported, which is not zero
// tests). Malformed JSON or a wrong shape is an error.
struct TestCounts {
  std::optional<std::int64_t> total, failed, skipped;
};
Result<TestCounts> ParseTestReport(std::string_view body);

// A project of GET /groups/:id/projects.
struct Project {
  std::int64_t id = 0;
  std::string path_with_namespace;
  bool archived = false;
};
Result<std::vector<Project>> ParseProjectsPage(std::string_view body);

}  // namespace gitlab

// Polls each project: lists pipelines updated since `since` (rounded down to
// the hour, so repeated polls ask the same URL and GitLab can answer a
// conditional request with 304), follows X-Next-Page / Link pagination up to
// max_pages, and reads the details of every pipeline that is not queued, and
// the jobs and test report summary of finished ones.
//
// Not thread-safe (one poller thread owns it, as Source says). What was read
// about a pipeline is cached until its updated_at changes or it leaves the
// listing; the groups' projects until discovery_interval has passed.
class GitlabSource final : public Source {
 public:
  // REQUIRES: deps.clock outlives the source; deps.fetcher too, or null for
  // an owned HttplibFetcher with common.api.http.
  GitlabSource(const SourceCommon& common, GitlabSettings settings, const SourceDeps& deps);

  // Finished runs: completed pipelines updated at or after `since`. Active
  // runs: the queued and running rest of the listing. A failing project
  // adds to partial_errors; when every project fails the first error is
  // returned. A finished pipeline whose details cannot be read is left for
  // the next poll; one whose jobs or test report cannot be read is returned
  // without what they would add. Both are noted in partial_errors.
  Result<PollResult> Poll(TimePoint since) override;

 private:
  struct Cached {
    std::string updated_key;  // updated_at of the pipeline when it was read
    RunRecord run;
  };
  // Why this poll stopped asking for details, jobs or reports (rate limited
  // or refused), and how many pipelines went without.
  struct Enrichment;

  Status Discover(std::vector<std::string>& projects, PollResult& out);
  Result<std::vector<std::string>> ListGroupProjects(const GitlabGroup& group);
  Result<std::vector<gitlab::Pipeline>> ListPipelines(const std::string& project,
                                                      TimePoint updated_after);
  Result<RunRecord> ReadPipeline(const std::string& project, const gitlab::Pipeline& listed,
                                 Enrichment& enrichment);
  Status PollProject(const std::string& project, TimePoint since, PollResult& out);
  // GETs `first` and the pages after it (up to `max_pages`; `truncated`
  // says whether more were left), handing each body to `page`; stops at the
  // first error.
  Status GetPages(const std::string& first, int max_pages,
                  const std::function<Status(const std::string& body)>& page,
                  bool* truncated = nullptr);
  std::string ProjectUrl(const std::string& project) const;

  const std::string name_;
  const GitlabSettings settings_;
  const Clock* const clock_;
  std::unique_ptr<HttpFetcher> owned_fetcher_;
  std::unique_ptr<ApiClient> api_;
  std::string api_root_;    // <url>/api/v4
  std::string api_origin_;  // scheme://host[:port] of api_root_
  // Key: "group/project#" + pipeline id.
  std::map<std::string, Cached> cache_;
  std::vector<std::string> discovered_;  // projects of `groups`, sorted
  std::optional<TimePoint> discovered_at_;
  std::set<std::string> truncation_warned_;  // projects warned about max_pages
};

}  // namespace cicd::exporter
