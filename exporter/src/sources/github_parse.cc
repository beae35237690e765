// Pure parsers of GitHub Actions payloads (STYLE.md principle 1): bytes in,
// run records out, no I/O. The mapping is documented in github.h.
#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

#include "cicd/core/json.h"
#include "cicd/exporter/sources/github.h"

namespace cicd::exporter::github {
namespace {

using boost::json::value;

// Missing or null is unknown; present must be a valid RFC 3339 string.
Result<std::optional<TimePoint>> TimeField(const value& v, const char* key) {
  const value* f = json::Find(v, key);
  if (f == nullptr || f->is_null()) return std::optional<TimePoint>();
  if (!f->is_string()) {
    return ParseError(std::string("\"") + key + "\" is not a date-time string");
  }
  auto t = ParseRfc3339(f->get_string());
  if (!t) return t.status().WithContext(std::string("\"") + key + "\"");
  return std::optional<TimePoint>(*t);
}

std::string FullName(const value& v, const char* key) {
  const value* repo = json::Find(v, key);
  if (repo == nullptr) return "";
  return json::GetString(*repo, "full_name").value_or("");
}

// Reads the three run times in one go so each error names its field.
struct RunTimes {
  std::optional<TimePoint> created, started, updated;
};
Result<RunTimes> ReadRunTimes(const value& run) {
  RunTimes t;
  for (auto [field, key] :
       {std::pair{&t.created, "created_at"}, std::pair{&t.started, "run_started_at"},
        std::pair{&t.updated, "updated_at"}}) {
    auto parsed = TimeField(run, key);
    if (!parsed) return parsed.status();
    *field = *parsed;
  }
  return t;
}

}  // namespace

std::optional<RunStatus> MapStatus(std::string_view status) {
  // "waiting" (environment approval), "requested" and "pending" (concurrency
  // group) all mean the run has not begun executing.
  if (status == "queued" || status == "waiting" || status == "requested" || status == "pending") {
    return RunStatus::kQueued;
  }
  if (status == "in_progress") return RunStatus::kRunning;
  if (status == "completed") return RunStatus::kCompleted;
  return std::nullopt;
}

std::string MapConclusion(std::string_view conclusion) {
  if (conclusion == "success") return "success";
  if (conclusion == "failure") return "failure";
  if (conclusion == "cancelled") return "cancellation";
  if (conclusion == "skipped") return "skip";
  if (conclusion == "timed_out") return "timeout";
  // The rest say the workflow did not run to a verdict on the code, which is
  // OpenTelemetry's "error" (a problem of the CI system, not a failing
  // build): action_required = waiting for approval that never came, neutral
  // = neither passed nor failed, stale = GitHub gave up on it after 14 days,
  // startup_failure = the workflow file could not even start. The run-level
  // conclusion has no enum in openapi_actions_schemas.json; these are the
  // documented check-suite values, and a value added later lands here too.
  return "error";
}

std::string StripRef(std::string_view path) {
  // Cut after the file extension when there is one, so a ref containing '@'
  // is cut whole; else at the first '@'.
  for (std::string_view ext : {std::string_view(".yml@"), std::string_view(".yaml@")}) {
    if (const auto pos = path.find(ext); pos != std::string_view::npos) {
      return std::string(path.substr(0, pos + ext.size() - 1));
    }
  }
  return std::string(path.substr(0, path.find('@')));
}

bool IsRepositoryName(std::string_view name) {
  const auto slash = name.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == name.size()) return false;
  const std::string_view owner = name.substr(0, slash);
  const std::string_view repo = name.substr(slash + 1);
  auto allowed = [](std::string_view part) {
    return part != "." && part != ".." && std::all_of(part.begin(), part.end(), [](char c) {
             return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
           });
  };
  return allowed(owner) && allowed(repo);
}

Result<RunRecord> RunFromJson(const value& run, std::string_view source,
                              std::string_view repository, std::string_view workflow_path) {
  if (!run.is_object()) return ParseError("a workflow run must be a JSON object");
  const auto id = json::GetInt(run, "id");
  if (!id) return ParseError("workflow run without a numeric \"id\"");
  const auto fail = [&](const std::string& m) {
    return ParseError("workflow run " + std::to_string(*id) + ": " + m);
  };

  std::string repo(repository);
  if (repo.empty()) repo = FullName(run, "repository");
  if (repo.empty()) return fail("no repository full_name");
  std::string path = json::GetString(run, "path").value_or(std::string(workflow_path));
  if (path.empty()) return fail("no workflow \"path\"");

  const auto status_text = json::GetString(run, "status");
  if (!status_text) return fail("no \"status\"");
  const auto status = MapStatus(*status_text);
  if (!status) return fail("unknown status \"" + *status_text + "\"");

  RunRecord r;
  r.source = std::string(source);
  r.pipeline = repo + "/" + StripRef(path);
  r.branch = json::GetString(run, "head_branch").value_or("");
  r.run_id = std::to_string(*id);
  r.number = json::GetInt(run, "run_number");
  r.attempt = json::GetInt(run, "run_attempt");
  r.event = json::GetString(run, "event").value_or("");
  r.status = *status;
  r.url = json::GetString(run, "html_url").value_or("");

  auto times = ReadRunTimes(run);
  if (!times) return fail(times.status().message());
  r.created_at = times->created;
  // created_at stays at the first attempt's creation on re-runs, while
  // run_started_at resets: the attempt entered the queue at run_started_at.
  if (r.attempt && *r.attempt > 1 && times->started) r.created_at = times->started;
  r.started_at = times->started ? times->started : times->created;

  if (r.status == RunStatus::kCompleted) {
    if (const auto conclusion = json::GetString(run, "conclusion")) {
      r.result = MapConclusion(*conclusion);
    }
    if (times->updated) {
      // updated_at can precede run_started_at for runs that never started
      // (action_required): a completion is never before the start.
      r.finished_at = r.started_at ? std::max(*times->updated, *r.started_at) : *times->updated;
    }
  }
  Normalize(r);
  // A re-run's queue time is unknown from the run alone: created_at was
  // replaced by run_started_at above, which would make it exactly 0. Only
  // its jobs (ApplyJobTimes) can tell.
  if (r.attempt && *r.attempt > 1) r.queue_seconds.reset();
  if (Status s = Validate(r); !s.ok()) return fail(s.message());
  return r;
}

Result<RunsPage> ParseRunsPage(std::string_view body, std::string_view source,
                               std::string_view repository) {
  auto doc = json::Parse(body);
  if (!doc) return doc.status();
  if (!doc->is_object()) return ParseError("workflow runs response is not a JSON object");
  const boost::json::array* items = json::FindArray(*doc, "workflow_runs");
  if (items == nullptr) return ParseError("workflow runs response has no \"workflow_runs\" list");
  RunsPage page;
  page.total_count = json::GetInt(*doc, "total_count");
  page.runs.reserve(items->size());
  for (std::size_t i = 0; i < items->size(); ++i) {
    auto run = RunFromJson((*items)[i], source, repository);
    if (run) {
      page.runs.push_back(std::move(*run));
    } else {
      page.errors.push_back("workflow_runs[" + std::to_string(i) + "]: " + run.status().message());
    }
  }
  return page;
}

Result<RunRecord> WorkflowRunEventFromJson(const value& delivery, std::string_view source) {
  const value* run = json::Find(delivery, "workflow_run");
  if (run == nullptr || !run->is_object()) {
    return ParseError("webhook delivery has no \"workflow_run\" object");
  }
  std::string repo = FullName(*run, "repository");
  if (repo.empty()) repo = FullName(delivery, "repository");
  std::string path;
  if (const value* workflow = json::Find(delivery, "workflow")) {
    path = json::GetString(*workflow, "path").value_or("");
  }
  return RunFromJson(*run, source, repo, path);
}

Result<RunRecord> ParseWorkflowRunEvent(std::string_view body, std::string_view source) {
  auto doc = json::Parse(body);
  if (!doc) return doc.status();
  return WorkflowRunEventFromJson(*doc, source);
}

Result<Job> JobFromJson(const value& v) {
  if (!v.is_object()) return ParseError("a job must be a JSON object");
  const auto id = json::GetInt(v, "id");
  if (!id) return ParseError("job without a numeric \"id\"");
  Job job;
  job.id = *id;
  job.run_id = json::GetInt(v, "run_id").value_or(0);
  job.run_attempt = json::GetInt(v, "run_attempt");
  job.name = json::GetString(v, "name").value_or("");
  job.status = json::GetString(v, "status").value_or("");
  job.conclusion = json::GetString(v, "conclusion");
  for (auto [field, key] :
       {std::pair{&job.created_at, "created_at"}, std::pair{&job.started_at, "started_at"},
        std::pair{&job.completed_at, "completed_at"}}) {
    auto t = TimeField(v, key);
    if (!t) return t.status().WithContext("job " + std::to_string(*id));
    *field = *t;
  }
  return job;
}

Result<JobsPage> ParseJobsPage(std::string_view body) {
  auto doc = json::Parse(body);
  if (!doc) return doc.status();
  if (!doc->is_object()) return ParseError("jobs response is not a JSON object");
  const boost::json::array* items = json::FindArray(*doc, "jobs");
  if (items == nullptr) return ParseError("jobs response has no \"jobs\" list");
  JobsPage page;
  page.total_count = json::GetInt(*doc, "total_count");
  for (std::size_t i = 0; i < items->size(); ++i) {
    auto job = JobFromJson((*items)[i]);
    if (job) {
      page.jobs.push_back(std::move(*job));
    } else {
      page.errors.push_back("jobs[" + std::to_string(i) + "]: " + job.status().message());
    }
  }
  return page;
}

JobTimes SummarizeJobs(const std::vector<Job>& jobs, const RunRecord& run) {
  JobTimes out;
  const bool rerun = run.attempt && *run.attempt > 1;
  for (const Job& job : jobs) {
    if (job.completed_at && (!out.last_completed || *job.completed_at > *out.last_completed)) {
      out.last_completed = job.completed_at;
    }
    if (!job.started_at || job.conclusion == "skipped") continue;
    if (rerun) {
      if (job.run_attempt && *job.run_attempt != *run.attempt) continue;
      if (run.created_at && *job.started_at < *run.created_at) continue;
    }
    if (!out.first_started || *job.started_at < *out.first_started) {
      out.first_started = job.started_at;
    }
  }
  return out;
}

void ApplyJobTimes(RunRecord& run, const JobTimes& times) {
  if (times.first_started && run.created_at) {
    run.queue_seconds = std::max(0.0, Seconds(*times.first_started - *run.created_at).count());
  }
  if (run.status == RunStatus::kCompleted && times.last_completed) {
    run.finished_at =
        run.started_at ? std::max(*times.last_completed, *run.started_at) : *times.last_completed;
    run.duration_seconds.reset();
  }
  Normalize(run);
}

Result<RepositoriesPage> ParseRepositoriesPage(std::string_view body) {
  auto doc = json::Parse(body);
  if (!doc) return doc.status();
  if (!doc->is_array()) return ParseError("a repository listing is not a JSON list");
  RepositoriesPage page;
  const auto& items = doc->get_array();
  for (std::size_t i = 0; i < items.size(); ++i) {
    Repository r;
    r.full_name = json::GetString(items[i], "full_name").value_or("");
    if (!IsRepositoryName(r.full_name)) {
      page.errors.push_back("[" + std::to_string(i) + "]: no valid \"full_name\"");
      continue;
    }
    r.name = json::GetString(items[i], "name").value_or(r.full_name.substr(r.full_name.find('/') + 1));
    r.archived = json::GetBool(items[i], "archived").value_or(false);
    r.fork = json::GetBool(items[i], "fork").value_or(false);
    page.repositories.push_back(std::move(r));
  }
  return page;
}

std::vector<std::string> SelectRepositories(const std::vector<Repository>& repositories,
                                            const GithubOwner& owner) {
  std::vector<std::string> out;
  for (const Repository& r : repositories) {
    if (r.archived && !owner.archived) continue;
    if (r.fork && !owner.forks) continue;
    if (!owner.repositories.Allows(r.name)) continue;
    out.push_back(r.full_name);
  }
  return out;
}

}  // namespace cicd::exporter::github
