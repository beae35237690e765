#pragma once
// The one interface every CI source implements (STYLE.md principle 2). Each
// source lives in one file under exporter/src/sources/ and is listed in the
// table in exporter/src/sources/sources.cc.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "cicd/core/http_client.h"
#include "cicd/core/result.h"
#include "cicd/core/run_record.h"
#include "cicd/core/time.h"
#include "cicd/core/yaml.h"
#include "cicd/exporter/api_client.h"

namespace cicd::exporter {

// What one poll saw.
struct PollResult {
  // Runs that finished at or after the poll's `since`, in any order. The
  // store deduplicates, so a source may return a run again.
  std::vector<RunRecord> finished;
  // Runs queued or running now (a snapshot that replaces the previous one).
  std::vector<RunRecord> active;
  // Failures of parts of the poll (one job, one repository) that did not stop
  // the rest. Non-empty marks the source down for this poll.
  std::vector<std::string> partial_errors;
};

// A CI system the exporter polls. Not required to be thread-safe: one poller
// thread owns each source.
class Source {
 public:
  virtual ~Source() = default;
  // Fetches runs finished since `since` and the currently active runs. An
  // error means nothing usable came back; the caller keeps its last data.
  virtual Result<PollResult> Poll(TimePoint since) = 0;
};

// What a source gets from the exporter: the seams of STYLE.md principle 3.
struct SourceDeps {
  HttpFetcher* fetcher = nullptr;        // not owned; outlives the source
  const Clock* clock = nullptr;          // not owned
  ApiObserver* observer = nullptr;       // not owned; may be null
  Sleeper sleep;                         // interruptible wait; null = real sleep
};

// Settings every source has, parsed by the config loader.
struct SourceCommon {
  std::string name;  // the `source` label; defaults to the type
  std::string type;  // "jenkins", "github", "replay"
  Millis poll_interval{60'000};
  // How far back the first poll looks when there is no saved cursor.
  Millis initial_lookback{3'600'000};
  ApiClientOptions api;  // rate limit, retries, timeout, TLS
};

// Builds a configured source once its dependencies exist.
using SourceFactory =
    std::function<std::unique_ptr<Source>(const SourceCommon&, const SourceDeps&)>;

// One row of the sources table: how to read a source's own config keys
// (throwing ConfigError with key and line) and how to build it.
struct SourceType {
  const char* type;
  const char* description;
  // Reads the source-specific keys of one `sources[]` entry from `yaml`
  // (marking them read) and returns a factory bound to the parsed settings.
  SourceFactory (*parse)(YamlMap& yaml, SourceCommon& common);
};

// The table of all sources (sources.cc).
const std::vector<SourceType>& SourceTypes();
const SourceType* FindSourceType(std::string_view type);

}  // namespace cicd::exporter
