#include "cicd/detector/config.h"

#include <cstdio>

#include "cicd/core/atomic_file.h"
#include "cicd/core/log.h"

namespace cicd::detector {
namespace {

std::string Secret(YamlMap& y, const std::string& key) {
  std::string v = y.ExpandedString(key, "");
  if (!v.empty()) Logging::AddSecret(v);
  return v;
}

void ParsePrometheus(YamlMap& y, PrometheusClientOptions& o) {
  o.url = y.ExpandedString("url", o.url);
  // The parser's own message never quotes the URL, which may hold a password.
  if (auto u = Url::Parse(o.url); !u.ok()) y.Fail("url", u.status().message());
  o.bearer_token = Secret(y, "bearer_token");
  if (y.Has("basic_auth")) {
    YamlMap b(y.Child("basic_auth"), y.path() + ".basic_auth");
    o.basic_user = b.ExpandedString("username", "");
    o.basic_password = Secret(b, "password");
    if (o.basic_user.empty()) b.Fail("username", "required with basic_auth");
    b.Finish();
  }
  if (!o.bearer_token.empty() && !o.basic_user.empty()) {
    y.Fail("bearer_token", "bearer_token and basic_auth are exclusive");
  }
  o.timeout = y.Duration("timeout", o.timeout);
  o.max_attempts = static_cast<int>(y.Int("max_attempts", o.max_attempts, 1, 20));
  o.backoff = y.Duration("backoff", o.backoff);
  if (y.Has("tls")) {
    YamlMap t(y.Child("tls"), y.path() + ".tls");
    o.http.ca_file = t.String("ca_file", "");
    o.http.insecure_skip_verify = t.Bool("insecure_skip_verify", false);
    t.Finish();
  }
}

void ParseHistoryRead(YamlMap& y, HistoryReadOptions& h) {
  h.step = y.Duration("history_step", h.step);
  if (h.step < Millis(1000)) y.Fail("history_step", "must be at least 1s");
  h.window = y.Duration("history_window", h.window);
  if (h.window < h.step) y.Fail("history_window", "must be at least history_step");
  h.batch_pipelines = static_cast<std::size_t>(
      y.Int("history_batch_pipelines", static_cast<std::int64_t>(h.batch_pipelines), 0, 100'000));
}

int ParseTimeOfDay(YamlMap& y, const std::string& key, int def) {
  if (!y.Has(key)) return def;
  const std::string s = y.String(key, "");
  int h = -1, m = -1;
  char extra = 0;
  if (std::sscanf(s.c_str(), "%d:%d%c", &h, &m, &extra) != 2 || h < 0 || h > 23 || m < 0 || m > 59) {
    y.Fail(key, "want a UTC time of day \"HH:MM\", got \"" + s + "\"");
  }
  return h * 60 + m;
}

void ParseSchedule(YamlMap& y, ScheduleConfig& s) {
  s.detect_interval = y.Duration("detect_interval", s.detect_interval);
  if (s.detect_interval < Millis(100)) y.Fail("detect_interval", "must be at least 100ms");
  s.retrain_minute = ParseTimeOfDay(y, "retrain_at", s.retrain_minute);
  s.cleanup_interval = y.Duration("cleanup_interval", s.cleanup_interval);
  if (s.cleanup_interval < Millis(1000)) y.Fail("cleanup_interval", "must be at least 1s");
  s.history = y.Duration("history", s.history);
  if (s.history < Millis(60'000)) y.Fail("history", "must be at least 1m");
}

}  // namespace

DetectorConfig ParseDetectorConfig(const std::string& yaml_text, const std::string& file_name) {
  const YAML::Node root = LoadYaml(yaml_text, file_name);
  DetectorConfig cfg;
  YamlMap top(root, "");
  YamlMap detection(top.Child("detection"), "detection");
  cfg.detection = ParseDetectionOptions(detection);
  detection.Finish();
  YamlMap prometheus(top.Child("prometheus"), "prometheus");
  ParsePrometheus(prometheus, cfg.prometheus);
  ParseHistoryRead(prometheus, cfg.history_read);
  prometheus.Finish();
  YamlMap web(top.Child("web"), "web");
  cfg.web.listen_address = web.String("listen_address", cfg.web.listen_address);
  cfg.web.max_body_bytes = static_cast<std::size_t>(
      web.Int("max_body_bytes", static_cast<std::int64_t>(cfg.web.max_body_bytes), 1024, 64 << 20));
  web.Finish();
  YamlMap schedule(top.Child("schedule"), "schedule");
  ParseSchedule(schedule, cfg.schedule);
  schedule.Finish();
  cfg.state_dir = top.ExpandedString("state_dir", "");
  cfg.api_token = Secret(top, "api_token");
  cfg.exporter_url = top.ExpandedString("exporter_url", "");
  if (!cfg.exporter_url.empty()) {
    if (auto u = Url::Parse(cfg.exporter_url); !u.ok()) top.Fail("exporter_url", u.status().message());
  }
  cfg.anomaly_retention = top.Duration("anomaly_retention", cfg.anomaly_retention);
  top.Finish();
  return cfg;
}

DetectorConfig LoadDetectorConfig(const std::string& path) {
  auto text = ReadFileToString(path);
  if (!text) throw ConfigError("cannot read config file: " + text.status().message());
  return ParseDetectorConfig(*text, path);
}

}  // namespace cicd::detector
