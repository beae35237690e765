// Pure parsers of CircleCI API v2 and webhook payloads (STYLE.md principle
// 1): bytes in, run records out, no I/O. The mapping is documented in
// circleci.h.
#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>

#include "cicd/core/json.h"
#include "cicd/exporter/sources/circleci.h"

namespace cicd::exporter::circleci {
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

// A number sent as a JSON number or as a string of digits (the GitLab
// integration sends ids as strings).
std::optional<std::int64_t> IntField(const value& v, const char* key) {
  if (auto n = json::GetInt(v, key)) return n;
  const auto s = json::GetString(v, key);
  if (!s || s->empty()) return std::nullopt;
  std::int64_t out = 0;
  const auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), out);
  if (ec != std::errc() || end != s->data() + s->size()) return std::nullopt;
  return out;
}

// A non-empty string at v[a][b], else "".
std::string NestedString(const value* v, const char* a, const char* b) {
  if (v == nullptr) return "";
  const value* inner = json::Find(*v, a);
  if (inner == nullptr) return "";
  return json::GetString(*inner, b).value_or("");
}

bool SlugPart(std::string_view part) {
  return !part.empty() && part != "." && part != ".." &&
         std::all_of(part.begin(), part.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
         });
}

// "gh/o/r" -> "github/o/r" as the web app spells it.
std::string WebSlug(std::string_view slug) {
  if (slug.rfind("gh/", 0) == 0) return "github/" + std::string(slug.substr(3));
  if (slug.rfind("bb/", 0) == 0) return "bitbucket/" + std::string(slug.substr(3));
  return std::string(slug);
}

template <typename Page, typename Item, typename F>
Result<Page> ParseItems(std::string_view body, const char* what, F&& parse_item,
                        std::vector<Item> Page::*items) {
  auto doc = json::Parse(body);
  if (!doc) return doc.status();
  if (!doc->is_object()) return ParseError(std::string(what) + " response is not a JSON object");
  const boost::json::array* list = json::FindArray(*doc, "items");
  if (list == nullptr) return ParseError(std::string(what) + " response has no \"items\" list");
  Page page;
  page.next_page_token = json::GetString(*doc, "next_page_token").value_or("");
  for (std::size_t i = 0; i < list->size(); ++i) {
    auto item = parse_item((*list)[i]);
    if (item) {
      (page.*items).push_back(std::move(*item));
    } else {
      page.errors.push_back("items[" + std::to_string(i) + "]: " + item.status().message());
    }
  }
  return page;
}

}  // namespace

std::optional<std::string> NormalizeSlug(std::string_view slug) {
  const auto first = slug.find('/');
  if (first == std::string_view::npos) return std::nullopt;
  const auto second = slug.find('/', first + 1);
  if (second == std::string_view::npos) return std::nullopt;
  std::string_view provider = slug.substr(0, first);
  const std::string_view org = slug.substr(first + 1, second - first - 1);
  const std::string_view project = slug.substr(second + 1);
  if (!SlugPart(org) || !SlugPart(project)) return std::nullopt;
  if (provider == "github") provider = "gh";
  if (provider == "bitbucket") provider = "bb";
  if (provider != "gh" && provider != "bb" && provider != "circleci") return std::nullopt;
  return std::string(provider) + "/" + std::string(org) + "/" + std::string(project);
}

std::optional<StatusMapping> MapWorkflowStatus(std::string_view status) {
  if (status == "running" || status == "failing" || status == "on_hold") {
    return StatusMapping{RunStatus::kRunning, {}};
  }
  if (status == "success") return StatusMapping{RunStatus::kCompleted, "success"};
  if (status == "failed") return StatusMapping{RunStatus::kCompleted, "failure"};
  if (status == "error" || status == "unauthorized") {
    return StatusMapping{RunStatus::kCompleted, "error"};
  }
  if (status == "canceled") return StatusMapping{RunStatus::kCompleted, "cancellation"};
  if (status == "not_run") return StatusMapping{RunStatus::kCompleted, "skip"};
  return std::nullopt;
}

Result<Pipeline> PipelineFromJson(const value& v) {
  if (!v.is_object()) return ParseError("a pipeline must be a JSON object");
  Pipeline p;
  p.id = json::GetString(v, "id").value_or("");
  if (p.id.empty()) return ParseError("pipeline without a string \"id\"");
  p.number = IntField(v, "number");
  auto created = TimeField(v, "created_at");
  if (!created) return created.status().WithContext("pipeline " + p.id);
  p.created_at = *created;
  p.updated_at = json::GetString(v, "updated_at").value_or("");
  const value* trigger = json::Find(v, "trigger");
  if (trigger != nullptr) p.event = json::GetString(*trigger, "type").value_or("");

  const value* vcs = json::Find(v, "vcs");
  const value* params = json::Find(v, "trigger_parameters");
  for (const std::string& candidate :
       {vcs ? json::GetString(*vcs, "branch").value_or("") : std::string(),
        vcs ? json::GetString(*vcs, "tag").value_or("") : std::string(),
        NestedString(params, "git", "branch"), NestedString(params, "gitlab", "branch")}) {
    if (!candidate.empty()) {
      p.branch = candidate;
      break;
    }
  }
  // A GitLab-integrated project's trigger.type is "gitlab"; what started the
  // pipeline is in its trigger parameters.
  const std::string gitlab_type = NestedString(params, "gitlab", "type");
  if (!gitlab_type.empty()) {
    p.trigger = gitlab_type == "merge_request" ? "pull_request" : TriggerFromEvent(gitlab_type);
  }
  return p;
}

Result<PipelinesPage> ParsePipelinesPage(std::string_view body) {
  return ParseItems<PipelinesPage, Pipeline>(
      body, "pipelines", [](const value& v) { return PipelineFromJson(v); },
      &PipelinesPage::pipelines);
}

Result<RunRecord> WorkflowFromJson(const value& w, const Pipeline& pipeline,
                                   std::string_view source, std::string_view slug,
                                   std::string_view web_url) {
  if (!w.is_object()) return ParseError("a workflow must be a JSON object");
  const auto id = json::GetString(w, "id");
  if (!id || id->empty()) return ParseError("workflow without a string \"id\"");
  const auto fail = [&](const std::string& m) { return ParseError("workflow " + *id + ": " + m); };
  const auto name = json::GetString(w, "name");
  if (!name || name->empty()) return fail("no \"name\"");
  const auto status_text = json::GetString(w, "status");
  if (!status_text) return fail("no \"status\"");
  const auto mapped = MapWorkflowStatus(*status_text);
  if (!mapped) return fail("unknown status \"" + *status_text + "\"");
  auto created = TimeField(w, "created_at");
  if (!created) return fail(created.status().message());
  if (!*created) return fail("no \"created_at\"");
  auto stopped = TimeField(w, "stopped_at");
  if (!stopped) return fail(stopped.status().message());

  RunRecord r;
  r.source = std::string(source);
  r.pipeline = std::string(slug) + "/" + *name;
  r.branch = pipeline.branch;
  r.run_id = *id;
  r.number = pipeline.number ? pipeline.number : IntField(w, "pipeline_number");
  r.event = pipeline.event;
  r.trigger = pipeline.trigger;
  r.status = mapped->status;
  // Without the jobs the start is unknown: the creation stands in for it and
  // created_at stays absent so no queue time of 0 is made up.
  r.started_at = **created;
  if (r.status == RunStatus::kCompleted) {
    r.result = mapped->result;
    r.finished_at = std::max(stopped->value_or(**created), **created);
  }
  if (!web_url.empty() && r.number) {
    r.url = std::string(web_url) + "/pipelines/" + WebSlug(slug) + "/" +
            std::to_string(*r.number) + "/workflows/" + *id;
  }
  Normalize(r);
  if (Status s = Validate(r); !s.ok()) return fail(s.message());
  return r;
}

Result<WorkflowsPage> ParseWorkflowsPage(std::string_view body, const Pipeline& pipeline,
                                         std::string_view source, std::string_view slug,
                                         std::string_view web_url) {
  auto page = ParseItems<WorkflowsPage, RunRecord>(
      body, "workflows",
      [&](const value& v) { return WorkflowFromJson(v, pipeline, source, slug, web_url); },
      &WorkflowsPage::runs);
  if (!page) return page;
  const std::size_t prefix = slug.size() + 1;
  for (const auto& run : page->runs) page->names.push_back(run.pipeline.substr(prefix));
  return page;
}

Result<Job> JobFromJson(const value& v) {
  if (!v.is_object()) return ParseError("a job must be a JSON object");
  Job job;
  job.id = json::GetString(v, "id").value_or("");
  job.number = IntField(v, "job_number");
  if (!job.number) job.number = IntField(v, "number");
  job.name = json::GetString(v, "name").value_or("");
  job.type = json::GetString(v, "type").value_or("");
  job.status = json::GetString(v, "status").value_or("");
  const std::string label = "job " + (job.name.empty() ? job.id : job.name);
  for (auto [field, key] : {std::pair{&job.queued_at, "queued_at"},
                            std::pair{&job.started_at, "started_at"},
                            std::pair{&job.stopped_at, "stopped_at"}}) {
    auto t = TimeField(v, key);
    if (!t) return t.status().WithContext(label);
    *field = *t;
  }
  return job;
}

Result<Job> ParseJobDetails(std::string_view body) {
  auto doc = json::Parse(body);
  if (!doc) return doc.status();
  return JobFromJson(*doc);
}

Result<JobsPage> ParseJobsPage(std::string_view body) {
  return ParseItems<JobsPage, Job>(
      body, "jobs", [](const value& v) { return JobFromJson(v); }, &JobsPage::jobs);
}

JobTimes SummarizeJobs(const std::vector<Job>& jobs) {
  JobTimes out;
  for (const Job& job : jobs) {
    if (!job.started_at) continue;
    if (!out.first_started || *job.started_at < *out.first_started) {
      out.first_started = job.started_at;
    }
    if (!job.queued_at) continue;
    const double wait = std::max(0.0, Seconds(*job.started_at - *job.queued_at).count());
    if (!out.queue_seconds || wait > *out.queue_seconds) out.queue_seconds = wait;
  }
  return out;
}

void ApplyJobTimes(RunRecord& run, TimePoint workflow_created, const JobTimes& times) {
  if (!times.first_started) return;  // nothing ran: the start stays unknown
  run.created_at = workflow_created;
  run.started_at = std::max(*times.first_started, workflow_created);
  if (run.finished_at && *run.finished_at < *run.started_at) run.finished_at = run.started_at;
  run.queue_seconds = times.queue_seconds;
  run.duration_seconds.reset();
  Normalize(run);
}

Result<RunRecord> ParseWorkflowCompletedEvent(std::string_view body, std::string_view source) {
  auto doc = json::Parse(body);
  if (!doc) return doc.status();
  if (json::GetString(*doc, "type") != "workflow-completed") {
    return ParseError("not a workflow-completed delivery");
  }
  const value* workflow = json::Find(*doc, "workflow");
  const value* pipeline = json::Find(*doc, "pipeline");
  const value* project = json::Find(*doc, "project");
  if (workflow == nullptr || pipeline == nullptr || project == nullptr) {
    return ParseError("delivery without workflow, pipeline and project objects");
  }
  const auto slug = NormalizeSlug(json::GetString(*project, "slug").value_or(""));
  if (!slug) return ParseError("delivery without a valid project \"slug\"");
  auto p = PipelineFromJson(*pipeline);
  if (!p) return p.status();
  auto run = WorkflowFromJson(*workflow, *p, source, *slug, "");
  if (!run) return run.status();
  run->url = json::GetString(*workflow, "url").value_or("");
  return run;
}

}  // namespace cicd::exporter::circleci
