// Pure parsers of GitLab CI payloads (STYLE.md principle 1): bytes in, run
// records out, no I/O. The mapping is documented in gitlab.h.
#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cstring>

#include "cicd/core/json.h"
#include "cicd/exporter/sources/gitlab.h"

namespace cicd::exporter::gitlab {
namespace {

using boost::json::value;

// Missing or null is unknown; present must be one of GitLab's time formats.
Result<std::optional<TimePoint>> TimeField(const value& v, const char* key) {
  const value* f = json::Find(v, key);
  if (f == nullptr || f->is_null()) return std::optional<TimePoint>();
  if (!f->is_string()) {
    return ParseError(std::string("\"") + key + "\" is not a date-time string");
  }
  auto t = ParseTime(f->get_string());
  if (!t) return t.status().WithContext(std::string("\"") + key + "\"");
  return std::optional<TimePoint>(*t);
}

// Reads time fields in one go so each error names its field.
Status ReadTimes(const value& v,
                 std::initializer_list<std::pair<std::optional<TimePoint>*, const char*>> fields) {
  for (auto [field, key] : fields) {
    auto parsed = TimeField(v, key);
    if (!parsed) return parsed.status();
    *field = *parsed;
  }
  return Status::Ok();
}

// Failure reasons that are not the code's fault (OpenTelemetry "timeout"
// and "error"); every other reason, script_failure and unknown_failure
// included, is a failure of the build.
bool IsTimeoutReason(std::string_view r) {
  return r == "job_execution_timeout" || r == "stuck_or_timeout_failure";
}
bool IsSystemReason(std::string_view r) {
  static constexpr std::string_view kSystem[] = {
      "api_failure",         "runner_system_failure", "runner_unsupported",
      "scheduler_failure",   "data_integrity_failure", "archived_failure",
      "stale_schedule",      "no_matching_runner",     "ci_quota_exceeded",
      "missing_dependency_failure", "trace_size_exceeded", "builds_disabled",
      "user_blocked",        "project_deleted",        "ip_restriction_failure",
  };
  return std::find(std::begin(kSystem), std::end(kSystem), r) != std::end(kSystem);
}

template <typename Item, typename Parse>
Result<std::vector<Item>> ParseArray(std::string_view body, const char* what, Parse parse,
                                     std::vector<std::string>& errors) {
  auto doc = json::Parse(body);
  if (!doc) return doc.status();
  if (!doc->is_array()) return ParseError(std::string(what) + " response is not a JSON array");
  std::vector<Item> out;
  const auto& items = doc->get_array();
  out.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    auto item = parse(items[i]);
    if (item) {
      out.push_back(std::move(*item));
    } else {
      errors.push_back("[" + std::to_string(i) + "]: " + item.status().message());
    }
  }
  return out;
}

}  // namespace

std::optional<RunStatus> MapStatus(std::string_view s) {
  // waiting_for_resource: a resource_group is busy; preparing: the runner
  // prepares the environment; scheduled: a delayed job's timer runs.
  if (s == "created" || s == "waiting_for_resource" || s == "preparing" || s == "pending" ||
      s == "scheduled") {
    return RunStatus::kQueued;
  }
  if (s == "running" || s == "canceling") return RunStatus::kRunning;
  if (MapResult(s)) return RunStatus::kCompleted;
  return std::nullopt;
}

std::optional<std::string> MapResult(std::string_view s) {
  if (s == "success") return "success";
  if (s == "failed") return "failure";
  if (s == "canceled") return "cancellation";
  if (s == "skipped" || s == "manual") return "skip";
  return std::nullopt;
}

bool IsProjectPath(std::string_view path, bool allow_single) {
  if (path.empty()) return false;
  int parts = 0;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    const auto slash = path.find('/', pos);
    const std::string_view part =
        path.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    if (part.empty() || part == "." || part == "..") return false;
    if (!std::all_of(part.begin(), part.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
        })) {
      return false;
    }
    ++parts;
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  return parts >= 2 || (allow_single && parts == 1);
}

Result<TimePoint> ParseTime(std::string_view text) {
  constexpr std::string_view kUtc = " UTC";
  if (text.size() > kUtc.size() && text.substr(text.size() - kUtc.size()) == kUtc) {
    return ParseRfc3339(std::string(text.substr(0, text.size() - kUtc.size())) + "Z");
  }
  return ParseRfc3339(text);
}

std::optional<int> NextPage(std::string_view x_next_page, std::string_view link_header) {
  auto number = [](std::string_view digits) -> std::optional<int> {
    if (digits.empty() || digits.size() > 8) return std::nullopt;
    if (!std::all_of(digits.begin(), digits.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
      return std::nullopt;
    }
    const int n = std::stoi(std::string(digits));
    return n >= 1 ? std::optional<int>(n) : std::nullopt;
  };
  // X-Next-Page is empty on the last page.
  std::string_view trimmed = x_next_page;
  while (!trimmed.empty() && trimmed.back() == ' ') trimmed.remove_suffix(1);
  while (!trimmed.empty() && trimmed.front() == ' ') trimmed.remove_prefix(1);
  if (!trimmed.empty()) return number(trimmed);
  const std::string next = NextLink(std::string(link_header));
  for (const char* key : {"?page=", "&page="}) {
    const auto pos = next.find(key);
    if (pos == std::string::npos) continue;
    const auto begin = pos + std::strlen(key);
    const auto end = next.find_first_not_of("0123456789", begin);
    return number(std::string_view(next).substr(begin, end == std::string::npos ? end : end - begin));
  }
  return std::nullopt;
}

Result<Pipeline> PipelineFromJson(const value& v, std::string_view source,
                                  std::string_view project, bool validate) {
  if (!v.is_object()) return ParseError("a pipeline must be a JSON object");
  const auto id = json::GetInt(v, "id");
  if (!id) return ParseError("pipeline without a numeric \"id\"");
  const auto fail = [&](const std::string& m) {
    return ParseError("pipeline " + std::to_string(*id) + ": " + m);
  };
  if (project.empty()) return fail("no project path");
  const auto status_text = json::GetString(v, "status");
  if (!status_text) return fail("no \"status\"");
  const auto status = MapStatus(*status_text);
  if (!status) return fail("unknown status \"" + *status_text + "\"");

  Pipeline p;
  RunRecord& r = p.run;
  r.source = std::string(source);
  r.pipeline = std::string(project);
  r.branch = json::GetString(v, "ref").value_or("");
  r.run_id = std::to_string(*id);
  r.number = json::GetInt(v, "iid");
  r.event = json::GetString(v, "source").value_or("");
  r.status = *status;
  r.result = MapResult(*status_text);
  r.url = json::GetString(v, "web_url").value_or("");

  std::optional<TimePoint> created, started, finished;
  if (Status s = ReadTimes(v, {{&created, "created_at"},
                               {&started, "started_at"},
                               {&finished, "finished_at"},
                               {&p.updated_at, "updated_at"}});
      !s.ok()) {
    return fail(s.message());
  }
  r.created_at = created;
  r.started_at = started;
  if (const auto d = json::GetNumber(v, "duration")) {
    p.has_duration = true;
    if (r.status == RunStatus::kCompleted) r.duration_seconds = std::max(0.0, *d);
  }
  if (const auto q = json::GetNumber(v, "queued_duration")) {
    p.has_queued_duration = true;
    r.queue_seconds = std::max(0.0, *q);
  }
  if (r.status == RunStatus::kCompleted) {
    r.finished_at = finished ? finished : p.updated_at;
    if (!r.started_at && r.finished_at && r.duration_seconds && *r.duration_seconds > 0) {
      // Webhooks carry no started_at: it is finished_at - duration.
      r.started_at = *r.finished_at - std::chrono::duration_cast<TimePoint::duration>(
                                          Seconds(*r.duration_seconds));
    } else if (!r.started_at) {
      // Never started (canceled while pending, skipped): it waited, then ended.
      r.started_at = r.finished_at ? r.finished_at : r.created_at;
      r.duration_seconds = 0.0;
    }
    if (r.started_at && r.finished_at && *r.finished_at < *r.started_at) {
      r.finished_at = r.started_at;
    }
  }
  Normalize(r);
  if (validate) {
    if (Status s = Validate(r); !s.ok()) return fail(s.message());
  }
  return p;
}

Result<Pipeline> ParsePipeline(std::string_view body, std::string_view source,
                               std::string_view project) {
  auto doc = json::Parse(body);
  if (!doc) return doc.status();
  return PipelineFromJson(*doc, source, project);
}

Result<PipelinesPage> ParsePipelinesPage(std::string_view body, std::string_view source,
                                         std::string_view project) {
  PipelinesPage page;
  auto items = ParseArray<Pipeline>(
      body, "pipelines",
      [&](const value& v) { return PipelineFromJson(v, source, project, /*validate=*/false); },
      page.errors);
  if (!items) return items.status();
  page.pipelines = std::move(*items);
  return page;
}

Result<RunRecord> ParsePipelineEvent(std::string_view body, std::string_view source) {
  auto doc = json::Parse(body);
  if (!doc) return doc.status();
  if (json::GetString(*doc, "object_kind") != "pipeline") {
    return ParseError("webhook delivery is not a pipeline event (object_kind)");
  }
  const value* attrs = json::Find(*doc, "object_attributes");
  if (attrs == nullptr || !attrs->is_object()) {
    return ParseError("pipeline event has no \"object_attributes\" object");
  }
  std::string project;
  if (const value* p = json::Find(*doc, "project")) {
    project = json::GetString(*p, "path_with_namespace").value_or("");
  }
  if (project.empty()) return ParseError("pipeline event has no project.path_with_namespace");
  auto pipeline = PipelineFromJson(*attrs, source, project);
  if (!pipeline) return pipeline.status();
  // A webhook carries no web_url of the pipeline: build it from the project's.
  RunRecord run = std::move(pipeline->run);
  if (run.url.empty()) {
    if (const value* p = json::Find(*doc, "project")) {
      if (auto web = json::GetString(*p, "web_url")) run.url = *web + "/-/pipelines/" + run.run_id;
    }
  }
  return run;
}

Result<Job> JobFromJson(const value& v) {
  if (!v.is_object()) return ParseError("a job must be a JSON object");
  const auto id = json::GetInt(v, "id");
  if (!id) return ParseError("job without a numeric \"id\"");
  Job job;
  job.id = *id;
  job.name = json::GetString(v, "name").value_or("");
  job.stage = json::GetString(v, "stage").value_or("");
  job.status = json::GetString(v, "status").value_or("");
  job.failure_reason = json::GetString(v, "failure_reason");
  job.allow_failure = json::GetBool(v, "allow_failure").value_or(false);
  if (Status s = ReadTimes(v, {{&job.created_at, "created_at"},
                               {&job.started_at, "started_at"},
                               {&job.finished_at, "finished_at"}});
      !s.ok()) {
    return s.WithContext("job " + std::to_string(*id));
  }
  job.duration_seconds = json::GetNumber(v, "duration");
  job.queue_seconds = json::GetNumber(v, "queued_duration");
  if (const value* down = json::Find(v, "downstream_pipeline"); down && down->is_object()) {
    job.downstream_pipeline_id = json::GetInt(*down, "id");
  }
  return job;
}

Result<JobsPage> ParseJobsPage(std::string_view body) {
  JobsPage page;
  auto items = ParseArray<Job>(body, "jobs", JobFromJson, page.errors);
  if (!items) return items.status();
  page.jobs = std::move(*items);
  return page;
}

JobsSummary SummarizeJobs(const std::vector<Job>& jobs) {
  JobsSummary out;
  int failed = 0, timeouts = 0, system = 0;
  for (const Job& job : jobs) {
    // A bridge waits for its downstream pipeline, which is a run of its own.
    if (job.downstream_pipeline_id) continue;
    if (job.started_at && job.status != "skipped" && job.status != "manual" &&
        (!out.first_started || *job.started_at < *out.first_started)) {
      out.first_started = job.started_at;
    }
    if (job.status != "failed" || job.allow_failure) continue;
    ++failed;
    const std::string reason = job.failure_reason.value_or("");
    if (IsTimeoutReason(reason)) ++timeouts;
    if (IsSystemReason(reason)) ++system;
  }
  if (failed > 0) {
    out.failed_result = timeouts == failed ? "timeout" : system == failed ? "error" : "failure";
  }
  return out;
}

void ApplyJobs(RunRecord& run, const JobsSummary& summary, bool keep_queue) {
  if (!keep_queue && summary.first_started && run.created_at) {
    run.queue_seconds = std::max(0.0, Seconds(*summary.first_started - *run.created_at).count());
  }
  if (run.result == "failure" && summary.failed_result) run.result = summary.failed_result;
}

Result<TestCounts> ParseTestReport(std::string_view body) {
  auto doc = json::Parse(body);
  if (!doc) return doc.status();
  if (!doc->is_object()) return ParseError("test report is not a JSON object");
  const boost::json::array* suites = json::FindArray(*doc, "test_suites");
  TestCounts out;
  // No suites: the pipeline reported no tests, which is unknown, not zero.
  if (suites == nullptr || suites->empty()) return out;
  const value* summary = json::Find(*doc, "total");
  auto count = [&](const char* summary_key, const char* report_key) {
    return summary != nullptr && summary->is_object() ? json::GetInt(*summary, summary_key)
                                                      : json::GetInt(*doc, report_key);
  };
  out.total = count("count", "total_count");
  if (!out.total) return ParseError("test report has no total count");
  const auto failed = count("failed", "failed_count");
  const auto errors = count("error", "error_count");
  if (failed || errors) out.failed = failed.value_or(0) + errors.value_or(0);
  out.skipped = count("skipped", "skipped_count");
  for (auto* n : {&out.total, &out.failed, &out.skipped}) {
    if (*n && **n < 0) return ParseError("test report has a negative count");
  }
  return out;
}

Result<std::vector<Project>> ParseProjectsPage(std::string_view body) {
  std::vector<std::string> errors;
  auto items = ParseArray<Project>(
      body, "projects",
      [](const value& v) -> Result<Project> {
        const auto path = json::GetString(v, "path_with_namespace");
        if (!path || !IsProjectPath(*path)) {
          return ParseError("project without a valid \"path_with_namespace\"");
        }
        return Project{json::GetInt(v, "id").value_or(0), *path,
                       json::GetBool(v, "archived").value_or(false)};
      },
      errors);
  if (!items) return items.status();
  if (!errors.empty()) return ParseError("projects" + errors.front());
  return items;
}

}  // namespace cicd::exporter::gitlab
