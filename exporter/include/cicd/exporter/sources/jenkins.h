#pragma once
// Jenkins source: jobs found by walking folders from the root, builds of each
// job read through a `tree=` query of only the fields a run record needs,
// queue times from the metrics plugin or from queue items, and queued runs
// from the global queue.
//
// Naming. A job's full path is its item names from the root joined with '/',
// as Jenkins spells them ("team/app"); that is the run record's `pipeline`.
// The children of a multibranch project are branches: their pipeline is the
// multibranch project's path and their `branch` is the child's name
// URL-decoded (Jenkins names the branch "feature/x" as "feature%2Fx").
//
// The parsers below are pure (bytes in, values out, no I/O); JenkinsSource
// only fetches and glues them together.

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cicd/core/glob.h"
#include "cicd/core/result.h"
#include "cicd/core/run_record.h"
#include "cicd/core/time.h"
#include "cicd/exporter/api_client.h"
#include "cicd/exporter/source.h"

namespace cicd::exporter {

struct JenkinsSettings {
  // Base URL, possibly with a path prefix: "https://ci.example.com/jenkins".
  // Required.
  std::string url;
  // Basic-auth user and API token; both empty means anonymous access. The
  // token is registered as a log secret and never appears in messages.
  std::string user;
  std::string token;
  // Matched against a job's full path ("team/app"; for a multibranch branch,
  // the project path plus the decoded branch: "team/mb/feature/x"). Folders
  // are always walked: a pattern cannot tell which folders hold matches.
  NameFilter jobs;
  // Folder levels (folders, organization folders, multibranch projects)
  // descended below the root; 0 reads only the root's own jobs. Default 5.
  int max_depth = 5;
  // Jobs read per poll; the walk stops there (logged once). Bounds the cost
  // of one poll on a very large instance. Default 2000.
  int max_jobs = 2000;
  // Builds read per request: the newest N through `builds{0,N}` of the tree
  // query (Jenkins lists at most 100 there). When more builds than that
  // finished since the previous poll, older pages follow from
  // `allBuilds{N,2N}`, `{2N,3N}`, ... back to the newest build the previous
  // poll saw (or the oldest then running); on a job's first poll, back to the
  // first build that finished before `since`. Default 50.
  int builds_per_job = 50;
  // Pages of builds_per_job builds read per job and poll, the first one
  // included; a job that finished even more builds since the previous poll
  // loses the oldest (logged once per job). Default 10.
  int max_build_pages = 10;
  // The job list is cached between walks of the folder tree: a poll walks
  // again when this much time passed since the last walk, when a job or
  // folder answered 404 (deleted or renamed), or when the last walk failed in
  // part. New jobs appear at the latest one interval after their creation
  // (their builds since `since` are read then). 0 walks on every poll.
  // Default 10 minutes.
  Millis discovery_interval{10 * 60'000};
  // Read /queue/item/<id>/ for builds without the metrics plugin's queue
  // time. Costs one request per new build; Jenkins forgets an item about five
  // minutes after it left the queue, so older builds keep no queue time.
  bool fetch_queue_items = true;
};

// Reads url (required), user, token (${VAR} expanded), jobs {include,
// exclude}, max_depth, max_jobs, builds_per_job, max_build_pages,
// discovery_interval and fetch_queue_items from
// one `sources[]` entry. Throws ConfigError (key and line) on bad values or
// unknown keys under `jobs`; the caller Finish()es `yaml` itself.
SourceFactory ParseJenkinsConfig(YamlMap& yaml, SourceCommon& common);

// ---- Pure parsers ----------------------------------------------------------

// What walking an item means.
enum class JenkinsItemKind {
  kJob,          // has builds (also any class this code does not know)
  kFolder,       // com.cloudbees.hudson.plugins.folder.Folder,
                 // jenkins.branch.OrganizationFolder: its jobs are listed
  kMultibranch,  // ...workflow.multibranch.WorkflowMultiBranchProject: its
                 // jobs are branches
};
JenkinsItemKind ClassifyJenkinsItem(std::string_view item_class);

// One entry of `/api/json?tree=jobs[name,url,_class]`.
struct JenkinsItem {
  std::string name;        // as Jenkins spells it; may be URL-encoded (branches)
  std::string url;         // as reported; its host may differ from ours
  std::string item_class;  // "" when absent
  JenkinsItemKind kind = JenkinsItemKind::kJob;
};

// Parses a job listing. An object without `jobs` lists nothing; entries
// without a name are dropped. Malformed JSON or a wrong type is kParse.
Result<std::vector<JenkinsItem>> ParseJenkinsJobList(std::string_view body);

// A job whose builds are read.
struct JenkinsJob {
  std::vector<std::string> names;  // item names from the root, as Jenkins spells them
  std::string full_path;           // what the jobs filter sees (see JenkinsSettings::jobs)
  std::string pipeline;            // the run record's pipeline
  std::string branch;              // decoded branch of a multibranch child, else ""
};

// The job `name` inside the folder reached through `parent_names` ({} for
// the root): a branch when that folder is a multibranch project.
JenkinsJob MakeJenkinsJob(const std::vector<std::string>& parent_names,
                          const std::string& name, bool parent_is_multibranch);

// "/job/<enc>/job/<enc>" for item names (each percent-encoded); "" for the root.
std::string JenkinsJobPath(const std::vector<std::string>& names);

// Item names of the job a Jenkins URL points at: the segment after every
// "job" segment, percent-decoded ("http://h/jenkins/job/a/job/b%20c/12/" ->
// {"a", "b c"}). Empty when the URL names no job.
std::vector<std::string> JenkinsJobNamesFromUrl(std::string_view url);

// The result vocabulary of shared/DESIGN.md: SUCCESS -> success, FAILURE and
// UNSTABLE -> failure, ABORTED -> cancellation, NOT_BUILT -> skip, anything
// else -> error.
std::string JenkinsResult(std::string_view jenkins_result);

// A build and what is needed to complete it later.
struct JenkinsBuild {
  RunRecord run;  // normalised and valid
  std::optional<std::int64_t> queue_id;
};

// Parses one build object (`/job/.../<n>/api/json`, or one entry of a
// builds list) of `job` for source `source`. run_id is the build number;
// status is running while `building` (or, when that field is missing, while
// the result is null) and completed otherwise; started_at is `timestamp`,
// finished_at is started_at + `duration` ms. Tests come from a
// hudson.tasks.junit.TestResultAction or ...test.AggregatedTestResultAction
// (absent without one), queue time from jenkins.metrics.impl.TimeInQueueAction
// (queuingDurationMillis, else the sum of its blocked, buildable and waiting
// durations). A build without number or timestamp, or not a valid run
// record, is kParse.
Result<JenkinsBuild> ParseJenkinsBuild(std::string_view body, std::string_view source,
                                       const JenkinsJob& job);

struct JenkinsBuildList {
  std::vector<JenkinsBuild> builds;
  std::vector<std::string> skipped;  // "build #N: why" for entries left out
  std::size_t entries = 0;           // list entries, parsed or skipped
};

// Parses `{"builds": [...]}` (or `{"allBuilds": [...]}`) of a job. Entries
// that cannot become a run are skipped with a reason; a missing list (an item
// that has no builds) is an empty list. Malformed JSON or a wrong type is
// kParse.
Result<JenkinsBuildList> ParseJenkinsBuilds(std::string_view body, std::string_view source,
                                            const JenkinsJob& job);

// One queue item (`/queue/item/<id>/api/json`, or one of `/queue/api/json`).
struct JenkinsQueueItem {
  std::int64_t id = 0;
  std::optional<TimePoint> in_queue_since;
  // Names of the job the item builds; empty for tasks without a URL (a
  // pipeline's `node` block waiting for an agent is part of a running build).
  std::vector<std::string> task_names;
  std::optional<std::int64_t> executable_number;  // the build it became
  bool cancelled = false;
  std::string why;  // "" when null
  std::string url;  // as reported, relative: "queue/item/7/"
};

// A single queue item; one without an id is kParse.
Result<JenkinsQueueItem> ParseJenkinsQueueItem(std::string_view body);
// `/queue/api/json`; items without an id are dropped.
Result<std::vector<JenkinsQueueItem>> ParseJenkinsQueue(std::string_view body);

// Sets created_at (and so queue_seconds, clamped at zero) of `run` from the
// queue item it came from. Returns false, leaving `run` alone, when the item
// did not become this build or has no inQueueSince.
bool ApplyJenkinsQueueItem(const JenkinsQueueItem& item, RunRecord& run);

// A waiting queue item of `job` as an active run: status queued, run_id
// "queue-<id>", created_at inQueueSince. std::nullopt without inQueueSince.
std::optional<RunRecord> JenkinsQueuedRun(const JenkinsQueueItem& item, std::string_view source,
                                          const JenkinsJob& job, std::string_view base_url);

namespace detail {
// Decodes %XX escapes; malformed escapes are kept as they are.
std::string PercentDecode(std::string_view s);
}  // namespace detail

// ---- The source -------------------------------------------------------------

// Polls one Jenkins instance. Not thread-safe (one poller thread owns it).
//
// A poll: when the cached job list is due (see discovery_interval), lists
// the root (failure fails the poll) and walks folders within max_depth and
// max_jobs; reads the builds of every job the filter allows, paging back to
// what the previous poll saw (a failing job is a partial error; a job that
// vanished, 404, is skipped and the next poll walks again), returns builds
// finished at or after `since` and the running ones, fills
// missing queue times from queue items (404 = unknown), and adds the global
// queue's items of known jobs as queued runs (a failure there is a partial
// error). Partial errors are returned, not logged.
class JenkinsSource final : public Source {
 public:
  // Registers the token and the Authorization value as log secrets.
  // REQUIRES: deps.fetcher and deps.clock non-null and outliving the source.
  JenkinsSource(const SourceCommon& common, JenkinsSettings settings, const SourceDeps& deps);

  Result<PollResult> Poll(TimePoint since) override;

 private:
  struct Walk {
    std::vector<JenkinsJob> jobs;
    std::vector<std::string> partial_errors;
  };
  // What the previous poll saw of a job, so the next one reads back to it.
  struct JobCursor {
    std::int64_t newest = 0;                     // highest build number seen
    std::optional<std::int64_t> oldest_running;  // lowest number then running
  };
  Result<Walk> DiscoverJobs();
  // The cached walk, walked again when due; nullptr when the root failed.
  Result<const Walk*> CurrentWalk(std::vector<std::string>& partial_errors);
  void PollJob(const JenkinsJob& job, TimePoint since, PollResult& out);
  Result<JenkinsBuildList> FetchBuilds(const JenkinsJob& job, std::size_t offset);
  void FillQueueTime(const JenkinsJob& job, JenkinsBuild& build);
  void PollQueue(const std::map<std::string, const JenkinsJob*>& by_key, PollResult& out);
  std::string ApiUrl(const std::vector<std::string>& names, std::string_view query) const;

  const std::string name_;
  const JenkinsSettings settings_;
  const Clock* const clock_;
  ApiClient api_;
  bool warned_max_jobs_ = false;
  std::optional<Walk> walk_;          // the last complete walk
  std::optional<TimePoint> walked_at_;
  bool walk_stale_ = false;           // a job or folder vanished since
  // By job key; pruned to the jobs of the last walk.
  std::map<std::string, JobCursor> cursors_;
  std::set<std::string> pages_warned_;  // jobs warned about max_build_pages
  // Queue-item lookups by "<job key>#<number>": the creation time, or
  // nullopt when Jenkins no longer knew the item. Keeps one request per
  // build; pruned to the builds of the last poll.
  std::map<std::string, std::optional<TimePoint>> queue_lookups_;
  std::map<std::string, std::optional<TimePoint>> queue_lookups_seen_;
};

}  // namespace cicd::exporter
