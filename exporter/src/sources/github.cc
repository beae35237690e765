#include "cicd/exporter/sources/github.h"

#include <algorithm>
#include <cstring>
#include <iterator>
#include <limits>
#include <set>

#include "cicd/core/atomic_file.h"
#include "cicd/core/log.h"
#include "source_util.h"

namespace cicd::exporter {
namespace {

using detail::NextPageUrl;
using detail::WithoutQuery;

// Jobs of one attempt per page: GitHub's maximum, so a run needs one request
// unless its matrix has more than 100 jobs.
constexpr int kJobsPerPage = 100;
// Pages of 100 repositories listed per owner: 10,000 repositories.
constexpr int kMaxDiscoveryPages = 100;

// The workflow path part of a pipeline "owner/repo/.github/workflows/x.yml".
std::string_view WorkflowPath(const RunRecord& run, const std::string& repo) {
  std::string_view p = run.pipeline;
  if (p.size() > repo.size() && p.substr(0, repo.size()) == repo) p.remove_prefix(repo.size() + 1);
  return p;
}

// A run's identity in the job cache; the repository keeps runs of different
// repositories apart.
std::string CacheKey(const std::string& repo, const RunRecord& run) {
  return repo + "#" + run.Key();
}

// `app`: every key is read even when the mapping is absent, so the config
// reader asks for the same keys whatever the file holds.
std::optional<GithubAppSettings> ParseApp(YamlMap& y) {
  const bool present = y.Has("app");
  YamlMap app(y.Child("app"), y.path() + ".app");
  GithubAppSettings a;
  a.app_id = app.Int("app_id", 0, 1, std::numeric_limits<std::int64_t>::max());
  a.installation_id = app.Int("installation_id", 0, 1, std::numeric_limits<std::int64_t>::max());
  a.private_key_file = app.ExpandedString("private_key_file", "");
  app.Finish();
  if (!present) return std::nullopt;
  for (const char* key : {"app_id", "installation_id", "private_key_file"}) {
    if (!app.Has(key)) app.Fail(key, "required for GitHub App authentication");
  }
  auto pem = ReadFileToString(a.private_key_file);
  if (!pem) app.Fail("private_key_file", "cannot read the key: " + pem.status().message());
  a.private_key_pem = std::move(*pem);
  Logging::AddSecret(a.private_key_pem);
  if (const Status key = github::CheckAppPrivateKey(a.private_key_pem); !key.ok()) {
    app.Fail("private_key_file", key.message());
  }
  return a;
}

// One `organizations` entry: a login, or a mapping with the login as `name`.
GithubOwner ParseOwner(const YAML::Node& node, const std::string& path) {
  GithubOwner o;
  if (node.IsScalar()) {
    o.name = node.Scalar();
  } else {
    YamlMap m(node, path);
    o.name = m.RequiredString("name");
    const std::string type = m.String("type", "org");
    if (type != "org" && type != "user") m.Fail("type", "must be org or user");
    o.user = type == "user";
    o.repositories.include = m.StringList("include");
    o.repositories.exclude = m.StringList("exclude");
    o.archived = m.Bool("archived", o.archived);
    o.forks = m.Bool("forks", o.forks);
    m.Finish();
  }
  return o;
}

std::vector<GithubOwner> ParseOrganizations(YamlMap& y) {
  const YAML::Node list = y.Child("organizations");
  std::vector<GithubOwner> out;
  if (!list || list.IsNull()) return out;
  if (!list.IsSequence()) y.Fail("organizations", "expected a list of organisations or users");
  std::set<std::string> seen;
  for (std::size_t i = 0; i < list.size(); ++i) {
    GithubOwner o = ParseOwner(list[i], y.path() + ".organizations[" + std::to_string(i) + "]");
    // The owner half of an "owner/repo" name.
    if (!github::IsRepositoryName(o.name + "/x")) {
      y.Fail("organizations", "\"" + o.name + "\" is not a GitHub organisation or user name");
    }
    if (!seen.insert(o.name).second) {
      y.Fail("organizations", "\"" + o.name + "\" is listed twice");
    }
    out.push_back(std::move(o));
  }
  return out;
}

// The headers of every API request; no Authorization without a token.
std::vector<std::pair<std::string, std::string>> ApiHeaders(const std::string& token) {
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Accept", "application/vnd.github+json"},
      {"X-GitHub-Api-Version", "2022-11-28"},
  };
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  return headers;
}

}  // namespace

GithubSettings ParseGithubSettings(YamlMap& y) {
  GithubSettings s;
  s.api_url = detail::TrimSpace(y.ExpandedString("api_url", s.api_url));
  while (!s.api_url.empty() && s.api_url.back() == '/') s.api_url.pop_back();
  if (auto url = Url::Parse(s.api_url); !url) y.Fail("api_url", url.status().message());

  s.token = detail::ReadToken(y, "token");

  s.app = ParseApp(y);
  if (s.app && !s.token.empty()) {
    y.Fail("app", "set either token or app (GitHub App authentication), not both");
  }

  s.repositories = y.StringList("repositories");
  s.organizations = ParseOrganizations(y);
  if (s.repositories.empty() && s.organizations.empty()) {
    y.Fail("repositories",
           "required: a list of \"owner/repo\" names, or organizations to discover them in");
  }
  s.discovery_interval = y.Duration("discovery_interval", s.discovery_interval);
  if (s.discovery_interval < Millis(0)) y.Fail("discovery_interval", "must not be negative");
  std::set<std::string> seen;
  for (const auto& r : s.repositories) {
    if (!github::IsRepositoryName(r)) {
      y.Fail("repositories", "\"" + r + "\" is not an \"owner/repo\" name");
    }
    if (!seen.insert(r).second) y.Fail("repositories", "\"" + r + "\" is listed twice");
  }

  YamlMap workflows(y.Child("workflows"), y.path() + ".workflows");
  s.workflows.include = workflows.StringList("include");
  s.workflows.exclude = workflows.StringList("exclude");
  workflows.Finish();

  s.events = y.StringList("events");
  s.per_page = static_cast<int>(y.Int("per_page", s.per_page, 1, 100));
  s.max_pages = static_cast<int>(y.Int("max_pages", s.max_pages, 1, 1000));
  s.fetch_jobs = y.Bool("fetch_jobs", s.fetch_jobs);
  s.created_margin = y.Duration("created_margin", s.created_margin);
  if (s.created_margin < Millis(0)) y.Fail("created_margin", "must not be negative");
  return s;
}

SourceFactory ParseGithubConfig(YamlMap& y, SourceCommon& common) {
  GithubSettings s = ParseGithubSettings(y);
  if (s.token.empty() && !s.app) {
    LogWarn("github source without a token: public repositories only, 60 requests per hour",
            {{"source", common.name}});
  }
  return [s](const SourceCommon& c, const SourceDeps& deps) -> std::unique_ptr<Source> {
    return std::make_unique<GithubSource>(c, s, deps);
  };
}

GithubSource::GithubSource(const SourceCommon& common, GithubSettings settings,
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
  api_ = std::make_unique<ApiClient>(name_, common.api, ApiHeaders(settings_.token), fetcher,
                                     clock_, deps.observer, deps.sleep);
  if (settings_.app) {
    app_auth_ = std::make_unique<GithubAppAuth>(name_, *settings_.app, settings_.api_url,
                                                common.api, fetcher, clock_, deps.observer);
  }
  if (auto url = Url::Parse(settings_.api_url)) api_origin_ = url->Origin();
  discovered_.resize(settings_.organizations.size());
}

Status GithubSource::RefreshAuth() {
  if (!app_auth_) return Status::Ok();
  auto token = app_auth_->Token();
  if (!token) return token.status();
  if (*token != app_token_) {
    app_token_ = *token;
    api_->SetAuthHeaders(ApiHeaders(app_token_));
  }
  return Status::Ok();
}

Result<std::vector<std::string>> GithubSource::Discover(const GithubOwner& owner) {
  const std::string first =
      JoinUrl(settings_.api_url, (owner.user ? "/users/" : "/orgs/") + owner.name + "/repos") +
      (owner.user ? "?type=owner" : "?type=all") + "&per_page=100";
  std::string url = first;
  std::vector<github::Repository> repositories;
  std::size_t malformed = 0;
  for (int page = 1;; ++page) {
    auto response = api_->Get(url);
    if (!response) return response.status();
    auto parsed = github::ParseRepositoriesPage(response->body);
    if (!parsed) {
      return parsed.status().WithContext("GET " + WithoutQuery(url) + " page " +
                                         std::to_string(page));
    }
    std::move(parsed->repositories.begin(), parsed->repositories.end(),
              std::back_inserter(repositories));
    malformed += parsed->errors.size();
    const std::string link = NextLink(response->link);
    if (link.empty()) break;
    if (page >= kMaxDiscoveryPages) {
      LogWarn("github repository discovery cut; narrow it with include",
              {{"source", name_}, {"owner", owner.name}, {"repositories", repositories.size()}});
      break;
    }
    const std::string next = NextPageUrl(first, link, api_origin_);
    if (!SameOrigin(next)) {
      return Status::Error(ErrorCode::kParse,
                           "pagination link leaves " + api_origin_ + "; not followed");
    }
    url = next;
  }
  if (malformed > 0) {
    LogWarn("skipping malformed repositories", {{"source", name_}, {"owner", owner.name},
                                                 {"count", malformed}});
  }
  return github::SelectRepositories(repositories, owner);
}

std::vector<std::string> GithubSource::Repositories(PollResult& out, Status& first_error) {
  std::vector<std::string> repos = settings_.repositories;
  std::set<std::string> seen(repos.begin(), repos.end());
  const TimePoint now = clock_->Now();
  for (std::size_t i = 0; i < settings_.organizations.size(); ++i) {
    const GithubOwner& owner = settings_.organizations[i];
    Discovered& d = discovered_[i];
    const bool due = !d.listed_at || d.failed || now - *d.listed_at >= settings_.discovery_interval;
    if (due) {
      auto listed = Discover(owner);
      if (listed) {
        if (!d.listed_at || listed->size() != d.repositories.size()) {
          LogInfo("github repositories discovered",
                  {{"source", name_}, {"owner", owner.name}, {"repositories", listed->size()}});
        }
        d = Discovered{std::move(*listed), now, false};
      } else {
        d.failed = true;
        const Status err = listed.status().WithContext(
            std::string(owner.user ? "user " : "organization ") + owner.name +
            (d.listed_at ? ": discovery failed, its last repository list is used"
                         : ": discovery failed"));
        if (first_error.ok()) first_error = err;
        out.partial_errors.push_back(err.ToString());
      }
    }
    for (const std::string& r : d.repositories) {
      if (seen.insert(r).second) repos.push_back(r);
    }
  }
  // Forget the jobs of repositories no longer polled.
  std::erase_if(job_cache_, [&](const auto& kv) {
    return seen.count(kv.first.substr(0, kv.first.find('#'))) == 0;
  });
  return repos;
}

bool GithubSource::SameOrigin(const std::string& url) const {
  return detail::SameOrigin(url, api_origin_);
}

Result<PollResult> GithubSource::Poll(TimePoint since) {
  if (const Status auth = RefreshAuth(); !auth.ok()) return auth;
  PollResult out;
  Status first_error;
  const std::vector<std::string> repos = Repositories(out, first_error);
  if (repos.empty()) {
    if (!first_error.ok()) return first_error;
    if (!warned_no_repositories_) {
      warned_no_repositories_ = true;
      LogWarn("github organizations hold no repository to poll; check include, exclude, "
              "archived and forks",
              {{"source", name_}});
    }
    return out;
  }
  std::size_t failed = 0;
  for (const auto& repo : repos) {
    // An installation token can expire during a long poll.
    Status s = RefreshAuth();
    if (s.ok()) s = PollRepository(repo, since, out);
    if (s.ok()) continue;
    ++failed;
    // A refused installation token is bought again on the next poll.
    if (app_auth_ && s.code() == ErrorCode::kUnauthenticated) app_auth_->Invalidate();
    const Status with_repo = s.WithContext(repo);
    // The poller logs partial errors and failed polls; debug avoids doubles.
    LogDebug("github repository failed", {{"source", name_}, {"err", with_repo}});
    if (first_error.ok()) first_error = with_repo;
    out.partial_errors.push_back(with_repo.ToString());
  }
  if (failed == repos.size() && !first_error.ok()) {
    if (failed == 1) return first_error;
    return first_error.WithContext("all " + std::to_string(failed) + " repositories failed");
  }
  return out;
}

Status GithubSource::PollRepository(const std::string& repo, TimePoint since, PollResult& out) {
  // Rounded down to the hour so consecutive polls request the same URL and
  // an unchanged first page comes back as a 304, which costs no quota.
  const TimePoint created_since = std::chrono::floor<std::chrono::hours>(
      since - std::chrono::duration_cast<TimePoint::duration>(settings_.created_margin));
  auto listed = ListRuns(repo, created_since);
  if (!listed) return listed.status();

  std::vector<RunRecord> finished;
  std::vector<RunRecord> active;
  std::set<std::string> listed_keys;
  std::size_t jobs_missing = 0;
  Status jobs_error;
  bool jobs_blocked = false;  // rate limited or refused: stop asking this poll
  for (RunRecord& run : *listed) {
    if (!settings_.workflows.Allows(WorkflowPath(run, repo))) continue;
    if (!settings_.events.empty() && std::find(settings_.events.begin(), settings_.events.end(),
                                               run.event) == settings_.events.end()) {
      continue;
    }
    listed_keys.insert(CacheKey(repo, run));
    if (run.status != RunStatus::kCompleted) {
      active.push_back(std::move(run));
      continue;
    }
    // finished_at is still updated_at here: when GitHub reported the
    // completion. The jobs' last completion can be a little earlier; deciding
    // on updated_at means a run that became completed after the previous
    // poll is never missed.
    const TimePoint observed = run.finished_at.value_or(since);
    if (observed < since) continue;
    if (settings_.fetch_jobs) {
      const std::string key = CacheKey(repo, run);
      const std::string updated_key = FormatRfc3339Millis(observed);
      const auto cached = job_cache_.find(key);
      if (cached != job_cache_.end() && cached->second.updated_key == updated_key) {
        github::ApplyJobTimes(run, cached->second.times);
      } else if (jobs_blocked) {
        ++jobs_missing;
      } else if (auto times = FetchJobTimes(repo, run)) {
        job_cache_[key] = CachedJobs{updated_key, *times};
        github::ApplyJobTimes(run, *times);
      } else {
        ++jobs_missing;
        if (jobs_error.ok()) jobs_error = times.status();
        const ErrorCode code = times.status().code();
        jobs_blocked = code == ErrorCode::kRateLimited || code == ErrorCode::kUnauthenticated;
      }
    }
    finished.push_back(std::move(run));
  }

  // Forget the jobs of runs that left the listing so the cache stays bounded.
  const std::string prefix = repo + "#";
  for (auto it = job_cache_.lower_bound(prefix);
       it != job_cache_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
    it = listed_keys.count(it->first) ? std::next(it) : job_cache_.erase(it);
  }

  std::vector<std::string> notes;
  if (jobs_missing > 0) {
    notes.push_back(jobs_error
                        .WithContext(repo + ": jobs of " + std::to_string(jobs_missing) +
                                     " finished runs unavailable, their run-level times "
                                     "are used")
                        .ToString());
  }
  LogDebug("github repository polled", {{"source", name_},
                                        {"repository", repo},
                                        {"finished", finished.size()},
                                        {"active", active.size()},
                                        {"created_since", FormatRfc3339(created_since)}});
  std::move(finished.begin(), finished.end(), std::back_inserter(out.finished));
  std::move(active.begin(), active.end(), std::back_inserter(out.active));
  std::move(notes.begin(), notes.end(), std::back_inserter(out.partial_errors));
  return Status::Ok();
}

Result<std::vector<RunRecord>> GithubSource::ListRuns(const std::string& repo,
                                                      TimePoint created_since) {
  const std::string first = JoinUrl(settings_.api_url, "/repos/" + repo + "/actions/runs") +
                            "?created=" + UrlEncode(">=" + FormatRfc3339(created_since)) +
                            "&per_page=" + std::to_string(settings_.per_page);
  std::string url = first;
  std::vector<RunRecord> runs;
  std::set<std::string> keys;
  std::size_t malformed = 0;
  std::string first_malformed;
  for (int page = 1;; ++page) {
    auto response = api_->Get(url);
    if (!response) return response.status();
    auto parsed = github::ParseRunsPage(response->body, name_, repo);
    if (!parsed) {
      return parsed.status().WithContext("GET " + WithoutQuery(url) + " page " +
                                         std::to_string(page));
    }
    for (auto& run : parsed->runs) {
      // New runs shift older ones onto the next page while we paginate.
      if (keys.insert(run.Key()).second) runs.push_back(std::move(run));
    }
    malformed += parsed->errors.size();
    if (first_malformed.empty() && !parsed->errors.empty()) first_malformed = parsed->errors[0];

    const std::string link = NextLink(response->link);
    if (link.empty()) break;
    if (page >= settings_.max_pages) {
      LogDebug("github run listing cut at max_pages", {{"source", name_},
                                                       {"repository", repo},
                                                       {"max_pages", settings_.max_pages},
                                                       {"runs", runs.size()}});
      // Not a failure of the source, so a warning (once per repository)
      // rather than a partial error.
      if (truncation_warned_.insert(repo).second) {
        LogWarn("github run listing cut at max_pages; the oldest runs are left out",
                {{"source", name_},
                 {"repository", repo},
                 {"max_pages", settings_.max_pages},
                 {"hint", "raise max_pages or lower created_margin"}});
      }
      break;
    }
    const std::string next = NextPageUrl(first, link, api_origin_);
    if (!SameOrigin(next)) {
      // The token goes with every request: never follow a link elsewhere.
      return Status::Error(ErrorCode::kParse,
                           "pagination link leaves " + api_origin_ + "; not followed");
    }
    url = next;
  }
  if (malformed > 0) {
    // Usually a payload shape GitHub changed; the rest of the listing is good.
    LogWarn("skipping malformed workflow runs", {{"source", name_},
                                                 {"repository", repo},
                                                 {"count", malformed},
                                                 {"first", first_malformed}});
  }
  return runs;
}

Result<github::JobTimes> GithubSource::FetchJobTimes(const std::string& repo,
                                                     const RunRecord& run) {
  const std::string first =
      JoinUrl(settings_.api_url, "/repos/" + repo + "/actions/runs/" + run.run_id + "/attempts/" +
                                     std::to_string(run.attempt.value_or(1)) + "/jobs") +
      "?per_page=" + std::to_string(kJobsPerPage);
  std::string url = first;
  std::vector<github::Job> jobs;
  for (int page = 1;; ++page) {
    auto response = api_->Get(url);
    if (!response) return response.status();
    auto parsed = github::ParseJobsPage(response->body);
    if (!parsed) return parsed.status().WithContext("GET " + WithoutQuery(url));
    std::move(parsed->jobs.begin(), parsed->jobs.end(), std::back_inserter(jobs));
    const std::string link = NextLink(response->link);
    if (link.empty() || page >= settings_.max_pages) break;
    const std::string next = NextPageUrl(first, link, api_origin_);
    if (!SameOrigin(next)) {
      return Status::Error(ErrorCode::kParse,
                           "pagination link leaves " + api_origin_ + "; not followed");
    }
    url = next;
  }
  return github::SummarizeJobs(jobs, run);
}

}  // namespace cicd::exporter
