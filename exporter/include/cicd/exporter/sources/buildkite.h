#pragma once
// Buildkite source: builds of one organisation through the REST API v2
// (GET /v2/organizations/{org}/builds), each with its jobs embedded.
//
// Mapping of a build to a run record (shared/DESIGN.md):
//   pipeline     "<organization>/<pipeline.slug>" (the configured organisation)
//   branch       branch ("" when empty)     run_id  id (the build's UUID)
//   number       number                     attempt absent: a rebuild is a new
//                                           build with its own id and number
//   event        source (webhook, schedule, ui, api, trigger_job); trigger
//                by TriggerFromEvent (webhook -> push, ui -> manual, ...)
//   status, result  see MapState
//   created_at   created_at                 started_at  started_at
//   finished_at  finished_at                url         web_url
//   queue        the longest agent wait of the build's script jobs
//                (started_at - runnable_at, never negative); waiter, manual
//                (block/input) and trigger jobs wait for people or other
//                builds, not agents, and are skipped. Without a script job
//                that started, started_at - created_at.
//   A completed build that never started (skipped, not_run, canceled while
//   scheduled) has no started_at: it is recorded as starting when it
//   finished, so its duration is 0 and its queue the time it waited.
//   tests_*      absent: the builds API reports no test counts (Test Engine
//                is a separate product and API).

#include <boost/json/fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cicd/core/glob.h"
#include "cicd/exporter/source.h"

namespace cicd::exporter {

// The `buildkite` entry of `sources[]`. Defaults stand next to the fields.
struct BuildkiteSettings {
  // REST API root; a proxy or test server may carry a path prefix.
  std::string api_url = "https://api.buildkite.com/v2";
  // Required. An API access token with read_builds, sent as
  // "Authorization: Bearer <token>"; never logged.
  std::string token;
  // Required. The organisation slug, as in buildkite.com/<organization>.
  std::string organization;
  // Matched against the pipeline slug; empty include admits every pipeline.
  NameFilter pipelines;
  int per_page = 100;  // builds per page (Buildkite's maximum is 100)
  int max_pages = 10;  // pages per listing and poll; older builds are left out
  // Active builds are listed by creation time: builds created longer ago than
  // this and still running are not shown as active. Default 1 day.
  Millis created_margin{24 * 3'600'000};
};

// Reads api_url, token (${VAR} expanded, trimmed, registered as a secret),
// organization, pipelines {include, exclude}, per_page, max_pages and
// created_margin from `yaml`, marking them read. Throws ConfigError naming
// the key.
BuildkiteSettings ParseBuildkiteSettings(YamlMap& yaml);

// The sources-table entry.
SourceFactory ParseBuildkiteConfig(YamlMap& yaml, SourceCommon& common);

// Pure parsers: no I/O, never throw, thread-safe.
namespace buildkite {

// A build state to run status and, for finished builds, the OpenTelemetry
// result: scheduled, creating -> queued; running, failing, canceling ->
// running; passed -> success; failed -> failure; canceled -> cancellation;
// skipped, not_run -> skip; blocked -> success (a build stopped at a block
// step has passed every step before it, and Buildkite reports it as passed
// to the commit status by default; its duration ends at the block).
// nullopt for a state Buildkite does not document.
struct StateMapping {
  RunStatus status;
  std::optional<std::string> result;  // set when status is kCompleted
};
std::optional<StateMapping> MapState(std::string_view state);

// True for a slug of letters, digits, '-' and '_' (organisations, pipelines).
bool IsSlug(std::string_view slug);

// Agent wait of the build's script jobs: the longest started_at -
// runnable_at in seconds (clamped at 0) over jobs of type "script" that have
// both times; nullopt when none has. Jobs without times (waiter, manual) or
// of other types are skipped, never read as 0.
std::optional<double> ScriptJobQueueSeconds(const boost::json::value& jobs);

// One build object (a list item or GET of one build). `organization` names
// the pipeline. The record is normalised and valid, else the error says why.
Result<RunRecord> BuildFromJson(const boost::json::value& build, std::string_view source,
                                std::string_view organization);

// A page of GET .../builds: a JSON array of builds. Malformed JSON or a
// non-array is an error; a malformed build is skipped and described in
// `errors` ("builds[3]: ..."). `slugs` holds each parsed run's pipeline slug.
struct BuildsPage {
  std::vector<RunRecord> runs;
  std::vector<std::string> slugs;  // parallel to runs
  std::vector<std::string> errors;
};
Result<BuildsPage> ParseBuildsPage(std::string_view body, std::string_view source,
                                   std::string_view organization);

}  // namespace buildkite

// Polls the organisation with two listings per poll, each paginated by Link
// up to max_pages: builds finished since `since` (finished_from) and builds
// created since `since` - created_margin that are still scheduled, running,
// failing or canceling (created_from + state[]). Jobs come embedded in the
// builds, so there is no request per build.
//
// Not thread-safe (one poller thread owns it, as Source says).
class BuildkiteSource final : public Source {
 public:
  // REQUIRES: deps.clock outlives the source; deps.fetcher too, or null for
  // an owned HttplibFetcher with common.api.http.
  BuildkiteSource(const SourceCommon& common, BuildkiteSettings settings,
                  const SourceDeps& deps);

  // Either listing failing fails the poll (the caller keeps its last data).
  // Malformed builds are skipped with a warning.
  Result<PollResult> Poll(TimePoint since) override;

 private:
  Result<std::vector<RunRecord>> List(const std::string& what, const std::string& query);

  const std::string name_;
  const BuildkiteSettings settings_;
  const Clock* const clock_;
  std::unique_ptr<HttpFetcher> owned_fetcher_;
  std::unique_ptr<ApiClient> api_;
  std::string api_origin_;
  bool truncation_warned_ = false;
};

}  // namespace cicd::exporter
