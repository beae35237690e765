#include "cicd/exporter/store.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>

#include "cicd/core/json.h"
#include "cicd/core/log.h"

namespace cicd::exporter {
namespace {

constexpr char kSep = '\x1f';
constexpr std::string_view kCursorMagic = "cicd-exporter-cursor";
constexpr int kCursorVersion = 1;
// Bounds the remembered keys per source if a source reports absurd volumes.
constexpr std::size_t kMaxCountedPerSource = 200'000;

std::uint64_t Fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string Hex(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

void Histogram::Observe(const std::vector<double>& bounds, double v) {
  if (bucket_counts.empty()) bucket_counts.assign(bounds.size() + 1, 0);
  const auto it = std::lower_bound(bounds.begin(), bounds.end(), v);  // le semantics
  ++bucket_counts[static_cast<std::size_t>(it - bounds.begin())];
  sum += v;
  ++count;
}

RunStore::RunStore(StoreOptions options) : options_(std::move(options)) {}

void RunStore::SetKnownSources(const std::vector<std::string>& names) {
  std::lock_guard lock(mu_);
  for (const auto& n : names) sources_[n];
}

TimePoint RunStore::PollSince(const std::string& source, TimePoint now, Millis initial_lookback) {
  std::lock_guard lock(mu_);
  Cursor& c = cursors_[source];
  if (!c.floor) {
    c.floor = now - initial_lookback;
    ++generation_;
  }
  return *c.floor;
}

PipelineState& RunStore::Pipeline(const std::string& source, const std::string& pipeline) {
  const std::string key = source + kSep + pipeline;
  auto it = pipelines_.find(key);
  if (it == pipelines_.end()) {
    it = pipelines_.emplace(key, PipelineState{}).first;
    it->second.source = source;
    it->second.pipeline = pipeline;
  }
  return it->second;
}

void RunStore::Count(const RunRecord& run) {
  PipelineState& p = Pipeline(run.source, run.pipeline);
  const std::string branch = options_.branches.Fold(run.branch);
  ResultAggregate& agg = p.by_branch_result[{branch, *run.result}];
  ++agg.runs;
  if (run.duration_seconds) agg.duration.Observe(options_.duration_buckets, *run.duration_seconds);
  if (run.queue_seconds) p.queue_by_branch[branch].Observe(options_.queue_buckets, *run.queue_seconds);
  if (run.tests_total) {
    // passed needs both failed and skipped; an outcome the source did not
    // report is not counted as zero.
    p.has_tests = true;
    if (run.tests_failed) p.tests_failed += static_cast<std::uint64_t>(*run.tests_failed);
    if (run.tests_skipped) p.tests_skipped += static_cast<std::uint64_t>(*run.tests_skipped);
    if (run.tests_failed && run.tests_skipped) {
      p.tests_passed += static_cast<std::uint64_t>(
          std::max<std::int64_t>(0, *run.tests_total - *run.tests_failed - *run.tests_skipped));
    }
  }
  if (!p.last_run || *run.finished_at >= p.last_run->finished_at) {
    p.last_run = LastRun{run.Key(), run.number, *run.finished_at, run.duration_seconds.value_or(0),
                         run.queue_seconds, *run.result, run.tests_total, run.tests_failed,
                         run.tests_skipped};
  }
}

std::size_t RunStore::ApplyPoll(const std::string& source, const PollResult& poll, TimePoint now,
                                double poll_seconds) {
  std::lock_guard lock(mu_);
  SourceHealth& health = sources_[source];
  Cursor& cursor = cursors_[source];
  if (!cursor.floor) cursor.floor = now;
  std::size_t counted = 0;
  std::optional<TimePoint> newest;
  for (RunRecord run : poll.finished) {
    Normalize(run);
    if (auto s = Validate(run); !s.ok() || run.status != RunStatus::kCompleted || !run.finished_at) {
      ++health.runs_invalid;
      LogWarn("skipping invalid run", {{"source", source}, {"pipeline", run.pipeline},
                                       {"run_id", run.run_id},
                                       {"err", s.ok() ? std::string("not completed") : s.message()}});
      continue;
    }
    if (*run.finished_at < *cursor.floor) continue;
    const std::string key = run.pipeline + kSep + run.Key();
    if (!cursor.counted.emplace(key, *run.finished_at).second) continue;
    Count(run);
    ++counted;
    if (!newest || *run.finished_at > *newest) newest = *run.finished_at;
  }
  // Active runs: a snapshot per source replaces the previous one.
  std::map<std::string, std::pair<ActiveState, ActiveState>> active;
  for (const RunRecord& run : poll.active) {
    auto& [queued, running] = active[run.source + kSep + run.pipeline];
    ActiveState& st = run.status == RunStatus::kQueued ? queued : running;
    ++st.count;
    const std::optional<TimePoint> since =
        run.status == RunStatus::kQueued ? (run.created_at ? run.created_at : run.started_at)
                                         : run.started_at;
    if (since && (!st.oldest || *since < *st.oldest)) st.oldest = since;
  }
  for (const auto& [key, states] : active) {
    const auto sep = key.find(kSep);
    PipelineState& p = Pipeline(key.substr(0, sep), key.substr(sep + 1));
    p.queued = states.first;
    p.running = states.second;
  }
  // Pipelines this source reported active before but not now have none,
  // unless part of the poll failed: then their last state stays (a failing
  // repository or job must not look idle).
  auto& owned = active_by_source_[source];
  const bool complete = poll.partial_errors.empty();
  for (const auto& key : owned) {
    if (complete && active.count(key) == 0) {
      if (auto it = pipelines_.find(key); it != pipelines_.end()) {
        it->second.queued = ActiveState{};
        it->second.running = ActiveState{};
      }
    }
  }
  if (complete) owned.clear();
  for (const auto& [key, states] : active) owned.insert(key);

  // The floor only moves on a complete poll: runs of a part that failed
  // for a while are still counted when it comes back.
  if (newest && complete) {
    const TimePoint candidate = *newest - options_.overlap;
    if (candidate > *cursor.floor) cursor.floor = candidate;
  }
  for (auto it = cursor.counted.begin(); it != cursor.counted.end();) {
    it = it->second < *cursor.floor ? cursor.counted.erase(it) : std::next(it);
  }
  if (cursor.counted.size() > kMaxCountedPerSource) {
    LogWarn("too many remembered runs; raising the floor", {{"source", source}});
    std::vector<TimePoint> times;
    for (const auto& [k, t] : cursor.counted) times.push_back(t);
    std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
    cursor.floor = times[times.size() / 2];
    for (auto it = cursor.counted.begin(); it != cursor.counted.end();) {
      it = it->second < *cursor.floor ? cursor.counted.erase(it) : std::next(it);
    }
  }
  health.up = poll.partial_errors.empty();
  health.polled = true;
  health.last_poll_seconds = poll_seconds;
  health.runs_counted += counted;
  if (poll.partial_errors.empty()) {
    health.last_success = now;
    health.last_error.clear();
  } else {
    ++health.polls_failed;
    health.last_error = Logging::Redact(poll.partial_errors.front());
  }
  if (counted > 0) ++generation_;
  return counted;
}

void RunStore::RecordFailure(const std::string& source, const Status& error, double poll_seconds) {
  std::lock_guard lock(mu_);
  SourceHealth& health = sources_[source];
  health.up = false;
  health.polled = true;
  health.last_poll_seconds = poll_seconds;
  ++health.polls_failed;
  health.last_error = Logging::Redact(error.ToString());
}

void RunStore::Read(const std::function<void(const std::map<std::string, PipelineState>&,
                                             const std::map<std::string, SourceHealth>&)>& reader)
    const {
  std::lock_guard lock(mu_);
  reader(pipelines_, sources_);
}

bool RunStore::dirty() const {
  std::lock_guard lock(mu_);
  return generation_ != persisted_;
}

void RunStore::MarkPersisted(std::uint64_t generation) {
  std::lock_guard lock(mu_);
  persisted_ = std::max(persisted_, generation);
}

std::string RunStore::SerializeCursor(std::uint64_t* generation) const {
  std::lock_guard lock(mu_);
  if (generation != nullptr) *generation = generation_;
  boost::json::object payload;
  boost::json::object sources;
  for (const auto& [name, c] : cursors_) {
    boost::json::object o;
    if (c.floor) o["floor"] = ToUnixSeconds(*c.floor);
    boost::json::object counted;
    for (const auto& [k, t] : c.counted) counted[k] = ToUnixSeconds(t);
    o["counted"] = std::move(counted);
    sources[name] = std::move(o);
  }
  payload["sources"] = std::move(sources);
  boost::json::array last;
  for (const auto& [key, p] : pipelines_) {
    (void)key;
    if (!p.last_run) continue;
    const LastRun& l = *p.last_run;
    boost::json::object o;
    o["source"] = p.source;
    o["pipeline"] = p.pipeline;
    o["run_id"] = l.run_id;
    if (l.number) o["number"] = *l.number;
    o["finished_at"] = ToUnixSeconds(l.finished_at);
    o["duration_seconds"] = l.duration_seconds;
    if (l.queue_seconds) o["queue_seconds"] = *l.queue_seconds;
    o["result"] = l.result;
    if (l.tests_total) o["tests_total"] = *l.tests_total;
    if (l.tests_failed) o["tests_failed"] = *l.tests_failed;
    if (l.tests_skipped) o["tests_skipped"] = *l.tests_skipped;
    last.push_back(std::move(o));
  }
  payload["last_runs"] = std::move(last);
  const std::string body = boost::json::serialize(payload);
  return std::string(kCursorMagic) + " v" + std::to_string(kCursorVersion) + " " +
         Hex(Fnv1a(body)) + "\n" + body + "\n";
}

Status RunStore::RestoreCursor(std::string_view doc) {
  const auto nl = doc.find('\n');
  if (nl == std::string_view::npos) return ParseError("cursor file has no header line");
  const std::string_view header = doc.substr(0, nl);
  std::string_view body = doc.substr(nl + 1);
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
  const std::string want_prefix = std::string(kCursorMagic) + " v";
  if (header.substr(0, want_prefix.size()) != want_prefix) {
    return ParseError("not a cicd-exporter cursor file");
  }
  const std::string_view rest = header.substr(want_prefix.size());
  const auto space = rest.find(' ');
  if (space == std::string_view::npos) return ParseError("cursor header is truncated");
  if (rest.substr(0, space) != std::to_string(kCursorVersion)) {
    return ParseError("cursor file version " + std::string(rest.substr(0, space)) +
                      " is not supported (want " + std::to_string(kCursorVersion) + ")");
  }
  if (rest.substr(space + 1) != Hex(Fnv1a(body))) {
    return ParseError("cursor checksum mismatch (file truncated or edited)");
  }
  auto parsed = json::Parse(body);
  if (!parsed) return parsed.status();
  const auto* sources = json::FindObject(*parsed, "sources");
  const auto* last = json::FindArray(*parsed, "last_runs");
  if (sources == nullptr || last == nullptr) return ParseError("cursor lacks sources or last_runs");

  std::map<std::string, Cursor> cursors;
  for (const auto& [name, v] : *sources) {
    Cursor c;
    if (auto f = json::GetNumber(v, "floor")) c.floor = FromUnixSeconds(*f);
    if (const auto* counted = json::FindObject(v, "counted")) {
      for (const auto& [k, t] : *counted) {
        if (!t.is_number()) return ParseError("cursor: bad counted entry");
        c.counted.emplace(std::string(k), FromUnixSeconds(t.to_number<double>()));
      }
    }
    cursors.emplace(std::string(name), std::move(c));
  }
  std::lock_guard lock(mu_);
  for (const auto& v : *last) {
    auto source = json::GetString(v, "source");
    auto pipeline = json::GetString(v, "pipeline");
    auto finished = json::GetNumber(v, "finished_at");
    auto result = json::GetString(v, "result");
    if (!source || !pipeline || !finished || !result) continue;
    PipelineState& p = Pipeline(*source, *pipeline);
    p.last_run = LastRun{json::GetString(v, "run_id").value_or(""), json::GetInt(v, "number"),
                         FromUnixSeconds(*finished),
                         json::GetNumber(v, "duration_seconds").value_or(0),
                         json::GetNumber(v, "queue_seconds"), *result,
                         json::GetInt(v, "tests_total"), json::GetInt(v, "tests_failed"),
                         json::GetInt(v, "tests_skipped")};
  }
  cursors_ = std::move(cursors);
  return Status::Ok();
}

}  // namespace cicd::exporter
