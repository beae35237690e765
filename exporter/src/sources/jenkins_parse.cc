// Pure parsers of Jenkins /api/json payloads (no I/O): see jenkins.h.
#include <algorithm>
#include <boost/json.hpp>

#include "cicd/core/http_client.h"
#include "cicd/core/json.h"
#include "cicd/exporter/sources/jenkins.h"

namespace cicd::exporter {
namespace {

constexpr std::string_view kFolderClasses[] = {
    "com.cloudbees.hudson.plugins.folder.Folder",
    "jenkins.branch.OrganizationFolder",
};
constexpr std::string_view kMultibranchClasses[] = {
    "org.jenkinsci.plugins.workflow.multibranch.WorkflowMultiBranchProject",
};
constexpr std::string_view kTestActionClasses[] = {
    "hudson.tasks.junit.TestResultAction",
    "hudson.tasks.test.AggregatedTestResultAction",
};
constexpr std::string_view kTimeInQueueClass = "jenkins.metrics.impl.TimeInQueueAction";

template <std::size_t N>
bool OneOf(const std::string_view (&set)[N], std::string_view v) {
  return std::find(std::begin(set), std::end(set), v) != std::end(set);
}

std::string Join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += '/';
    out += p;
  }
  return out;
}

Result<boost::json::value> ParseObject(std::string_view body) {
  auto doc = json::Parse(body);
  if (!doc) return doc.status();
  if (!doc->is_object()) return ParseError("expected a JSON object");
  return std::move(doc).value();
}

// The list under `key`: nullptr when absent or null (nothing listed), an
// error when it is something else.
Result<const boost::json::array*> OptionalArray(const boost::json::value& v,
                                                std::string_view key) {
  const auto* f = json::Find(v, key);
  if (f == nullptr || f->is_null()) return static_cast<const boost::json::array*>(nullptr);
  if (!f->is_array()) return ParseError("\"" + std::string(key) + "\" is not a list");
  return &f->get_array();
}

std::optional<std::int64_t> QueueMillis(const boost::json::value& action) {
  if (auto q = json::GetInt(action, "queuingDurationMillis")) return q;
  const auto blocked = json::GetInt(action, "blockedDurationMillis");
  const auto buildable = json::GetInt(action, "buildableDurationMillis");
  const auto waiting = json::GetInt(action, "waitingDurationMillis");
  // A partial sum would understate the wait: all three or nothing.
  if (blocked && buildable && waiting) return *blocked + *buildable + *waiting;
  return std::nullopt;
}

void ReadActions(const boost::json::value& build, RunRecord& run) {
  const auto* actions = json::FindArray(build, "actions");
  if (actions == nullptr) return;
  bool tests_seen = false;
  for (const auto& action : *actions) {
    const auto cls = json::GetString(action, "_class");
    if (!cls) continue;
    if (!tests_seen && OneOf(kTestActionClasses, *cls)) {
      tests_seen = true;
      // Counts of a build still running are partial; only finished ones count.
      if (run.status != RunStatus::kCompleted) continue;
      run.tests_total = json::GetInt(action, "totalCount");
      run.tests_failed = json::GetInt(action, "failCount");
      run.tests_skipped = json::GetInt(action, "skipCount");
    } else if (*cls == kTimeInQueueClass && !run.queue_seconds) {
      if (const auto ms = QueueMillis(action)) {
        const std::int64_t clamped = std::max<std::int64_t>(0, *ms);
        run.queue_seconds = static_cast<double>(clamped) / 1000.0;
        run.created_at = *run.started_at - Millis(clamped);
      }
    }
  }
}

Result<JenkinsBuild> BuildFromJson(const boost::json::value& b, std::string_view source,
                                   const JenkinsJob& job) {
  if (!b.is_object()) return ParseError("build entry is not an object");
  const auto number = json::GetInt(b, "number");
  if (!number) return ParseError("build without a number");
  const std::string label = "build #" + std::to_string(*number);
  const auto timestamp = json::GetInt(b, "timestamp");
  if (!timestamp) return ParseError(label + ": no timestamp");

  JenkinsBuild out;
  RunRecord& r = out.run;
  r.source = std::string(source);
  r.pipeline = job.pipeline;
  r.branch = job.branch;
  r.run_id = std::to_string(*number);
  r.number = *number;
  r.url = json::GetString(b, "url").value_or("");
  r.started_at = FromUnixMillis(*timestamp);

  const auto result = json::GetString(b, "result");
  // Without `building` the result tells: Jenkins sets it when the run ends.
  const bool building = json::GetBool(b, "building").value_or(!result.has_value());
  if (building || !result) {
    r.status = RunStatus::kRunning;
  } else {
    r.status = RunStatus::kCompleted;
    r.result = JenkinsResult(*result);
    const auto duration = json::GetInt(b, "duration");
    if (!duration) return ParseError(label + ": finished without a duration");
    if (*duration < 0) return ParseError(label + ": negative duration");
    r.duration_seconds = static_cast<double>(*duration) / 1000.0;
    r.finished_at = *r.started_at + Millis(*duration);
  }
  ReadActions(b, r);
  // Jenkins reports -1 (or 0 for very old builds) when the queue id is unknown.
  if (const auto q = json::GetInt(b, "queueId"); q && *q > 0) out.queue_id = *q;
  Normalize(r);
  if (const Status s = Validate(r); !s.ok()) return ParseError(label + ": " + s.message());
  return out;
}

Result<JenkinsQueueItem> QueueItemFromJson(const boost::json::value& v) {
  if (!v.is_object()) return ParseError("queue item is not an object");
  const auto id = json::GetInt(v, "id");
  if (!id) return ParseError("queue item without an id");
  JenkinsQueueItem item;
  item.id = *id;
  if (const auto t = json::GetInt(v, "inQueueSince")) item.in_queue_since = FromUnixMillis(*t);
  if (const auto* task = json::Find(v, "task")) {
    if (const auto url = json::GetString(*task, "url")) {
      item.task_names = JenkinsJobNamesFromUrl(*url);
    }
  }
  if (const auto* executable = json::Find(v, "executable")) {
    item.executable_number = json::GetInt(*executable, "number");
  }
  item.cancelled = json::GetBool(v, "cancelled").value_or(false);
  item.why = json::GetString(v, "why").value_or("");
  item.url = json::GetString(v, "url").value_or("");
  return item;
}

}  // namespace

namespace detail {

std::string PercentDecode(std::string_view s) {
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace detail

JenkinsItemKind ClassifyJenkinsItem(std::string_view item_class) {
  if (OneOf(kFolderClasses, item_class)) return JenkinsItemKind::kFolder;
  if (OneOf(kMultibranchClasses, item_class)) return JenkinsItemKind::kMultibranch;
  return JenkinsItemKind::kJob;
}

Result<std::vector<JenkinsItem>> ParseJenkinsJobList(std::string_view body) {
  auto doc = ParseObject(body);
  if (!doc) return doc.status();
  auto jobs = OptionalArray(*doc, "jobs");
  if (!jobs) return jobs.status();
  std::vector<JenkinsItem> out;
  if (*jobs == nullptr) return out;
  for (const auto& j : **jobs) {
    auto name = json::GetString(j, "name");
    if (!name || name->empty()) continue;
    JenkinsItem item;
    item.name = std::move(*name);
    item.url = json::GetString(j, "url").value_or("");
    item.item_class = json::GetString(j, "_class").value_or("");
    item.kind = ClassifyJenkinsItem(item.item_class);
    out.push_back(std::move(item));
  }
  return out;
}

JenkinsJob MakeJenkinsJob(const std::vector<std::string>& parent_names, const std::string& name,
                          bool parent_is_multibranch) {
  JenkinsJob job;
  job.names = parent_names;
  job.names.push_back(name);
  if (parent_is_multibranch) {
    job.pipeline = Join(parent_names);
    job.branch = detail::PercentDecode(name);
    job.full_path = job.pipeline + "/" + job.branch;
  } else {
    job.pipeline = Join(job.names);
    job.full_path = job.pipeline;
  }
  return job;
}

std::string JenkinsJobPath(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += "/job/" + UrlEncode(n);
  return out;
}

std::vector<std::string> JenkinsJobNamesFromUrl(std::string_view url) {
  if (const auto sep = url.find("://"); sep != std::string_view::npos) {
    const auto slash = url.find('/', sep + 3);
    url = slash == std::string_view::npos ? std::string_view() : url.substr(slash);
  }
  url = url.substr(0, url.find_first_of("?#"));
  std::vector<std::string_view> segments;
  while (!url.empty()) {
    const auto slash = url.find('/');
    const std::string_view seg = url.substr(0, slash);
    if (!seg.empty()) segments.push_back(seg);
    if (slash == std::string_view::npos) break;
    url.remove_prefix(slash + 1);
  }
  std::vector<std::string> names;
  for (std::size_t i = 0; i + 1 < segments.size(); ++i) {
    if (segments[i] != "job") continue;
    names.push_back(detail::PercentDecode(segments[i + 1]));
    ++i;
  }
  return names;
}

std::string JenkinsResult(std::string_view r) {
  if (r == "SUCCESS") return "success";
  if (r == "FAILURE" || r == "UNSTABLE") return "failure";
  if (r == "ABORTED") return "cancellation";
  if (r == "NOT_BUILT") return "skip";
  return "error";
}

Result<JenkinsBuild> ParseJenkinsBuild(std::string_view body, std::string_view source,
                                       const JenkinsJob& job) {
  auto doc = ParseObject(body);
  if (!doc) return doc.status();
  return BuildFromJson(*doc, source, job);
}

Result<JenkinsBuildList> ParseJenkinsBuilds(std::string_view body, std::string_view source,
                                            const JenkinsJob& job) {
  auto doc = ParseObject(body);
  if (!doc) return doc.status();
  auto builds = OptionalArray(*doc, "builds");
  if (builds && *builds == nullptr) builds = OptionalArray(*doc, "allBuilds");
  if (!builds) return builds.status();
  JenkinsBuildList out;
  if (*builds == nullptr) return out;
  out.entries = (*builds)->size();
  for (const auto& b : **builds) {
    auto build = BuildFromJson(b, source, job);
    if (!build) {
      out.skipped.push_back(build.status().message());
      continue;
    }
    out.builds.push_back(std::move(build).value());
  }
  return out;
}

Result<JenkinsQueueItem> ParseJenkinsQueueItem(std::string_view body) {
  auto doc = ParseObject(body);
  if (!doc) return doc.status();
  return QueueItemFromJson(*doc);
}

Result<std::vector<JenkinsQueueItem>> ParseJenkinsQueue(std::string_view body) {
  auto doc = ParseObject(body);
  if (!doc) return doc.status();
  auto items = OptionalArray(*doc, "items");
  if (!items) return items.status();
  std::vector<JenkinsQueueItem> out;
  if (*items == nullptr) return out;
  for (const auto& v : **items) {
    auto item = QueueItemFromJson(v);
    if (item) out.push_back(std::move(item).value());
  }
  return out;
}

bool ApplyJenkinsQueueItem(const JenkinsQueueItem& item, RunRecord& run) {
  if (!item.in_queue_since || !item.executable_number || !run.number ||
      *item.executable_number != *run.number) {
    return false;
  }
  run.created_at = *item.in_queue_since;
  run.queue_seconds.reset();
  Normalize(run);
  return true;
}

std::optional<RunRecord> JenkinsQueuedRun(const JenkinsQueueItem& item, std::string_view source,
                                          const JenkinsJob& job, std::string_view base_url) {
  if (!item.in_queue_since) return std::nullopt;
  RunRecord r;
  r.source = std::string(source);
  r.pipeline = job.pipeline;
  r.branch = job.branch;
  r.run_id = "queue-" + std::to_string(item.id);
  r.status = RunStatus::kQueued;
  r.created_at = *item.in_queue_since;
  if (!item.url.empty()) r.url = JoinUrl(base_url, item.url);
  return r;
}

}  // namespace cicd::exporter
