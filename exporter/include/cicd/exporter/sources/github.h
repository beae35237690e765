#pragma once
// GitHub Actions source: workflow runs of configured repositories through the
// REST API (github.com or GitHub Enterprise Server), refined by their jobs.
//
// Mapping of a workflow run to a run record (shared/DESIGN.md):
//   pipeline     "owner/repo/" + workflow path without its "@ref" suffix
//   branch       head_branch            run_id  id (as text)
//   number       run_number             attempt run_attempt
//   event        event                  url     html_url
//   status       queued/waiting/requested/pending -> queued,
//                in_progress -> running, completed -> completed
//   result       see MapConclusion
//   created_at   created_at; for a re-run (run_attempt > 1) run_started_at,
//                because GitHub keeps created_at of the first attempt
//   started_at   run_started_at (created_at when absent, as in old payloads)
//   finished_at  completed runs only. When jobs are fetched (fetch_jobs, the
//                default) the latest completed_at of the attempt's jobs.
//                Otherwise, since GitHub has no run completion time,
//                updated_at: when the run last changed (its completion,
//                unless something touched it later, e.g. a re-run request).
//   queue        earliest started_at of the attempt's jobs that ran minus
//                created_at when jobs are fetched, else started_at -
//                created_at; never negative
//   tests_*      absent: GitHub Actions reports no test counts.

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
#include "cicd/exporter/sources/github_app.h"

namespace cicd::exporter {

// An organisation or user whose repositories are discovered and polled.
struct GithubOwner {
  std::string name;  // the login, e.g. "octo-org"
  // GET /users/{name}/repos (repositories the user owns) rather than
  // GET /orgs/{name}/repos.
  bool user = false;
  // Matched against the repository name without the owner ("app", not
  // "octo-org/app"); empty include admits all.
  NameFilter repositories;
  bool archived = false;  // also poll archived repositories (default: left out)
  bool forks = false;     // also poll forks (default: left out)
};

// The `github` entry of `sources[]`. Defaults stand next to the fields.
struct GithubSettings {
  // REST API root. GitHub Enterprise Server: "https://HOST/api/v3".
  std::string api_url = "https://api.github.com";
  // Sent as "Authorization: Bearer <token>"; never logged. "" polls without
  // authentication (public repositories only, 60 requests per hour).
  std::string token;
  // Used instead of `token` when set: a GitHub App installation token,
  // bought with the App's private key and renewed before it expires.
  std::optional<GithubAppSettings> app;
  // "owner/repo" names. A failing repository does not stop the others.
  // `repositories` and `organizations` together name at least one.
  std::vector<std::string> repositories;
  // Owners whose repositories are discovered; repositories named in both
  // places are polled once.
  std::vector<GithubOwner> organizations;
  // How often the repositories of `organizations` are listed again (the
  // listings are conditional, so an unchanged one costs no quota); a failed
  // listing is retried on the next poll and its last good list kept
  // meanwhile. Default 10 minutes.
  Millis discovery_interval{10 * 60'000};
  // Matched against the workflow path, e.g. ".github/workflows/ci.yml".
  NameFilter workflows;
  // Only runs triggered by these events ("push", "pull_request", ...); empty
  // admits every event.
  std::vector<std::string> events;
  int per_page = 100;  // runs per page (GitHub's maximum is 100)
  int max_pages = 10;  // pages per repository and poll; older runs are left out
  // Fetch each finished run's jobs (one request per run attempt, cached in
  // memory, conditional with ETag) for a real queue time and completion time.
  // false saves those requests; queue time is then run_started_at -
  // created_at (usually about 0) and completion is updated_at.
  bool fetch_jobs = true;
  // Runs are listed by creation time, so a run finishing now may have been
  // created long before `since`: the listing starts this much earlier. Runs
  // longer than this are seen only while the poll window still covers their
  // creation. Default 1 day.
  Millis created_margin{24 * 3'600'000};
};

// Reads api_url, token (${VAR} expanded, surrounding whitespace trimmed),
// app {app_id, installation_id, private_key_file}, repositories,
// organizations [{name, type: org|user, include, exclude, archived, forks}],
// discovery_interval, workflows {include, exclude}, events, per_page,
// max_pages, fetch_jobs and created_margin from `yaml`, marking them read
// (`yaml` itself is not Finish()ed: the caller does). Reads and checks the
// App's private key file. Throws ConfigError naming the key (never quoting a
// secret). Registers the token and the private key with Logging::AddSecret.
GithubSettings ParseGithubSettings(YamlMap& yaml);

// The sources-table entry: ParseGithubSettings, then a factory of
// GithubSource bound to the settings.
SourceFactory ParseGithubConfig(YamlMap& yaml, SourceCommon& common);

// Pure parsers: bytes or JSON values in, values out; no I/O, never throw,
// thread-safe.
namespace github {

// GitHub's run or job status to the run record's; nullopt for a value GitHub
// does not document.
std::optional<RunStatus> MapStatus(std::string_view status);

// A conclusion to the OpenTelemetry result vocabulary: success -> success,
// failure -> failure, cancelled -> cancellation, skipped -> skip,
// timed_out -> timeout; action_required, neutral, stale, startup_failure and
// any undocumented value -> error.
std::string MapConclusion(std::string_view conclusion);

// ".github/workflows/build.yml@main" -> ".github/workflows/build.yml".
std::string StripRef(std::string_view workflow_path);

// True for "owner/repo" with GitHub's allowed characters.
bool IsRepositoryName(std::string_view name);

// One workflow run object (a REST list item, GET of one run, or the
// `workflow_run` of a webhook delivery). `repository` ("owner/repo") names
// the pipeline; "" takes the run's repository.full_name. `workflow_path` is
// used when the run has no `path` (old webhook deliveries). The record is
// normalised and valid (cicd::Validate), else the error says why.
Result<RunRecord> RunFromJson(const boost::json::value& run, std::string_view source,
                              std::string_view repository, std::string_view workflow_path = "");

// A page of GET /repos/{o}/{r}/actions/runs: {total_count, workflow_runs}.
// Malformed JSON or a wrong shape is an error; a malformed run is skipped and
// described in `errors` ("workflow_runs[3]: ...").
struct RunsPage {
  std::optional<std::int64_t> total_count;
  std::vector<RunRecord> runs;
  std::vector<std::string> errors;
};
Result<RunsPage> ParseRunsPage(std::string_view body, std::string_view source,
                               std::string_view repository);

// A webhook delivery of event workflow_run (the whole payload). The pipeline
// uses workflow_run.repository (else the delivery's repository) and the
// workflow path from workflow_run.path (else the delivery's workflow.path).
Result<RunRecord> WorkflowRunEventFromJson(const boost::json::value& delivery,
                                           std::string_view source);
Result<RunRecord> ParseWorkflowRunEvent(std::string_view body, std::string_view source);

// One job of a run attempt. Unknown values are nullopt.
struct Job {
  std::int64_t id = 0;
  std::int64_t run_id = 0;
  std::optional<std::int64_t> run_attempt;
  std::string name;
  std::string status;                     // GitHub's, e.g. "completed"
  std::optional<std::string> conclusion;  // GitHub's, e.g. "skipped"
  std::optional<TimePoint> created_at;    // absent in older payloads
  std::optional<TimePoint> started_at;
  std::optional<TimePoint> completed_at;
};
Result<Job> JobFromJson(const boost::json::value& job);

// A page of GET /repos/{o}/{r}/actions/runs/{id}/attempts/{n}/jobs, or the
// `workflow_job` list of any {total_count, jobs} document.
struct JobsPage {
  std::optional<std::int64_t> total_count;
  std::vector<Job> jobs;
  std::vector<std::string> errors;  // "jobs[2]: ..."
};
Result<JobsPage> ParseJobsPage(std::string_view body);

// What the jobs of one attempt say about its run.
struct JobTimes {
  // Earliest start of a job that ran in this attempt of `run`. Left out:
  // skipped jobs (GitHub stamps them started and completed when it skips
  // them, after the real queue) and, for a re-run (attempt > 1), jobs of
  // another attempt or started before the attempt was created: re-running
  // failed jobs carries the successful ones over with their old times.
  std::optional<TimePoint> first_started;
  std::optional<TimePoint> last_completed;  // over all jobs
};
JobTimes SummarizeJobs(const std::vector<Job>& jobs, const RunRecord& run);

// One entry of GET /orgs/{org}/repos or /users/{user}/repos.
struct Repository {
  std::string full_name;  // "owner/repo"
  std::string name;       // "repo"
  bool archived = false;
  bool fork = false;
};
// A page of repositories (a JSON array). Entries without a valid full_name
// are skipped and described in `errors`.
struct RepositoriesPage {
  std::vector<Repository> repositories;
  std::vector<std::string> errors;
};
Result<RepositoriesPage> ParseRepositoriesPage(std::string_view body);

// The full names of the repositories `owner` admits: its filter, and
// archived repositories and forks only when asked for.
std::vector<std::string> SelectRepositories(const std::vector<Repository>& repositories,
                                            const GithubOwner& owner);

// Refines a run with its jobs' times: queue_seconds from first_started -
// created_at (clamped at 0) and, for a completed run, finished_at from
// last_completed (never before started_at); duration is recomputed.
void ApplyJobTimes(RunRecord& run, const JobTimes& times);

}  // namespace github

// Polls each repository (the configured ones, then those discovered from
// `organizations`, re-listed every discovery_interval): lists runs created
// since `since` minus
// created_margin (rounded down to the hour, so repeated polls ask the same
// URL and a 304 costs no quota), follows Link pagination up to max_pages, and
// fetches the jobs of runs finished since `since` when fetch_jobs.
//
// Not thread-safe (one poller thread owns it, as Source says). The job times
// of a run are cached until its updated_at changes or it leaves the listing.
class GithubSource final : public Source {
 public:
  // REQUIRES: deps.clock outlives the source; deps.fetcher too, or null for
  // an owned HttplibFetcher with common.api.http. With settings.app, every
  // poll first makes sure of a valid installation token (a failure to buy
  // one fails the poll).
  GithubSource(const SourceCommon& common, GithubSettings settings, const SourceDeps& deps);

  // Finished runs: completed ones whose updated_at (when GitHub reported the
  // completion) is at or after `since`, so a run that completed between two
  // polls is never missed; their finished_at, refined by the jobs, may be a
  // few seconds earlier (the store deduplicates). Active runs: the rest of
  // the listing. A failing repository adds to partial_errors; when
  // every repository fails the first error is returned. A finished run whose
  // jobs cannot be fetched is returned with its run-level times and noted in
  // partial_errors.
  Result<PollResult> Poll(TimePoint since) override;

 private:
  struct CachedJobs {
    std::string updated_key;  // updated_at of the run when its jobs were read
    github::JobTimes times;
  };

  // What was last discovered of one of settings_.organizations.
  struct Discovered {
    std::vector<std::string> repositories;
    std::optional<TimePoint> listed_at;  // of the last successful listing
    bool failed = false;                 // the last listing failed: retry next poll
  };

  // The repositories to poll now: configured first, then discovered (owners
  // due are listed again; their failures go to `out.partial_errors`).
  std::vector<std::string> Repositories(PollResult& out, Status& first_error);
  Result<std::vector<std::string>> Discover(const GithubOwner& owner);
  // Sends a valid App installation token from now on; OK without an App.
  Status RefreshAuth();
  Result<std::vector<RunRecord>> ListRuns(const std::string& repo, TimePoint created_since);
  Result<github::JobTimes> FetchJobTimes(const std::string& repo, const RunRecord& run);
  Status PollRepository(const std::string& repo, TimePoint since, PollResult& out);
  bool SameOrigin(const std::string& url) const;

  const std::string name_;
  const GithubSettings settings_;
  const Clock* const clock_;
  std::unique_ptr<HttpFetcher> owned_fetcher_;
  std::unique_ptr<ApiClient> api_;
  std::unique_ptr<GithubAppAuth> app_auth_;
  std::string app_token_;  // the token api_ sends now
  std::string api_origin_;
  std::vector<Discovered> discovered_;  // parallel to settings_.organizations
  bool warned_no_repositories_ = false;
  // Key: "owner/repo#" + RunRecord::Key().
  std::map<std::string, CachedJobs> job_cache_;
  std::set<std::string> truncation_warned_;  // repositories warned about max_pages
};

}  // namespace cicd::exporter
