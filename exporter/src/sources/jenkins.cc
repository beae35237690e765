#include "cicd/exporter/sources/jenkins.h"

#include <algorithm>
#include <deque>
#include <iterator>
#include <set>
#include <utility>

#include "cicd/core/http_client.h"
#include "cicd/core/log.h"

namespace cicd::exporter {
namespace {

constexpr std::string_view kJobsTree = "jobs[name,url,_class]";
constexpr std::string_view kQueueTree = "items[id,inQueueSince,url,why,task[url]]";
constexpr std::string_view kQueueItemTree =
    "id,inQueueSince,url,why,cancelled,task[url],executable[number]";
// Jenkins drops an item five minutes after it left the queue; asking about
// older builds would only collect 404s.
constexpr Millis kQueueItemRetention{10 * 60 * 1000};

// Jenkins's `builds` holds the newest 100 builds at most; `allBuilds` holds
// every build but loads them from disk, so it is read only to page back.
constexpr std::size_t kBuildsListCap = 100;

// Builds [offset, offset + count) of a job, newest first.
std::string BuildsTree(std::size_t offset, int count) {
  return std::string(offset == 0 ? "builds" : "allBuilds") +
         "[number,url,result,building,duration,timestamp,queueId,"
         "actions[_class,totalCount,failCount,skipCount,queuingDurationMillis,"
         "blockedDurationMillis,buildableDurationMillis,waitingDurationMillis]]{" +
         std::to_string(offset) + "," + std::to_string(offset + count) + "}";
}

// Brackets, braces and commas are encoded so no proxy or server rejects them.
std::string TreeQuery(std::string_view tree) { return "tree=" + UrlEncode(tree); }

// Jenkins forbids '/' in item names, so the join is unambiguous.
std::string JobKey(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) {
    if (!out.empty()) out += '/';
    out += n;
  }
  return out;
}

bool HasCredentials(const JenkinsSettings& s) { return !s.user.empty() || !s.token.empty(); }

std::vector<std::pair<std::string, std::string>> AuthHeaders(const JenkinsSettings& s) {
  if (!HasCredentials(s)) return {};
  return {{"Authorization", BasicAuthHeader(s.user, s.token)}};
}

}  // namespace

SourceFactory ParseJenkinsConfig(YamlMap& y, SourceCommon& common) {
  JenkinsSettings s;
  s.url = y.ExpandedString("url", "");
  if (s.url.empty()) y.Fail("url", "required field is missing");
  if (auto parsed = Url::Parse(s.url); !parsed) y.Fail("url", parsed.status().message());
  s.user = y.ExpandedString("user", "");
  s.token = y.ExpandedString("token", "");
  Logging::AddSecret(s.token);
  if (s.user.empty() != s.token.empty()) {
    y.Fail(s.user.empty() ? "token" : "user",
           "user and token go together: set both to use an API token, or neither for "
           "anonymous access");
  }
  YamlMap jobs(y.Child("jobs"), y.path() + ".jobs");
  s.jobs.include = jobs.StringList("include");
  s.jobs.exclude = jobs.StringList("exclude");
  jobs.Finish();
  s.max_depth = static_cast<int>(y.Int("max_depth", s.max_depth, 0, 100));
  s.max_jobs = static_cast<int>(y.Int("max_jobs", s.max_jobs, 1, 1'000'000));
  s.builds_per_job = static_cast<int>(y.Int("builds_per_job", s.builds_per_job, 1, 10'000));
  s.max_build_pages = static_cast<int>(y.Int("max_build_pages", s.max_build_pages, 1, 1000));
  s.discovery_interval = y.Duration("discovery_interval", s.discovery_interval);
  if (s.discovery_interval < Millis(0)) y.Fail("discovery_interval", "must not be negative");
  s.fetch_queue_items = y.Bool("fetch_queue_items", s.fetch_queue_items);
  (void)common;
  return [s](const SourceCommon& c, const SourceDeps& deps) -> std::unique_ptr<Source> {
    return std::make_unique<JenkinsSource>(c, s, deps);
  };
}

JenkinsSource::JenkinsSource(const SourceCommon& common, JenkinsSettings settings,
                             const SourceDeps& deps)
    : name_(common.name),
      settings_(std::move(settings)),
      clock_(deps.clock),
      api_(common.name, common.api, AuthHeaders(settings_), deps.fetcher, deps.clock,
           deps.observer, deps.sleep) {
  Logging::AddSecret(settings_.token);
  if (HasCredentials(settings_)) {
    const std::string header = BasicAuthHeader(settings_.user, settings_.token);
    Logging::AddSecret(header);
    // The base64 part alone decodes to the token: it is a secret too.
    Logging::AddSecret(header.substr(header.find(' ') + 1));
  }
}

std::string JenkinsSource::ApiUrl(const std::vector<std::string>& names,
                                  std::string_view query) const {
  return JoinUrl(settings_.url, JenkinsJobPath(names) + "/api/json?" + std::string(query));
}

Result<JenkinsSource::Walk> JenkinsSource::DiscoverJobs() {
  struct Folder {
    std::vector<std::string> names;
    int depth = 0;
    bool multibranch = false;
  };
  Walk walk;
  // Breadth first, so a max_jobs cut keeps the shallow jobs.
  std::deque<Folder> pending{Folder{}};
  bool truncated = false;
  while (!pending.empty() && !truncated) {
    const Folder folder = std::move(pending.front());
    pending.pop_front();
    const bool root = folder.names.empty();
    auto response = api_.Get(ApiUrl(folder.names, TreeQuery(kJobsTree)));
    Result<std::vector<JenkinsItem>> items =
        response ? ParseJenkinsJobList(response->body)
                 : Result<std::vector<JenkinsItem>>(response.status());
    if (!items) {
      if (root) return items.status().WithContext("listing the Jenkins root");
      // A folder deleted since its parent was listed is not an error.
      if (items.status().code() == ErrorCode::kNotFound) continue;
      walk.partial_errors.push_back(
          items.status().WithContext("folder " + JobKey(folder.names)).ToString());
      continue;
    }
    for (const JenkinsItem& item : *items) {
      if (folder.multibranch || item.kind == JenkinsItemKind::kJob) {
        JenkinsJob job = MakeJenkinsJob(folder.names, item.name, folder.multibranch);
        if (!settings_.jobs.Allows(job.full_path)) continue;
        if (walk.jobs.size() >= static_cast<std::size_t>(settings_.max_jobs)) {
          truncated = true;
          break;
        }
        walk.jobs.push_back(std::move(job));
        continue;
      }
      Folder child{folder.names, folder.depth + 1, item.kind == JenkinsItemKind::kMultibranch};
      child.names.push_back(item.name);
      if (child.depth > settings_.max_depth) {
        LogDebug("jenkins folder below max_depth not walked",
                 {{"source", name_}, {"folder", JobKey(child.names)}});
        continue;
      }
      pending.push_back(std::move(child));
    }
  }
  if (truncated && !warned_max_jobs_) {
    warned_max_jobs_ = true;
    LogWarn("jenkins job walk stopped at max_jobs; raise it or narrow the jobs filter",
            {{"source", name_}, {"max_jobs", settings_.max_jobs}});
  }
  return walk;
}

Result<JenkinsBuildList> JenkinsSource::FetchBuilds(const JenkinsJob& job, std::size_t offset) {
  auto response =
      api_.Get(ApiUrl(job.names, TreeQuery(BuildsTree(offset, settings_.builds_per_job))));
  if (!response) return response.status();
  return ParseJenkinsBuilds(response->body, name_, job);
}

void JenkinsSource::PollJob(const JenkinsJob& job, TimePoint since, PollResult& out) {
  const std::string key = JobKey(job.names);
  // The lowest build number this poll must read, when a previous poll saw the job.
  std::optional<std::int64_t> need_from;
  if (const auto it = cursors_.find(key); it != cursors_.end()) {
    need_from = std::min(it->second.newest + 1,
                         it->second.oldest_running.value_or(it->second.newest + 1));
  }
  std::vector<JenkinsBuild> builds;
  std::size_t offset = 0;
  for (int page = 1;; ++page) {
    Result<JenkinsBuildList> list = FetchBuilds(job, offset);
    if (!list) {
      // A job deleted since its folder was listed is not an error, but the
      // cached job list is out of date.
      if (list.status().code() == ErrorCode::kNotFound) {
        walk_stale_ = true;
        return;
      }
      // The cursor stays as it was: the next poll reads these builds again.
      out.partial_errors.push_back(list.status().WithContext("job " + job.full_path).ToString());
      return;
    }
    for (const std::string& why : list->skipped) {
      LogDebug("jenkins build skipped", {{"source", name_}, {"job", job.full_path}, {"why", why}});
    }
    const JenkinsBuild* oldest = nullptr;  // lowest number on this page
    for (JenkinsBuild& build : list->builds) {
      if (oldest == nullptr || *build.run.number < *oldest->run.number) oldest = &build;
    }
    const bool reached =
        oldest != nullptr &&
        (need_from ? *oldest->run.number <= *need_from
                   : oldest->run.status == RunStatus::kCompleted &&
                         *oldest->run.finished_at < since);
    std::move(list->builds.begin(), list->builds.end(), std::back_inserter(builds));
    const std::size_t asked = offset == 0 ? std::min<std::size_t>(settings_.builds_per_job,
                                                                  kBuildsListCap)
                                          : static_cast<std::size_t>(settings_.builds_per_job);
    offset += list->entries;
    if (reached || list->entries < asked) break;  // back far enough, or no older builds
    if (page >= settings_.max_build_pages) {
      if (pages_warned_.insert(key).second) {
        LogWarn("jenkins builds cut at max_build_pages; older builds finished since the last "
                "poll are left out",
                {{"source", name_},
                 {"job", job.full_path},
                 {"max_build_pages", settings_.max_build_pages},
                 {"hint", "raise max_build_pages or builds_per_job, or poll more often"}});
      }
      break;
    }
  }

  JobCursor cursor;
  for (JenkinsBuild& build : builds) {
    const std::int64_t number = *build.run.number;
    cursor.newest = std::max(cursor.newest, number);
    const bool completed = build.run.status == RunStatus::kCompleted;
    if (!completed && (!cursor.oldest_running || number < *cursor.oldest_running)) {
      cursor.oldest_running = number;
    }
    if (completed && *build.run.finished_at < since) continue;
    FillQueueTime(job, build);
    (completed ? out.finished : out.active).push_back(std::move(build.run));
  }
  cursors_[key] = cursor;
}

void JenkinsSource::FillQueueTime(const JenkinsJob& job, JenkinsBuild& build) {
  RunRecord& run = build.run;
  if (!settings_.fetch_queue_items || run.queue_seconds || !build.queue_id) return;
  const std::string key = JobKey(job.names) + "#" + run.run_id;
  std::optional<TimePoint> created;
  if (auto it = queue_lookups_.find(key); it != queue_lookups_.end()) {
    created = it->second;
  } else {
    if (clock_->Now() - *run.started_at > kQueueItemRetention) return;
    auto response = api_.Get(JoinUrl(settings_.url, "/queue/item/" +
                                                         std::to_string(*build.queue_id) +
                                                         "/api/json?" + TreeQuery(kQueueItemTree)));
    if (!response && response.status().code() != ErrorCode::kNotFound) {
      // Transient: not remembered, the next poll asks again.
      LogDebug("jenkins queue item unavailable",
               {{"source", name_}, {"job", job.full_path}, {"err", response.status()}});
      return;
    }
    if (response) {
      auto item = ParseJenkinsQueueItem(response->body);
      RunRecord probe = run;
      if (item && ApplyJenkinsQueueItem(*item, probe)) created = probe.created_at;
    }
  }
  queue_lookups_seen_[key] = created;
  if (!created) return;
  run.created_at = *created;
  run.queue_seconds.reset();
  Normalize(run);
}

void JenkinsSource::PollQueue(const std::map<std::string, const JenkinsJob*>& by_key,
                              PollResult& out) {
  auto response = api_.Get(JoinUrl(settings_.url, "/queue/api/json?" + TreeQuery(kQueueTree)));
  Result<std::vector<JenkinsQueueItem>> items =
      response ? ParseJenkinsQueue(response->body)
               : Result<std::vector<JenkinsQueueItem>>(response.status());
  if (!items) {
    out.partial_errors.push_back(items.status().WithContext("queue").ToString());
    return;
  }
  for (const JenkinsQueueItem& item : *items) {
    if (item.cancelled || item.task_names.empty()) continue;
    const auto it = by_key.find(JobKey(item.task_names));
    if (it == by_key.end()) continue;  // filtered out, or not a job we walked
    if (auto run = JenkinsQueuedRun(item, name_, *it->second, settings_.url)) {
      out.active.push_back(std::move(*run));
    }
  }
}

Result<const JenkinsSource::Walk*> JenkinsSource::CurrentWalk(
    std::vector<std::string>& partial_errors) {
  const TimePoint now = clock_->Now();
  const bool due = !walk_ || walk_stale_ || settings_.discovery_interval <= Millis(0) ||
                   now - *walked_at_ >= settings_.discovery_interval;
  if (!due) return &*walk_;
  auto walk = DiscoverJobs();
  if (!walk) return walk.status();
  partial_errors = std::move(walk->partial_errors);
  // A walk that failed in part is done again on the next poll.
  walk_stale_ = !partial_errors.empty();
  walk_ = Walk{std::move(walk->jobs), {}};
  walked_at_ = now;
  std::set<std::string> keys;
  for (const JenkinsJob& job : walk_->jobs) keys.insert(JobKey(job.names));
  std::erase_if(cursors_, [&](const auto& kv) { return keys.count(kv.first) == 0; });
  std::erase_if(pages_warned_, [&](const std::string& k) { return keys.count(k) == 0; });
  LogDebug("jenkins jobs walked", {{"source", name_}, {"jobs", walk_->jobs.size()}});
  return &*walk_;
}

Result<PollResult> JenkinsSource::Poll(TimePoint since) {
  queue_lookups_seen_.clear();
  PollResult out;
  auto walk = CurrentWalk(out.partial_errors);
  if (!walk) return walk.status().WithContext("jenkins source " + name_);
  std::map<std::string, const JenkinsJob*> by_key;
  for (const JenkinsJob& job : (*walk)->jobs) {
    by_key.emplace(JobKey(job.names), &job);
    PollJob(job, since, out);
  }
  PollQueue(by_key, out);
  queue_lookups_.swap(queue_lookups_seen_);
  LogDebug("jenkins poll done", {{"source", name_},
                                 {"jobs", (*walk)->jobs.size()},
                                 {"finished", out.finished.size()},
                                 {"active", out.active.size()},
                                 {"partial_errors", out.partial_errors.size()}});
  return out;
}

}  // namespace cicd::exporter
