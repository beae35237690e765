#include "cicd/exporter/sources/buildkite.h"

#include <iterator>
#include <set>

#include "cicd/core/log.h"
#include "source_util.h"

namespace cicd::exporter {

BuildkiteSettings ParseBuildkiteSettings(YamlMap& y) {
  BuildkiteSettings s;
  s.api_url = detail::TrimSpace(y.ExpandedString("url", s.api_url));
  while (!s.api_url.empty() && s.api_url.back() == '/') s.api_url.pop_back();
  if (auto url = Url::Parse(s.api_url); !url) y.Fail("url", url.status().message());

  s.token = detail::ReadToken(y, "token");
  if (s.token.empty()) y.Fail("token", "required: an API access token with read_builds");

  if (!y.Has("organization")) y.Fail("organization", "required: the organisation slug");
  s.organization = y.String("organization", "");
  if (!buildkite::IsSlug(s.organization)) {
    y.Fail("organization", "\"" + s.organization + "\" is not an organisation slug");
  }

  YamlMap pipelines(y.Child("pipelines"), y.path() + ".pipelines");
  s.pipelines.include = pipelines.StringList("include");
  s.pipelines.exclude = pipelines.StringList("exclude");
  pipelines.Finish();

  s.per_page = static_cast<int>(y.Int("per_page", s.per_page, 1, 100));
  s.max_pages = static_cast<int>(y.Int("max_pages", s.max_pages, 1, 1000));
  s.created_margin = y.Duration("created_margin", s.created_margin);
  if (s.created_margin < Millis(0)) y.Fail("created_margin", "must not be negative");
  return s;
}

SourceFactory ParseBuildkiteConfig(YamlMap& y, SourceCommon&) {
  BuildkiteSettings s = ParseBuildkiteSettings(y);
  return [s](const SourceCommon& c, const SourceDeps& deps) -> std::unique_ptr<Source> {
    return std::make_unique<BuildkiteSource>(c, s, deps);
  };
}

BuildkiteSource::BuildkiteSource(const SourceCommon& common, BuildkiteSettings settings,
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
  if (!settings_.token.empty()) headers.emplace_back("Authorization", "Bearer " + settings_.token);
  api_ = std::make_unique<ApiClient>(name_, common.api, std::move(headers), fetcher, clock_,
                                     deps.observer, deps.sleep);
  if (auto url = Url::Parse(settings_.api_url)) api_origin_ = url->Origin();
}

Result<PollResult> BuildkiteSource::Poll(TimePoint since) {
  // Whole seconds: Buildkite takes ISO 8601 and the URL stays short.
  const TimePoint created_since =
      since - std::chrono::duration_cast<TimePoint::duration>(settings_.created_margin);
  auto finished = List("finished builds", "finished_from=" + UrlEncode(FormatRfc3339(since)));
  if (!finished) return finished.status();
  auto active = List("active builds",
                     "created_from=" + UrlEncode(FormatRfc3339(created_since)) +
                         "&state%5B%5D=scheduled&state%5B%5D=running&state%5B%5D=failing"
                         "&state%5B%5D=canceling");
  if (!active) return active.status();

  PollResult out;
  for (RunRecord& run : *finished) {
    // finished_from filters on the server; the check keeps a server that
    // ignores it from recounting old builds as new.
    if (run.status != RunStatus::kCompleted || !run.finished_at || *run.finished_at < since) {
      continue;
    }
    out.finished.push_back(std::move(run));
  }
  std::set<std::string> finished_ids;
  for (const auto& run : out.finished) finished_ids.insert(run.run_id);
  for (RunRecord& run : *active) {
    // A build may finish between the two listings.
    if (run.status == RunStatus::kCompleted || finished_ids.count(run.run_id)) continue;
    out.active.push_back(std::move(run));
  }
  LogDebug("buildkite organization polled", {{"source", name_},
                                             {"organization", settings_.organization},
                                             {"finished", out.finished.size()},
                                             {"active", out.active.size()}});
  return out;
}

Result<std::vector<RunRecord>> BuildkiteSource::List(const std::string& what,
                                                     const std::string& query) {
  const std::string first =
      JoinUrl(settings_.api_url, "/organizations/" + settings_.organization + "/builds") + "?" +
      query + "&per_page=" + std::to_string(settings_.per_page);
  const std::string prefix = settings_.organization + "/";
  std::string url = first;
  std::vector<RunRecord> runs;
  std::set<std::string> ids;
  std::size_t malformed = 0;
  std::string first_malformed;
  for (int page = 1;; ++page) {
    auto response = api_->Get(url);
    if (!response) return response.status().WithContext(settings_.organization + " " + what);
    auto parsed = buildkite::ParseBuildsPage(response->body, name_, settings_.organization);
    if (!parsed) {
      return parsed.status().WithContext("GET " + detail::WithoutQuery(url) + " (" + what +
                                         ") page " + std::to_string(page));
    }
    for (std::size_t i = 0; i < parsed->runs.size(); ++i) {
      if (!settings_.pipelines.Allows(parsed->slugs[i])) continue;
      // New builds shift older ones onto the next page while we paginate.
      if (ids.insert(parsed->runs[i].run_id).second) runs.push_back(std::move(parsed->runs[i]));
    }
    malformed += parsed->errors.size();
    if (first_malformed.empty() && !parsed->errors.empty()) first_malformed = parsed->errors[0];

    const std::string link = NextLink(response->link);
    if (link.empty()) break;
    if (page >= settings_.max_pages) {
      if (!truncation_warned_) {
        truncation_warned_ = true;
        LogWarn("buildkite build listing cut at max_pages; the oldest builds are left out",
                {{"source", name_},
                 {"listing", what},
                 {"max_pages", settings_.max_pages},
                 {"hint", "raise max_pages or poll more often"}});
      }
      break;
    }
    const std::string next = detail::NextPageUrl(first, link, api_origin_);
    if (!detail::SameOrigin(next, api_origin_)) {
      return Status::Error(ErrorCode::kParse,
                           "pagination link leaves " + api_origin_ + "; not followed");
    }
    url = next;
  }
  if (malformed > 0) {
    LogWarn("skipping malformed builds", {{"source", name_},
                                         {"listing", what},
                                         {"count", malformed},
                                         {"first", first_malformed}});
  }
  return runs;
}

}  // namespace cicd::exporter
