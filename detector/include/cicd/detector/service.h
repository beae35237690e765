#pragma once
// The online sidecar (`cicd-detector serve`): reads per-run history from
// Prometheus, trains one PipelineModel per pipeline, judges new and active
// runs on a schedule, keeps anomaly history, and persists both. Fetching
// (QueryFunc), the clock and the exporter's HTTP client are seams so tests
// pass lambdas and fake clocks. Rendering (/metrics, status page) and the REST
// API live in their own files and read a ServiceSnapshot.
//
// Thread-safety: every public method is thread-safe. Training runs on its
// own thread and swaps models in at the end, so detection and serving go on
// with the previous models meanwhile.

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <vector>

#include "cicd/core/http_client.h"
#include "cicd/core/result.h"
#include "cicd/core/time.h"
#include "cicd/detector/config.h"
#include "cicd/detector/history.h"
#include "cicd/detector/pipeline_model.h"
#include "cicd/detector/prometheus_client.h"
#include "cicd/detector/verdict.h"

namespace cicd::detector {

// Stable 64-bit FNV-1a of source + '\x1f' + pipeline (shard assignment).
std::uint64_t PipelineHash(std::string_view source, std::string_view pipeline);

// `--shard i/n`: this detector judges the pipelines whose hash % n == i.
struct Shard {
  int index = 0;
  int count = 1;
  bool Owns(std::string_view source, std::string_view pipeline) const {
    return count <= 1 || PipelineHash(source, pipeline) % static_cast<std::uint64_t>(count) ==
                             static_cast<std::uint64_t>(index);
  }
};
// "0/1", "2/4". kInvalidArgument unless 0 <= i < n.
Result<Shard> ParseShard(std::string_view text);

struct ServiceDeps {
  QueryFunc query;                    // required
  // Lists the pipelines to train in batches (PrometheusClient::Series); when
  // null, a training reads every pipeline in one query per window.
  SeriesFunc series;
  HttpFetcher* fetcher = nullptr;     // for POST /api/v1/collect; not owned; may be null
  const Clock* clock = &SystemClock::Get();  // not owned
};

// One anomaly as kept in the history and shown by the API.
struct AnomalyRecord {
  std::string source, pipeline, run_id, kind, severity;
  double score = 0;
  std::vector<std::string> reasons;
  TimePoint at;                     // the run's finish time, or detection time for active runs
  std::optional<double> duration;   // seconds
};

// One finished run on the status page chart.
struct RunPoint {
  TimePoint finished;
  double duration = 0;
  bool anomalous = false;
};

struct PipelineSnapshot {
  std::string source, pipeline;
  std::size_t runs_seen = 0;   // runs the model has learnt
  std::size_t min_runs = 0;    // needed before verdicts
  std::size_t samples = 0;     // runs the last training read
  std::optional<TimePoint> trained_at;
  bool has_forest = false;
  std::optional<Verdict> last;    // verdict of the newest finished run
  std::optional<Verdict> active;  // stuck check of the oldest running run
  std::map<std::string, double> feature_scores;  // robust deviations of the newest run
  std::map<std::string, Band> expected;          // duration, queue, tests
  std::vector<RunPoint> recent;                  // oldest first
};

struct ServiceSnapshot {
  std::vector<PipelineSnapshot> pipelines;  // by source, pipeline
  std::vector<AnomalyRecord> anomalies;     // oldest first
  std::map<std::tuple<std::string, std::string, std::string, std::string>, std::uint64_t>
      anomaly_counts;                        // (source, pipeline, kind, severity)
  bool prometheus_up = false;
  std::uint64_t query_errors = 0;
  std::uint64_t rejected_samples = 0;
  bool training = false;
  std::optional<TimePoint> last_detect, last_train;
  std::string last_error;                    // of the last failed query, "" after a success
  Shard shard;
};

struct TrainSummary {
  std::size_t pipelines = 0, runs = 0;
};

struct DetectSummary {
  std::size_t runs = 0;                 // newly judged finished runs
  std::vector<Verdict> verdicts;        // of this pass with score >= threshold
};

class Service {
 public:
  // `config` is copied. REQUIRES: deps.query and deps.clock set.
  Service(const DetectorConfig& config, ServiceDeps deps, Shard shard = {});
  ~Service();  // waits for a running training
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  // Loads models and anomaly history from state_dir. A missing file is a
  // fresh start; a corrupt, foreign or old-format file is logged and ignored.
  // Returns how many models were loaded.
  std::size_t Load();
  // Writes models and anomalies atomically (no-op without state_dir).
  Status Save();

  // Reads `history` of runs and refits every owned pipeline's model.
  // Synchronous; serialised with other trainings; detection and serving go
  // on meanwhile. `contamination`: see PipelineModel::Retrain; a value given
  // here is remembered for later trainings without one (the schedule's,
  // /api/v1/pipeline) until the process restarts.
  Result<TrainSummary> Train(Millis history, std::optional<double> contamination = std::nullopt);
  // Train on a background thread. False (and nothing started) when one runs.
  bool StartTraining(Millis history, std::optional<double> contamination = std::nullopt);
  bool training() const { return training_.load(); }

  // Judges the runs finished since each model's newest run, and the active
  // runs for stuck ones. Verdicts with score >= threshold are returned.
  Result<DetectSummary> Detect(double threshold = 1.0);
  // Deletes anomalies older than anomaly_retention; returns how many.
  std::size_t Cleanup();
  // Asks the exporter to poll now. Returns the exporter's JSON answer.
  // kInvalidArgument without exporter_url, kUnavailable when it fails.
  Result<std::string> Collect();

  // Runs whatever the schedule says is due now (detect, daily retrain,
  // cleanup, persistence). Call it often (the serve loop: every second).
  void Tick();
  // When the next scheduled step is due.
  TimePoint NextDue() const;

  ServiceSnapshot Snapshot() const;
  const DetectorConfig& config() const { return config_; }
  const Clock& clock() const { return *deps_.clock; }

 private:
  struct PipelineState {
    std::unique_ptr<PipelineModel> model;
    std::size_t samples = 0;
    std::optional<TimePoint> trained_at;
    TimePoint last_finished{};
    std::optional<Verdict> last, active;
    std::map<std::string, double> feature_scores;
    std::deque<RunPoint> recent;
    // Start of the running run last reported stuck: when it finishes, it is
    // the same incident and not recorded a second time.
    std::optional<TimePoint> stuck_started;
  };
  using Key = std::pair<std::string, std::string>;  // source, pipeline

  struct Fetched {
    std::vector<RunRecord> runs;
    std::size_t rejected = 0;
  };
  // Runs finished in [at - range, at] of the pipelines `matcher` selects.
  Result<Fetched> FetchRuns(Millis range, TimePoint at, std::string_view matcher = "");
  // Label matchers of the batches a training reads: one "" (everything)
  // without a SeriesFunc or when the listing fails.
  std::vector<std::string> TrainingBatches(Millis range, TimePoint at);
  void NoteQuery(const Status& s);  // REQUIRES: mu_ held
  void RecordAnomaly(const Verdict& v, TimePoint at, std::optional<double> duration);  // mu_ held
  void ApplyRun(PipelineState& st, const RunRecord& run, double threshold, DetectSummary& out);
  std::string SerializeModels() const;   // mu_ held
  std::string SerializeAnomalies() const;  // mu_ held
  void LoadModels(const std::string& text);
  void LoadAnomalies(const std::string& text);

  const DetectorConfig config_;
  const ServiceDeps deps_;
  const Shard shard_;

  std::mutex train_mu_;   // one training at a time
  std::mutex detect_mu_;  // one detection pass at a time
  std::mutex thread_mu_;
  std::mutex save_mu_;    // one writer of the state files at a time
  std::thread train_thread_;  // GUARDED_BY(thread_mu_)
  std::atomic<bool> training_{false};
  std::optional<double> contamination_;  // GUARDED_BY(train_mu_): the last one requested

  mutable std::mutex mu_;
  std::map<Key, PipelineState> pipelines_;         // GUARDED_BY(mu_)
  std::deque<AnomalyRecord> anomalies_;            // GUARDED_BY(mu_)
  std::map<std::tuple<std::string, std::string, std::string, std::string>, std::uint64_t>
      anomaly_counts_;                             // GUARDED_BY(mu_)
  bool prometheus_up_ = false;                     // GUARDED_BY(mu_)
  bool queried_ = false;                           // GUARDED_BY(mu_)
  std::uint64_t query_errors_ = 0;                 // GUARDED_BY(mu_)
  std::uint64_t rejected_samples_ = 0;             // GUARDED_BY(mu_)
  std::optional<TimePoint> last_detect_, last_train_;  // GUARDED_BY(mu_)
  std::optional<TimePoint> last_ok_detect_;        // GUARDED_BY(mu_)
  std::string last_error_;                         // GUARDED_BY(mu_)
  bool dirty_ = false;                             // GUARDED_BY(mu_)
  TimePoint next_detect_{}, next_retrain_{}, next_cleanup_{};  // GUARDED_BY(mu_)
};

// The UTC time after `now` at which the daily retrain next runs.
TimePoint NextDailyAt(TimePoint now, int minute_of_day);

}  // namespace cicd::detector
