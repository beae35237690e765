#pragma once
// The exporter's commands, callable from main and from tests.

#include <memory>
#include <string>
#include <vector>

#include "cicd/core/http_client.h"
#include "cicd/core/web_server.h"
#include "cicd/exporter/config.h"
#include "cicd/exporter/metrics.h"
#include "cicd/exporter/poller.h"
#include "cicd/exporter/store.h"

namespace cicd::exporter {

// The running exporter: store, pollers, and the HTTP endpoints
//   GET  <telemetry path>   metrics (text format 0.0.4)
//   GET  /                  landing page
//   GET  /-/healthy, /-/ready
//   POST /api/v1/collect[?source=NAME]   poll now
class Exporter {
 public:
  // Builds sources from the config and restores the cursor state file.
  // `clock` and `fetcher` are not owned.
  Exporter(const ExporterConfig& config, const Clock* clock, HttpFetcher* fetcher);
  ~Exporter();

  // Starts the pollers and the web server.
  Status Start();
  // Polls every source once on the caller's thread (tests, start-up checks).
  void PollAllOnce();
  void Stop();
  int port() const { return web_ ? web_->port() : 0; }
  ExporterMetrics& metrics() { return *metrics_; }
  RunStore& store() { return *store_; }
  WebResponse Handle(const WebRequest& req) const;

 private:
  void Persist();

  const ExporterConfig& config_;
  const Clock* clock_;
  Stopper stopper_;
  std::unique_ptr<RunStore> store_;
  std::unique_ptr<ExporterMetrics> metrics_;
  std::vector<std::unique_ptr<Poller>> pollers_;
  std::unique_ptr<WebServer> web_;
  std::mutex persist_mu_;
};

// Polls every source once for runs finished in the last `since` and returns
// them (branch filters applied). Errors of single sources are returned in
// `errors` ("source: message"); their runs are missing.
struct CollectedRuns {
  std::vector<RunRecord> runs;
  std::vector<std::string> errors;
};
CollectedRuns CollectOnce(const ExporterConfig& config, Millis since, const Clock* clock,
                          HttpFetcher* fetcher);

}  // namespace cicd::exporter
