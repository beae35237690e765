#pragma once
// The store between polling and scraping (STYLE.md, after
// gitlab-ci-pipelines-exporter): pollers write what they saw, /metrics only
// reads. It owns the lossless aggregates, the last finished run of every
// pipeline, the active runs, each source's health, and the cursor that keeps
// counters honest across restarts.
//
// Exactly-once: a finished run is counted when its key (pipeline, run id,
// attempt) has not been counted and it finished at or after the source's
// floor. The floor trails the newest counted finish time by `overlap`, so a
// run reported late (up to `overlap` after newer runs) is still counted once;
// keys are remembered until they fall below the floor.
//
// Thread-safe: every method takes the store's mutex.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cicd/core/result.h"
#include "cicd/core/run_record.h"
#include "cicd/core/time.h"
#include "cicd/exporter/config.h"
#include "cicd/exporter/source.h"

namespace cicd::exporter {

struct Histogram {
  std::vector<std::uint64_t> bucket_counts;  // per bucket, not cumulative; last is +Inf
  double sum = 0;
  std::uint64_t count = 0;
  void Observe(const std::vector<double>& bounds, double v);
};

// Aggregates of one (pipeline, branch, result).
struct ResultAggregate {
  std::uint64_t runs = 0;
  Histogram duration;
};

// The last finished run of a pipeline: the per-run values the detector
// learns from.
struct LastRun {
  std::string run_id;
  std::optional<std::int64_t> number;  // the CI's build/run number, when it has one
  TimePoint finished_at;
  double duration_seconds = 0;
  std::optional<double> queue_seconds;
  std::string result;
  std::optional<std::int64_t> tests_total, tests_failed, tests_skipped;
};

struct ActiveState {
  std::int64_t count = 0;
  std::optional<TimePoint> oldest;  // queued: creation; running: start
};

struct PipelineState {
  std::string source;
  std::string pipeline;
  std::map<std::pair<std::string, std::string>, ResultAggregate> by_branch_result;
  std::map<std::string, Histogram> queue_by_branch;
  std::uint64_t tests_passed = 0, tests_failed = 0, tests_skipped = 0;
  bool has_tests = false;
  std::optional<LastRun> last_run;
  ActiveState queued, running;
};

struct SourceHealth {
  bool up = false;
  bool polled = false;
  std::optional<TimePoint> last_success;
  double last_poll_seconds = 0;
  std::uint64_t polls_failed = 0;
  std::uint64_t runs_counted = 0;
  std::uint64_t runs_invalid = 0;
  std::string last_error;  // already redacted
};

struct StoreOptions {
  std::vector<double> duration_buckets;
  std::vector<double> queue_buckets;
  BranchFolding branches;
  // How late a run may be reported after newer ones and still be counted.
  Millis overlap{6 * 3'600'000};
};

class RunStore {
 public:
  explicit RunStore(StoreOptions options);

  // Where the next poll of `source` should start: its floor, or
  // now - initial_lookback for a source never polled.
  TimePoint PollSince(const std::string& source, TimePoint now, Millis initial_lookback);

  // Applies a successful poll; returns the number of newly counted runs.
  // Invalid runs are logged, counted in runs_invalid, and skipped.
  std::size_t ApplyPoll(const std::string& source, const PollResult& poll,
                        TimePoint now, double poll_seconds);
  void RecordFailure(const std::string& source, const Status& error, double poll_seconds);
  void SetKnownSources(const std::vector<std::string>& names);

  // Reads everything under the lock. The callbacks must not call back into
  // the store.
  void Read(const std::function<void(const std::map<std::string, PipelineState>& pipelines,
                                     const std::map<std::string, SourceHealth>& sources)>&
                reader) const;

  const StoreOptions& options() const { return options_; }

  // Cursor persistence: what was counted, the floors and the last runs, as a
  // versioned JSON document with a checksum.
  // `generation` receives the state's generation, to pass to MarkPersisted
  // once the document is safely written.
  std::string SerializeCursor(std::uint64_t* generation = nullptr) const;
  // Records that the state of `generation` is on disk; a failed write simply
  // does not call this, so the state stays dirty and is written next time.
  void MarkPersisted(std::uint64_t generation);
  // Restores a cursor; a corrupt, foreign or old document is an error and
  // leaves the store untouched.
  Status RestoreCursor(std::string_view document);
  // True when state changed since it was last persisted.
  bool dirty() const;

 private:
  struct Cursor {
    std::optional<TimePoint> floor;
    std::map<std::string, TimePoint> counted;  // "pipeline\x1frun key" -> finished
  };
  PipelineState& Pipeline(const std::string& source, const std::string& pipeline);
  void Count(const RunRecord& run);

  const StoreOptions options_;
  mutable std::mutex mu_;
  std::map<std::string, PipelineState> pipelines_;  // GUARDED_BY(mu_), key source\x1fpipeline
  std::map<std::string, SourceHealth> sources_;     // GUARDED_BY(mu_)
  std::map<std::string, Cursor> cursors_;           // GUARDED_BY(mu_)
  // Pipelines each source last reported active runs for.
  std::map<std::string, std::set<std::string>> active_by_source_;  // GUARDED_BY(mu_)
  std::uint64_t generation_ = 0;                    // GUARDED_BY(mu_), bumped on change
  std::uint64_t persisted_ = 0;                     // GUARDED_BY(mu_)
};

}  // namespace cicd::exporter
