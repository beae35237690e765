#include "cicd/exporter/sources/gitlab.h"

#include <algorithm>
#include <iterator>
#include <set>

#include "cicd/core/log.h"

namespace cicd::exporter {
namespace {

// Pages of a group's project list per discovery: 10,000 projects at 100 a
// page, far more than one exporter should poll.
constexpr int kMaxDiscoveryPages = 100;
constexpr int kJobsPerPage = 100;

std::string Trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return "";
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

std::string WithoutQuery(const std::string& url) { return url.substr(0, url.find('?')); }

std::string Header(const ApiResponse& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

std::string CacheKey(const std::string& project, const RunRecord& run) {
  return project + "#" + run.run_id;
}

// Rate limited or refused: asking again this poll cannot help.
bool Blocks(const Status& s) {
  return s.code() == ErrorCode::kRateLimited || s.code() == ErrorCode::kUnauthenticated;
}

GitlabGroup ReadGroup(const YAML::Node& node, const std::string& path) {
  YamlMap g(node, path);
  GitlabGroup out;
  out.path = g.RequiredString("path");
  while (!out.path.empty() && out.path.back() == '/') out.path.pop_back();
  if (!gitlab::IsProjectPath(out.path, /*allow_single=*/true)) {
    g.Fail("path", "\"" + out.path + "\" is not a group path such as \"my-group\" or \"my-group/sub\"");
  }
  out.include_subgroups = g.Bool("include_subgroups", out.include_subgroups);
  out.projects.include = g.StringList("include");
  out.projects.exclude = g.StringList("exclude");
  out.include_archived = g.Bool("include_archived", out.include_archived);
  g.Finish();
  return out;
}

}  // namespace

GitlabSettings ParseGitlabSettings(YamlMap& y) {
  GitlabSettings s;
  s.url = Trim(y.ExpandedString("url", s.url));
  while (!s.url.empty() && s.url.back() == '/') s.url.pop_back();
  constexpr std::string_view kApi = "/api/v4";
  if (s.url.size() > kApi.size() && s.url.compare(s.url.size() - kApi.size(), kApi.size(), kApi) == 0) {
    s.url.resize(s.url.size() - kApi.size());
  }
  if (auto url = Url::Parse(s.url); !url) y.Fail("url", url.status().message());

  // Trimmed because tokens read from files often end in a newline, which
  // would make an invalid header.
  s.token = Trim(y.ExpandedString("token", ""));
  Logging::AddSecret(s.token);
  // The message must not quote the value: it is a secret.
  if (std::any_of(s.token.begin(), s.token.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; })) {
    y.Fail("token", "contains spaces or control characters; check the variable or file");
  }

  s.projects = y.StringList("projects");
  std::set<std::string> seen;
  for (const auto& p : s.projects) {
    if (!gitlab::IsProjectPath(p)) {
      y.Fail("projects", "\"" + p + "\" is not a \"group/project\" path");
    }
    if (!seen.insert(p).second) y.Fail("projects", "\"" + p + "\" is listed twice");
  }
  const YAML::Node groups = y.Child("groups");
  if (groups && !groups.IsNull()) {
    if (!groups.IsSequence()) y.Fail("groups", "must be a list of {path, ...} entries");
    for (std::size_t i = 0; i < groups.size(); ++i) {
      s.groups.push_back(ReadGroup(groups[i], y.path() + ".groups[" + std::to_string(i) + "]"));
    }
  }
  if (s.projects.empty() && s.groups.empty()) {
    y.Fail("projects", "required: a list of \"group/project\" paths, or groups to discover them");
  }
  s.discovery_interval = y.Duration("discovery_interval", s.discovery_interval);
  if (s.discovery_interval < Millis(60'000)) y.Fail("discovery_interval", "must be at least 1m");
  s.per_page = static_cast<int>(y.Int("per_page", s.per_page, 1, 100));
  s.max_pages = static_cast<int>(y.Int("max_pages", s.max_pages, 1, 1000));
  s.fetch_jobs = y.Bool("fetch_jobs", s.fetch_jobs);
  s.fetch_test_reports = y.Bool("fetch_test_reports", s.fetch_test_reports);
  return s;
}

SourceFactory ParseGitlabConfig(YamlMap& y, SourceCommon& common) {
  GitlabSettings s = ParseGitlabSettings(y);
  if (s.token.empty()) {
    LogWarn("gitlab source without a token: public projects only", {{"source", common.name}});
  }
  return [s](const SourceCommon& c, const SourceDeps& deps) -> std::unique_ptr<Source> {
    return std::make_unique<GitlabSource>(c, s, deps);
  };
}

struct GitlabSource::Enrichment {
  bool blocked = false;          // stop asking this poll
  std::size_t no_details = 0;    // pipelines left out, asked again next poll
  std::size_t incomplete = 0;    // returned without jobs or test counts
  Status first_error;

  void Failed(const Status& s) {
    if (first_error.ok()) first_error = s;
    blocked = blocked || Blocks(s);
  }
};

GitlabSource::GitlabSource(const SourceCommon& common, GitlabSettings settings,
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
  if (!settings_.token.empty()) headers.emplace_back("PRIVATE-TOKEN", settings_.token);
  api_ = std::make_unique<ApiClient>(name_, common.api, std::move(headers), fetcher, clock_,
                                     deps.observer, deps.sleep);
  api_root_ = JoinUrl(settings_.url, "/api/v4");
  if (auto url = Url::Parse(api_root_)) api_origin_ = url->Origin();
}

std::string GitlabSource::ProjectUrl(const std::string& project) const {
  return api_root_ + "/projects/" + UrlEncode(project);
}

Status GitlabSource::GetPages(const std::string& first, int max_pages,
                              const std::function<Status(const std::string&)>& page,
                              bool* truncated) {
  if (truncated != nullptr) *truncated = false;
  std::string url = first;
  for (int n = 1;; ++n) {
    auto response = api_->Get(url);
    if (!response) return response.status();
    if (Status s = page(response->body); !s.ok()) {
      return s.WithContext("GET " + WithoutQuery(url) + " page " + std::to_string(n));
    }
    // A 304 repeats no pagination headers: the cached Link still has them.
    const auto next = gitlab::NextPage(Header(*response, "x-next-page"), response->link);
    const std::string link = NextLink(response->link);
    if (!next && link.empty()) return Status::Ok();
    if (n >= max_pages) {
      if (truncated != nullptr) *truncated = true;
      return Status::Ok();
    }
    // The next URL is built from `first` (which this code encoded) and the
    // page number, since cpp-httplib percent-decodes header values. A link
    // without one (keyset pagination) is followed as it is.
    url = next ? first + "&page=" + std::to_string(*next) : link;
    auto parsed = Url::Parse(url);
    if (!parsed || parsed->Origin() != api_origin_) {
      // The token goes with every request: never follow a link elsewhere.
      return Status::Error(ErrorCode::kParse,
                           "pagination link leaves " + api_origin_ + "; not followed");
    }
  }
}

Result<PollResult> GitlabSource::Poll(TimePoint since) {
  PollResult out;
  std::vector<std::string> projects;
  const Status discovery = Discover(projects, out);
  if (projects.empty()) {
    if (!discovery.ok()) return discovery;
    LogDebug("gitlab groups hold no matching project", {{"source", name_}});
    return out;
  }
  Status first_error;
  std::size_t failed = 0;
  for (const auto& project : projects) {
    const Status s = PollProject(project, since, out);
    if (s.ok()) continue;
    ++failed;
    const Status with_project = s.WithContext(project);
    // The poller logs partial errors and failed polls; debug avoids doubles.
    LogDebug("gitlab project failed", {{"source", name_}, {"err", with_project}});
    if (first_error.ok()) first_error = with_project;
    out.partial_errors.push_back(with_project.ToString());
  }
  if (failed == projects.size() && !first_error.ok()) {
    if (failed == 1) return first_error;
    return first_error.WithContext("all " + std::to_string(failed) + " projects failed");
  }
  return out;
}

Status GitlabSource::Discover(std::vector<std::string>& projects, PollResult& out) {
  projects = settings_.projects;
  if (settings_.groups.empty()) return Status::Ok();
  const TimePoint now = clock_->Now();
  Status first_error;
  if (!discovered_at_ || now - *discovered_at_ >= settings_.discovery_interval) {
    std::set<std::string> found;
    for (const auto& group : settings_.groups) {
      auto listed = ListGroupProjects(group);
      if (!listed) {
        const Status s = listed.status().WithContext("group " + group.path);
        if (first_error.ok()) first_error = s;
        out.partial_errors.push_back(s.ToString());
        continue;
      }
      found.insert(listed->begin(), listed->end());
    }
    if (first_error.ok()) {
      discovered_.assign(found.begin(), found.end());
      discovered_at_ = now;
    } else {
      // Keep what earlier discoveries found; try again next poll.
      found.insert(discovered_.begin(), discovered_.end());
      discovered_.assign(found.begin(), found.end());
    }
  }
  for (const auto& p : discovered_) {
    if (std::find(projects.begin(), projects.end(), p) == projects.end()) projects.push_back(p);
  }
  return first_error;
}

Result<std::vector<std::string>> GitlabSource::ListGroupProjects(const GitlabGroup& group) {
  // with_shared=false: projects shared with the group belong to another.
  const std::string first = api_root_ + "/groups/" + UrlEncode(group.path) +
                            "/projects?include_subgroups=" +
                            (group.include_subgroups ? "true" : "false") +
                            (group.include_archived ? "" : "&archived=false") +
                            "&with_shared=false&simple=true&order_by=id&sort=asc&per_page=" +
                            std::to_string(settings_.per_page);
  std::vector<std::string> out;
  bool truncated = false;
  const Status s = GetPages(first, kMaxDiscoveryPages, [&](const std::string& body) {
    auto page = gitlab::ParseProjectsPage(body);
    if (!page) return page.status();
    for (const auto& p : *page) {
      if (p.archived && !group.include_archived) continue;
      if (group.projects.Allows(p.path_with_namespace)) out.push_back(p.path_with_namespace);
    }
    return Status::Ok();
  }, &truncated);
  if (truncated) {
    LogWarn("gitlab group has more projects than one discovery reads; the rest are left out",
            {{"source", name_}, {"group", group.path}, {"projects", out.size()}});
  }
  if (!s.ok()) return s;
  LogDebug("gitlab group projects", {{"source", name_}, {"group", group.path}, {"projects", out.size()}});
  return out;
}

Status GitlabSource::PollProject(const std::string& project, TimePoint since, PollResult& out) {
  // Rounded down to the hour so consecutive polls request the same URL.
  const TimePoint updated_after = std::chrono::floor<std::chrono::hours>(since);
  auto listed = ListPipelines(project, updated_after);
  if (!listed) return listed.status();

  std::vector<RunRecord> finished;
  std::vector<RunRecord> active;
  std::set<std::string> listed_keys;
  Enrichment enrichment;
  for (gitlab::Pipeline& p : *listed) {
    const std::string key = CacheKey(project, p.run);
    listed_keys.insert(key);
    if (p.run.status == RunStatus::kQueued) {
      if (Validate(p.run).ok()) active.push_back(std::move(p.run));
      continue;
    }
    if (p.run.status == RunStatus::kCompleted && p.updated_at && *p.updated_at < since) continue;
    const std::string updated_key = p.updated_at ? FormatRfc3339Millis(*p.updated_at) : "";
    RunRecord run;
    if (auto cached = cache_.find(key);
        cached != cache_.end() && cached->second.updated_key == updated_key) {
      run = cached->second.run;
    } else if (enrichment.blocked) {
      ++enrichment.no_details;
      continue;
    } else {
      const std::size_t incomplete = enrichment.incomplete;
      auto read = ReadPipeline(project, p, enrichment);
      if (!read) {
        enrichment.Failed(read.status());
        ++enrichment.no_details;
        continue;
      }
      run = std::move(*read);
      // Incomplete reads are asked again next poll.
      if (enrichment.incomplete == incomplete) cache_[key] = Cached{updated_key, run};
    }
    (run.status == RunStatus::kCompleted ? finished : active).push_back(std::move(run));
  }

  // Forget pipelines that left the listing so the cache stays bounded.
  const std::string prefix = project + "#";
  for (auto it = cache_.lower_bound(prefix);
       it != cache_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
    it = listed_keys.count(it->first) ? std::next(it) : cache_.erase(it);
  }

  if (enrichment.no_details > 0) {
    out.partial_errors.push_back(
        enrichment.first_error
            .WithContext(project + ": details of " + std::to_string(enrichment.no_details) +
                         " pipelines unavailable, left for the next poll")
            .ToString());
  }
  if (enrichment.incomplete > 0) {
    out.partial_errors.push_back(
        enrichment.first_error
            .WithContext(project + ": jobs or test reports of " +
                         std::to_string(enrichment.incomplete) +
                         " finished pipelines unavailable, counted without them")
            .ToString());
  }
  LogDebug("gitlab project polled", {{"source", name_},
                                     {"project", project},
                                     {"finished", finished.size()},
                                     {"active", active.size()},
                                     {"updated_after", FormatRfc3339(updated_after)}});
  std::move(finished.begin(), finished.end(), std::back_inserter(out.finished));
  std::move(active.begin(), active.end(), std::back_inserter(out.active));
  return Status::Ok();
}

Result<std::vector<gitlab::Pipeline>> GitlabSource::ListPipelines(const std::string& project,
                                                                  TimePoint updated_after) {
  const std::string first = ProjectUrl(project) + "/pipelines?updated_after=" +
                            UrlEncode(FormatRfc3339(updated_after)) +
                            "&per_page=" + std::to_string(settings_.per_page);
  std::vector<gitlab::Pipeline> pipelines;
  std::set<std::string> ids;
  std::size_t malformed = 0;
  std::string first_malformed;
  bool truncated = false;
  const Status s = GetPages(first, settings_.max_pages, [&](const std::string& body) {
    auto page = gitlab::ParsePipelinesPage(body, name_, project);
    if (!page) return page.status();
    for (auto& p : page->pipelines) {
      // New pipelines shift older ones onto the next page while we paginate.
      if (ids.insert(p.run.run_id).second) pipelines.push_back(std::move(p));
    }
    malformed += page->errors.size();
    if (first_malformed.empty() && !page->errors.empty()) first_malformed = page->errors[0];
    return Status::Ok();
  }, &truncated);
  if (!s.ok()) return s;
  if (truncated) {
    // Not a failure of the source, so a warning (once per project) rather
    // than a partial error.
    if (truncation_warned_.insert(project).second) {
      LogWarn("gitlab pipeline listing cut at max_pages; the oldest pipelines are left out",
              {{"source", name_},
               {"project", project},
               {"max_pages", settings_.max_pages},
               {"hint", "raise max_pages or poll more often"}});
    }
  }
  if (malformed > 0) {
    LogWarn("skipping malformed gitlab pipelines", {{"source", name_},
                                                    {"project", project},
                                                    {"count", malformed},
                                                    {"first", first_malformed}});
  }
  return pipelines;
}

Result<RunRecord> GitlabSource::ReadPipeline(const std::string& project,
                                             const gitlab::Pipeline& listed,
                                             Enrichment& enrichment) {
  const std::string base = ProjectUrl(project) + "/pipelines/" + listed.run.run_id;
  auto response = api_->Get(base);
  if (!response) return response.status();
  auto details = gitlab::ParsePipeline(response->body, name_, project);
  if (!details) return details.status().WithContext("GET " + base);
  RunRecord run = std::move(details->run);
  if (run.status != RunStatus::kCompleted) return run;

  bool complete = true;
  if (settings_.fetch_jobs && !enrichment.blocked) {
    std::vector<gitlab::Job> jobs;
    const Status s = GetPages(base + "/jobs?per_page=" + std::to_string(kJobsPerPage),
                              settings_.max_pages, [&](const std::string& body) {
                                auto page = gitlab::ParseJobsPage(body);
                                if (!page) return page.status();
                                std::move(page->jobs.begin(), page->jobs.end(),
                                          std::back_inserter(jobs));
                                return Status::Ok();
                              });
    if (s.ok()) {
      gitlab::ApplyJobs(run, gitlab::SummarizeJobs(jobs), details->has_queued_duration);
    } else {
      complete = false;
      enrichment.Failed(s);
    }
  } else if (settings_.fetch_jobs) {
    complete = false;
  }

  if (settings_.fetch_test_reports && !enrichment.blocked) {
    auto report = api_->Get(base + "/test_report_summary");
    Result<gitlab::TestCounts> counts =
        report ? gitlab::ParseTestReport(report->body) : Result<gitlab::TestCounts>(report.status());
    if (counts) {
      run.tests_total = counts->total;
      run.tests_failed = counts->failed;
      run.tests_skipped = counts->skipped;
    } else {
      complete = false;
      enrichment.Failed(counts.status().WithContext("GET " + base + "/test_report_summary"));
    }
  } else if (settings_.fetch_test_reports) {
    complete = false;
  }
  if (!complete) ++enrichment.incomplete;
  if (Status s = Validate(run); !s.ok()) return s.WithContext("pipeline " + run.run_id);
  return run;
}

}  // namespace cicd::exporter
