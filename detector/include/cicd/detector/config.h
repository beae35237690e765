#pragma once
// The detector's configuration: one typed tree parsed once (STYLE.md
// principle 6). The offline commands read the `detection:` section; the
// sidecar (`cicd-detector serve`) reads the others. Every field states its
// default. Secrets (bearer_token, basic_auth.password, api_token) accept
// ${VAR} references and are registered with Logging::AddSecret by the parser.

#include <string>

#include "cicd/detector/history.h"
#include "cicd/detector/options.h"
#include "cicd/detector/prometheus_client.h"

namespace cicd::detector {

struct WebConfig {
  // Prometheus style "host:port"; ":9802" listens on all interfaces.
  std::string listen_address = ":9802";
  // Request bodies larger than this are answered 413.
  std::size_t max_body_bytes = 64 * 1024;
};

struct ScheduleConfig {
  // Detection on newly finished runs and on active (stuck) runs.
  Millis detect_interval{30'000};
  // Daily retrain at this UTC time of day ("HH:MM"), in minutes after 00:00.
  int retrain_minute = 2 * 60;
  // Old anomaly history is deleted this often.
  Millis cleanup_interval{7LL * 24 * 3'600'000};
  // How much history a training reads from Prometheus.
  Millis history{30LL * 24 * 3'600'000};
};

struct DetectorConfig {
  DetectionOptions detection;
  // Prometheus (or a compatible query API): url with any path prefix,
  // bearer_token or basic_auth {username, password}, timeout, retries and
  // tls {ca_file, insecure_skip_verify}.
  PrometheusClientOptions prometheus;
  // How history is read (prometheus.history_step, history_window,
  // history_batch_pipelines); see HistoryReadOptions.
  HistoryReadOptions history_read;
  WebConfig web;
  ScheduleConfig schedule;
  // Models and anomaly history are kept here; "" keeps them in memory only.
  std::string state_dir;
  // When set, POST endpoints need "Authorization: Bearer <api_token>".
  std::string api_token;
  // The exporter whose POST /api/v1/collect the detector may call; "" = none.
  std::string exporter_url;
  // Anomalies older than this are deleted by the cleanup.
  Millis anomaly_retention{30LL * 24 * 3'600'000};
};

// Throws ConfigError naming the key and line.
DetectorConfig ParseDetectorConfig(const std::string& yaml_text, const std::string& file_name);
DetectorConfig LoadDetectorConfig(const std::string& path);

}  // namespace cicd::detector
