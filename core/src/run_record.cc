#include "cicd/core/run_record.h"

#include <boost/json.hpp>
#include <cmath>

#include "cicd/core/json.h"

namespace cicd {

const char* RunStatusName(RunStatus s) {
  switch (s) {
    case RunStatus::kQueued: return "queued";
    case RunStatus::kRunning: return "running";
    case RunStatus::kCompleted: return "completed";
  }
  return "completed";
}

bool IsRunResult(std::string_view result) {
  for (auto r : kRunResults) {
    if (r == result) return true;
  }
  return false;
}

bool IsRunTrigger(std::string_view trigger) {
  for (auto t : kRunTriggers) {
    if (t == trigger) return true;
  }
  return false;
}

std::string TriggerFromEvent(std::string_view event) {
  if (event.empty() || IsRunTrigger(event)) return std::string(event);
  static constexpr std::pair<std::string_view, std::string_view> kMap[] = {
      // Code pushed: GitHub push/create, GitLab push/tag push, Buildkite and
      // CircleCI webhooks (a push reached the CI system).
      {"webhook", "push"},
      {"create", "push"},
      {"tag_push", "push"},
      // Changes proposed: GitHub, GitLab merge requests.
      {"pull_request_target", "pull_request"},
      {"merge_request_event", "pull_request"},
      {"external_pull_request_event", "pull_request"},
      {"merge_group", "pull_request"},
      // Timers.
      {"scheduled_pipeline", "schedule"},
      {"cron", "schedule"},
      // A person pressed a button.
      {"workflow_dispatch", "manual"},
      {"web", "manual"},
      {"ui", "manual"},
  };
  for (const auto& [word, trigger] : kMap) {
    if (word == event) return std::string(trigger);
  }
  return "other";
}

std::string RunRecord::Key() const {
  if (attempt && *attempt > 1) return run_id + "#" + std::to_string(*attempt);
  return run_id;
}

void Normalize(RunRecord& run) {
  if (run.started_at && run.finished_at && !run.duration_seconds) {
    run.duration_seconds =
        std::max(0.0, Seconds(*run.finished_at - *run.started_at).count());
  }
  if (run.started_at && run.duration_seconds && !run.finished_at &&
      run.status == RunStatus::kCompleted) {
    run.finished_at = *run.started_at + std::chrono::duration_cast<TimePoint::duration>(
                                            Seconds(*run.duration_seconds));
  }
  if (run.created_at && run.started_at && !run.queue_seconds) {
    run.queue_seconds = std::max(0.0, Seconds(*run.started_at - *run.created_at).count());
  }
  if (run.queue_seconds && *run.queue_seconds < 0) run.queue_seconds = 0.0;
  if (run.trigger.empty()) run.trigger = TriggerFromEvent(run.event);
}

Status Validate(const RunRecord& run) {
  auto missing = [](const char* f) { return InvalidArgument(std::string("missing required field \"") + f + "\""); };
  if (run.source.empty()) return missing("source");
  if (run.pipeline.empty()) return missing("pipeline");
  if (run.run_id.empty()) return missing("run_id");
  if (run.status != RunStatus::kQueued && !run.started_at) return missing("started_at");
  if (run.status == RunStatus::kQueued && !run.created_at && !run.started_at) {
    return missing("created_at");
  }
  if (run.status == RunStatus::kCompleted) {
    if (!run.result) return missing("result");
    if (!run.finished_at && !run.duration_seconds) return missing("finished_at");
  }
  if (run.result && !IsRunResult(*run.result)) {
    return InvalidArgument("result \"" + *run.result +
                           "\" is not one of success, failure, error, timeout, "
                           "cancellation, skip");
  }
  if (!run.trigger.empty() && !IsRunTrigger(run.trigger)) {
    return InvalidArgument("trigger \"" + run.trigger +
                           "\" is not one of push, pull_request, schedule, manual, other");
  }
  auto check_num = [](const std::optional<double>& v, const char* name) -> Status {
    if (v && (!std::isfinite(*v) || *v < 0)) {
      return InvalidArgument(std::string("field \"") + name +
                             "\" must be a finite number >= 0");
    }
    return Status::Ok();
  };
  if (auto s = check_num(run.queue_seconds, "queue_seconds"); !s.ok()) return s;
  if (auto s = check_num(run.duration_seconds, "duration_seconds"); !s.ok()) return s;
  for (auto [v, name] : {std::pair{run.tests_total, "tests_total"},
                         std::pair{run.tests_failed, "tests_failed"},
                         std::pair{run.tests_skipped, "tests_skipped"}}) {
    if (v && *v < 0) return InvalidArgument(std::string("field \"") + name + "\" must be >= 0");
  }
  if (run.attempt && *run.attempt < 1) return InvalidArgument("field \"attempt\" must be >= 1");
  return Status::Ok();
}

std::string ToJsonLine(const RunRecord& r) {
  boost::json::object o;
  o["source"] = r.source;
  o["pipeline"] = r.pipeline;
  if (!r.branch.empty()) o["branch"] = r.branch;
  o["run_id"] = r.run_id;
  if (r.number) o["number"] = *r.number;
  if (r.attempt) o["attempt"] = *r.attempt;
  if (!r.event.empty()) o["event"] = r.event;
  if (!r.trigger.empty()) o["trigger"] = r.trigger;
  o["status"] = RunStatusName(r.status);
  if (r.result) o["result"] = *r.result;
  if (r.created_at) o["created_at"] = FormatRfc3339(*r.created_at);
  if (r.started_at) o["started_at"] = FormatRfc3339(*r.started_at);
  if (r.finished_at) o["finished_at"] = FormatRfc3339(*r.finished_at);
  if (r.queue_seconds) o["queue_seconds"] = *r.queue_seconds;
  if (r.duration_seconds) o["duration_seconds"] = *r.duration_seconds;
  if (r.tests_total) o["tests_total"] = *r.tests_total;
  if (r.tests_failed) o["tests_failed"] = *r.tests_failed;
  if (r.tests_skipped) o["tests_skipped"] = *r.tests_skipped;
  if (!r.url.empty()) o["url"] = r.url;
  return json::Serialize(o);
}

namespace {

Result<std::optional<TimePoint>> ReadTime(const boost::json::value& v, const char* key) {
  const auto* f = json::Find(v, key);
  if (f == nullptr || f->is_null()) return std::optional<TimePoint>();
  if (!f->is_string()) {
    return InvalidArgument(std::string("field \"") + key + "\" must be an RFC 3339 string");
  }
  auto t = ParseRfc3339(f->get_string());
  if (!t) return t.status().WithContext(std::string("field \"") + key + "\"");
  return std::optional<TimePoint>(*t);
}

// Type-checks an optional field: present and not null means the right type.
Status CheckType(const boost::json::value& v, const char* key, bool want_number) {
  const auto* f = json::Find(v, key);
  if (f == nullptr || f->is_null()) return Status::Ok();
  const bool ok = want_number ? (f->is_number()) : f->is_string();
  if (ok) return Status::Ok();
  return InvalidArgument(std::string("field \"") + key + "\" must be a " +
                         (want_number ? "number" : "string"));
}

}  // namespace

Result<RunRecord> ParseRunRecord(std::string_view line) {
  auto doc = json::Parse(line);
  if (!doc) return doc.status();
  const auto& v = *doc;
  if (!v.is_object()) return InvalidArgument("a run must be a JSON object");
  for (const char* k : {"source", "pipeline", "branch", "event", "trigger", "status", "result", "url"}) {
    if (auto s = CheckType(v, k, false); !s.ok()) return s;
  }
  for (const char* k : {"number", "attempt", "queue_seconds", "duration_seconds",
                        "tests_total", "tests_failed", "tests_skipped"}) {
    if (auto s = CheckType(v, k, true); !s.ok()) return s;
  }
  RunRecord r;
  r.source = json::GetString(v, "source").value_or("");
  r.pipeline = json::GetString(v, "pipeline").value_or("");
  r.branch = json::GetString(v, "branch").value_or("");
  if (const auto* id = json::Find(v, "run_id"); id && id->is_number()) {
    const auto n = json::GetInt(v, "run_id");
    if (!n) return InvalidArgument("field \"run_id\" must be a string or a whole number");
    r.run_id = std::to_string(*n);
  } else {
    r.run_id = json::GetString(v, "run_id").value_or("");
  }
  r.number = json::GetInt(v, "number");
  r.attempt = json::GetInt(v, "attempt");
  r.event = json::GetString(v, "event").value_or("");
  r.trigger = json::GetString(v, "trigger").value_or("");
  const std::string status = json::GetString(v, "status").value_or("");
  if (status == "completed") {
    r.status = RunStatus::kCompleted;
  } else if (status == "running" || status == "in_progress") {
    r.status = RunStatus::kRunning;
  } else if (status == "queued") {
    r.status = RunStatus::kQueued;
  } else if (status.empty()) {
    return InvalidArgument("missing required field \"status\"");
  } else {
    return InvalidArgument("status \"" + status + "\" is not queued, running or completed");
  }
  r.result = json::GetString(v, "result");
  for (auto [field, key] : {std::pair{&r.created_at, "created_at"},
                            std::pair{&r.started_at, "started_at"},
                            std::pair{&r.finished_at, "finished_at"}}) {
    auto t = ReadTime(v, key);
    if (!t) return t.status();
    *field = *t;
  }
  r.queue_seconds = json::GetNumber(v, "queue_seconds");
  r.duration_seconds = json::GetNumber(v, "duration_seconds");
  r.tests_total = json::GetInt(v, "tests_total");
  r.tests_failed = json::GetInt(v, "tests_failed");
  r.tests_skipped = json::GetInt(v, "tests_skipped");
  r.url = json::GetString(v, "url").value_or("");
  Normalize(r);
  if (auto s = Validate(r); !s.ok()) return s;
  return r;
}

ParsedRuns ParseRunRecords(std::string_view text) {
  ParsedRuns out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    auto run = ParseRunRecord(line);
    if (run) {
      out.runs.push_back(std::move(*run));
    } else {
      out.errors.push_back("line " + std::to_string(line_no) + ": " + run.status().message());
    }
  }
  return out;
}

}  // namespace cicd
