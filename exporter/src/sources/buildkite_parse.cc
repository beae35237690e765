// Pure parsers of Buildkite REST payloads (STYLE.md principle 1): bytes in,
// run records out, no I/O. The mapping is documented in buildkite.h.
#include <algorithm>
#include <boost/json.hpp>
#include <cctype>

#include "cicd/core/json.h"
#include "cicd/exporter/sources/buildkite.h"

namespace cicd::exporter::buildkite {
namespace {

using boost::json::value;

// Missing or null is unknown; present must be a valid RFC 3339 string.
// (Pipeline and creator objects carry "2013-09-03 13:24:38 UTC" times; the
// build and job times read here are ISO 8601.)
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

// A job's time that a malformed value makes unknown rather than failing the
// build: job times only refine the queue.
std::optional<TimePoint> JobTime(const value& job, const char* key) {
  auto t = TimeField(job, key);
  return t ? *t : std::nullopt;
}

}  // namespace

std::optional<StateMapping> MapState(std::string_view state) {
  if (state == "scheduled" || state == "creating") return StateMapping{RunStatus::kQueued, {}};
  if (state == "running" || state == "failing" || state == "canceling") {
    return StateMapping{RunStatus::kRunning, {}};
  }
  if (state == "passed" || state == "blocked") return StateMapping{RunStatus::kCompleted, "success"};
  if (state == "failed") return StateMapping{RunStatus::kCompleted, "failure"};
  if (state == "canceled") return StateMapping{RunStatus::kCompleted, "cancellation"};
  if (state == "skipped" || state == "not_run") return StateMapping{RunStatus::kCompleted, "skip"};
  return std::nullopt;
}

bool IsSlug(std::string_view slug) {
  return !slug.empty() && std::all_of(slug.begin(), slug.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

std::optional<double> ScriptJobQueueSeconds(const value& jobs) {
  if (!jobs.is_array()) return std::nullopt;
  std::optional<double> longest;
  for (const value& job : jobs.as_array()) {
    if (json::GetString(job, "type") != "script") continue;
    const auto runnable = JobTime(job, "runnable_at");
    const auto started = JobTime(job, "started_at");
    if (!runnable || !started) continue;
    const double wait = std::max(0.0, Seconds(*started - *runnable).count());
    if (!longest || wait > *longest) longest = wait;
  }
  return longest;
}

Result<RunRecord> BuildFromJson(const value& build, std::string_view source,
                                std::string_view organization) {
  if (!build.is_object()) return ParseError("a build must be a JSON object");
  const auto id = json::GetString(build, "id");
  if (!id || id->empty()) return ParseError("build without a string \"id\"");
  const auto fail = [&](const std::string& m) { return ParseError("build " + *id + ": " + m); };

  const value* pipeline = json::Find(build, "pipeline");
  const auto slug = pipeline != nullptr ? json::GetString(*pipeline, "slug") : std::nullopt;
  if (!slug || slug->empty()) return fail("no pipeline \"slug\"");
  const auto state = json::GetString(build, "state");
  if (!state) return fail("no \"state\"");
  const auto mapped = MapState(*state);
  if (!mapped) return fail("unknown state \"" + *state + "\"");

  RunRecord r;
  r.source = std::string(source);
  r.pipeline = std::string(organization) + "/" + *slug;
  r.branch = json::GetString(build, "branch").value_or("");
  r.run_id = *id;
  r.number = json::GetInt(build, "number");
  r.event = json::GetString(build, "source").value_or("");
  r.status = mapped->status;
  if (r.status == RunStatus::kCompleted) r.result = mapped->result;
  r.url = json::GetString(build, "web_url").value_or("");

  for (auto [field, key] : {std::pair{&r.created_at, "created_at"},
                            std::pair{&r.started_at, "started_at"},
                            std::pair{&r.finished_at, "finished_at"}}) {
    auto t = TimeField(build, key);
    if (!t) return fail(t.status().message());
    *field = *t;
  }
  if (r.status != RunStatus::kCompleted) r.finished_at.reset();
  // A build that ended without starting (skipped, canceled while scheduled).
  if (r.status == RunStatus::kCompleted && !r.started_at) r.started_at = r.finished_at;
  if (r.started_at && r.finished_at && *r.finished_at < *r.started_at) {
    r.finished_at = r.started_at;
  }
  if (const value* jobs = json::Find(build, "jobs")) r.queue_seconds = ScriptJobQueueSeconds(*jobs);
  Normalize(r);
  if (Status s = Validate(r); !s.ok()) return fail(s.message());
  return r;
}

Result<BuildsPage> ParseBuildsPage(std::string_view body, std::string_view source,
                                   std::string_view organization) {
  auto doc = json::Parse(body);
  if (!doc) return doc.status();
  if (!doc->is_array()) return ParseError("builds response is not a JSON array");
  const boost::json::array& items = doc->as_array();
  BuildsPage page;
  page.runs.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    auto run = BuildFromJson(items[i], source, organization);
    if (!run) {
      page.errors.push_back("builds[" + std::to_string(i) + "]: " + run.status().message());
      continue;
    }
    page.slugs.push_back(*json::GetString(items[i].at("pipeline"), "slug"));
    page.runs.push_back(std::move(*run));
  }
  return page;
}

}  // namespace cicd::exporter::buildkite
