#include "cicd/exporter/sources/circleci.h"

#include <algorithm>
#include <iterator>
#include <set>

#include "cicd/core/log.h"
#include "source_util.h"

namespace cicd::exporter {
namespace {

// A pipeline whose workflows all finished is asked again after this long:
// a re-run adds a workflow to it, and whether that moves the pipeline's
// updated_at is not documented.
constexpr auto kRecheckFinished = std::chrono::minutes(15);

std::string Query(const std::string& url, const std::string& page_token) {
  if (page_token.empty()) return url;
  return url + (url.find('?') == std::string::npos ? "?" : "&") +
         "page-token=" + UrlEncode(page_token);
}

bool AllFinished(const std::vector<RunRecord>& runs) {
  return std::all_of(runs.begin(), runs.end(),
                     [](const RunRecord& r) { return r.status == RunStatus::kCompleted; });
}

}  // namespace

CircleciSettings ParseCircleciSettings(YamlMap& y) {
  CircleciSettings s;
  for (auto [field, key] : {std::pair{&s.api_url, "url"}, std::pair{&s.web_url, "web_url"}}) {
    *field = detail::TrimSpace(y.ExpandedString(key, *field));
    while (!field->empty() && field->back() == '/') field->pop_back();
    if (auto url = Url::Parse(*field); !url) y.Fail(key, url.status().message());
  }
  s.token = detail::ReadToken(y, "token");
  if (s.token.empty()) y.Fail("token", "required: a personal API token");

  if (!y.Has("projects")) {
    y.Fail("projects", "required: a list of project slugs such as \"gh/org/repo\"");
  }
  std::set<std::string> seen;
  for (const auto& p : y.StringList("projects")) {
    const auto slug = circleci::NormalizeSlug(p);
    if (!slug) {
      y.Fail("projects", "\"" + p +
                             "\" is not a project slug (gh/org/repo, bb/org/repo or "
                             "circleci/<org-id>/<project-id>)");
    }
    if (!seen.insert(*slug).second) y.Fail("projects", "\"" + p + "\" is listed twice");
    s.projects.push_back(*slug);
  }
  if (s.projects.empty()) y.Fail("projects", "needs at least one project slug");

  YamlMap workflows(y.Child("workflows"), y.path() + ".workflows");
  s.workflows.include = workflows.StringList("include");
  s.workflows.exclude = workflows.StringList("exclude");
  workflows.Finish();

  s.max_pages = static_cast<int>(y.Int("max_pages", s.max_pages, 1, 1000));
  s.fetch_jobs = y.Bool("fetch_jobs", s.fetch_jobs);
  s.created_margin = y.Duration("created_margin", s.created_margin);
  if (s.created_margin < Millis(0)) y.Fail("created_margin", "must not be negative");
  return s;
}

SourceFactory ParseCircleciConfig(YamlMap& y, SourceCommon&) {
  CircleciSettings s = ParseCircleciSettings(y);
  return [s](const SourceCommon& c, const SourceDeps& deps) -> std::unique_ptr<Source> {
    return std::make_unique<CircleciSource>(c, s, deps);
  };
}

CircleciSource::CircleciSource(const SourceCommon& common, CircleciSettings settings,
                               const SourceDeps& deps)
    : name_(common.name),
      settings_(std::move(settings)),
      clock_(deps.clock != nullptr ? deps.clock : &SystemClock::Get()) {
  // Again here, for sources built without the config parser.
  Logging::AddSecret(settings_.token);
  HttpFetcher* fetcher = deps.fetcher;
  if (fetcher == nullptr) {
    owned_fetcher_ = std::make_unique<HttplibFetcher>(common.api.http);
    fetcher = owned_fetcher_.get();
  }
  std::vector<std::pair<std::string, std::string>> headers = {{"Accept", "application/json"}};
  if (!settings_.token.empty()) headers.emplace_back("Circle-Token", settings_.token);
  api_ = std::make_unique<ApiClient>(name_, common.api, std::move(headers), fetcher, clock_,
                                     deps.observer, deps.sleep);
}

Result<PollResult> CircleciSource::Poll(TimePoint since) {
  PollResult out;
  Status first_error;
  std::size_t failed = 0;
  for (const auto& slug : settings_.projects) {
    const Status s = PollProject(slug, since, out);
    if (s.ok()) continue;
    ++failed;
    const Status with_slug = s.WithContext(slug);
    LogDebug("circleci project failed", {{"source", name_}, {"err", with_slug}});
    if (first_error.ok()) first_error = with_slug;
    out.partial_errors.push_back(with_slug.ToString());
  }
  if (failed == settings_.projects.size() && !first_error.ok()) {
    if (failed == 1) return first_error;
    return first_error.WithContext("all " + std::to_string(failed) + " projects failed");
  }
  return out;
}

Status CircleciSource::PollProject(const std::string& slug, TimePoint since, PollResult& out) {
  const TimePoint created_since =
      since - std::chrono::duration_cast<TimePoint::duration>(settings_.created_margin);
  auto pipelines = ListPipelines(slug, created_since);
  if (!pipelines) return pipelines.status();

  const TimePoint now = clock_->Now();
  const std::string prefix = slug + "#";
  std::set<std::string> pipeline_keys;
  std::set<std::string> workflow_keys;
  std::size_t workflows_missing = 0, jobs_missing = 0;
  Status workflows_error, jobs_error;
  bool blocked = false;  // rate limited or refused: stop asking this poll
  for (const auto& pipeline : *pipelines) {
    if (pipeline.created_at && *pipeline.created_at < created_since) continue;
    const std::string key = prefix + pipeline.id;
    pipeline_keys.insert(key);
    auto cached = pipelines_.find(key);
    const bool fresh = cached != pipelines_.end() &&
                       cached->second.updated_at == pipeline.updated_at &&
                       AllFinished(cached->second.runs) && now - cached->second.asked < kRecheckFinished;
    if (!fresh && !blocked) {
      auto listed = ListWorkflows(slug, pipeline);
      if (listed) {
        cached = pipelines_
                     .insert_or_assign(key, CachedPipeline{pipeline.updated_at, now,
                                                           std::move(listed->runs),
                                                           std::move(listed->names)})
                     .first;
      } else {
        ++workflows_missing;
        if (workflows_error.ok()) workflows_error = listed.status();
        const ErrorCode code = listed.status().code();
        blocked = code == ErrorCode::kRateLimited || code == ErrorCode::kUnauthenticated;
      }
    } else if (!fresh) {
      ++workflows_missing;
    }
    if (cached == pipelines_.end()) continue;  // never listed: nothing to show

    const CachedPipeline& entry = cached->second;
    for (std::size_t i = 0; i < entry.runs.size(); ++i) {
      if (!settings_.workflows.Allows(entry.names[i])) continue;
      RunRecord run = entry.runs[i];
      workflow_keys.insert(prefix + run.run_id);
      if (run.status != RunStatus::kCompleted) {
        out.active.push_back(std::move(run));
        continue;
      }
      if (!run.finished_at || *run.finished_at < since) continue;
      if (settings_.fetch_jobs) {
        const std::string wkey = prefix + run.run_id;
        auto times = job_times_.find(wkey);
        if (times == job_times_.end() && !blocked) {
          auto fetched = FetchJobTimes(slug, run);
          if (fetched) {
            times = job_times_.emplace(wkey, *fetched).first;
          } else {
            if (jobs_error.ok()) jobs_error = fetched.status();
            const ErrorCode code = fetched.status().code();
            blocked = code == ErrorCode::kRateLimited || code == ErrorCode::kUnauthenticated;
          }
        }
        if (times != job_times_.end()) {
          circleci::ApplyJobTimes(run, *run.started_at, times->second);
        } else {
          ++jobs_missing;
        }
      }
      out.finished.push_back(std::move(run));
    }
  }

  // Forget what left the window so the caches stay bounded.
  for (auto it = pipelines_.lower_bound(prefix);
       it != pipelines_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
    it = pipeline_keys.count(it->first) ? std::next(it) : pipelines_.erase(it);
  }
  for (auto it = job_times_.lower_bound(prefix);
       it != job_times_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
    it = workflow_keys.count(it->first) ? std::next(it) : job_times_.erase(it);
  }

  if (workflows_missing > 0) {
    Status s = workflows_error.ok() ? Status::Error(ErrorCode::kRateLimited, "not asked")
                                    : workflows_error;
    out.partial_errors.push_back(
        s.WithContext(slug + ": workflows of " + std::to_string(workflows_missing) +
                      " pipelines unavailable")
            .ToString());
  }
  if (jobs_missing > 0) {
    Status s = jobs_error.ok() ? Status::Error(ErrorCode::kRateLimited, "not asked") : jobs_error;
    out.partial_errors.push_back(
        s.WithContext(slug + ": jobs of " + std::to_string(jobs_missing) +
                      " finished workflows unavailable, their workflow-level times are used")
            .ToString());
  }
  LogDebug("circleci project polled", {{"source", name_},
                                       {"project", slug},
                                       {"pipelines", pipeline_keys.size()},
                                       {"created_since", FormatRfc3339(created_since)}});
  return Status::Ok();
}

Result<std::vector<circleci::Pipeline>> CircleciSource::ListPipelines(const std::string& slug,
                                                                      TimePoint created_since) {
  const std::string first = JoinUrl(settings_.api_url, "/project/" + slug + "/pipeline");
  std::vector<circleci::Pipeline> out;
  std::set<std::string> ids;
  std::size_t malformed = 0;
  std::string first_malformed;
  std::string token;
  for (int page = 1;; ++page) {
    const std::string url = Query(first, token);
    auto response = api_->Get(url);
    if (!response) return response.status();
    auto parsed = circleci::ParsePipelinesPage(response->body);
    if (!parsed) {
      return parsed.status().WithContext("GET " + first + " page " + std::to_string(page));
    }
    bool older = false;
    for (auto& p : parsed->pipelines) {
      older = older || (p.created_at && *p.created_at < created_since);
      if (ids.insert(p.id).second) out.push_back(std::move(p));
    }
    malformed += parsed->errors.size();
    if (first_malformed.empty() && !parsed->errors.empty()) first_malformed = parsed->errors[0];
    token = parsed->next_page_token;
    // Newest first: once a page reaches before the window, the rest is older.
    if (token.empty() || older) break;
    if (page >= settings_.max_pages) {
      LogDebug("circleci pipeline listing cut at max_pages",
               {{"source", name_}, {"project", slug}, {"max_pages", settings_.max_pages}});
      break;
    }
  }
  if (malformed > 0) {
    LogWarn("skipping malformed pipelines", {{"source", name_},
                                            {"project", slug},
                                            {"count", malformed},
                                            {"first", first_malformed}});
  }
  return out;
}

Result<CircleciSource::Workflows> CircleciSource::ListWorkflows(
    const std::string& slug, const circleci::Pipeline& pipeline) {
  const std::string first =
      JoinUrl(settings_.api_url, "/pipeline/" + UrlEncode(pipeline.id) + "/workflow");
  Workflows out;
  std::string token;
  for (int page = 1;; ++page) {
    auto response = api_->Get(Query(first, token));
    if (!response) return response.status();
    auto parsed =
        circleci::ParseWorkflowsPage(response->body, pipeline, name_, slug, settings_.web_url);
    if (!parsed) return parsed.status().WithContext("GET " + first);
    if (!parsed->errors.empty()) {
      LogWarn("skipping malformed workflows", {{"source", name_},
                                              {"pipeline", pipeline.id},
                                              {"count", parsed->errors.size()},
                                              {"first", parsed->errors[0]}});
    }
    std::move(parsed->runs.begin(), parsed->runs.end(), std::back_inserter(out.runs));
    std::move(parsed->names.begin(), parsed->names.end(), std::back_inserter(out.names));
    token = parsed->next_page_token;
    if (token.empty() || page >= settings_.max_pages) break;
  }
  return out;
}

Result<circleci::JobTimes> CircleciSource::FetchJobTimes(const std::string& slug,
                                                         const RunRecord& run) {
  const std::string first =
      JoinUrl(settings_.api_url, "/workflow/" + UrlEncode(run.run_id) + "/job");
  std::vector<circleci::Job> jobs;
  std::string token;
  for (int page = 1;; ++page) {
    auto response = api_->Get(Query(first, token));
    if (!response) return response.status();
    auto parsed = circleci::ParseJobsPage(response->body);
    if (!parsed) return parsed.status().WithContext("GET " + first);
    std::move(parsed->jobs.begin(), parsed->jobs.end(), std::back_inserter(jobs));
    token = parsed->next_page_token;
    if (token.empty() || page >= settings_.max_pages) break;
  }
  // queued_at is only in a job's details. Approvals wait for people.
  for (circleci::Job& job : jobs) {
    if (!job.number || !job.started_at || job.type == "approval") continue;
    const std::string url = JoinUrl(
        settings_.api_url, "/project/" + slug + "/job/" + std::to_string(*job.number));
    auto response = api_->Get(url);
    if (!response) return response.status();
    auto details = circleci::ParseJobDetails(response->body);
    if (!details) return details.status().WithContext("GET " + url);
    job.queued_at = details->queued_at;
    if (details->started_at) job.started_at = details->started_at;
  }
  return circleci::SummarizeJobs(jobs);
}

}  // namespace cicd::exporter
