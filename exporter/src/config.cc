#include "cicd/exporter/config.h"

#include <algorithm>
#include <set>

#include "cicd/core/atomic_file.h"
#include "cicd/core/log.h"

namespace cicd::exporter {

std::string BranchFolding::Fold(std::string_view branch) const {
  if (branch.empty()) return "";
  for (const auto& p : keep) {
    if (GlobMatch(p, branch)) return std::string(branch);
  }
  return "other";
}

namespace {

std::vector<double> Buckets(YamlMap& y, const std::string& key, std::vector<double> def) {
  auto b = y.DoubleList(key, std::move(def));
  if (b.empty()) y.Fail(key, "needs at least one bucket");
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (b[i] <= 0 || (i > 0 && b[i] <= b[i - 1])) {
      y.Fail(key, "buckets must be positive and strictly ascending");
    }
  }
  return b;
}

NameFilter ReadFilter(YamlMap& parent, const std::string& key) {
  YamlMap f(parent.Child(key), parent.path().empty() ? key : parent.path() + "." + key);
  NameFilter out{f.StringList("include"), f.StringList("exclude")};
  f.Finish();
  return out;
}

}  // namespace

SourceCommon ParseSourceCommon(YamlMap& y, std::size_t index) {
  SourceCommon c;
  c.type = y.RequiredString("type");
  c.name = y.String("name", c.type);
  if (c.name.empty() || c.name.find_first_of(" \"\\{}=,") != std::string::npos) {
    y.Fail("name", "must be a non-empty name without spaces, quotes or braces");
  }
  c.poll_interval = y.Duration("poll_interval", c.poll_interval);
  if (c.poll_interval < Millis(100)) y.Fail("poll_interval", "must be at least 100ms");
  c.initial_lookback = y.Duration("initial_lookback", c.initial_lookback);
  c.api.timeout = y.Duration("timeout", c.api.timeout);
  if (c.api.timeout <= Millis(0)) y.Fail("timeout", "must be positive");

  YamlMap rate(y.Child("rate_limit"), y.path() + ".rate_limit");
  c.api.requests_per_second = rate.Double("requests_per_second", c.api.requests_per_second, 0, 1e6);
  c.api.burst = static_cast<int>(rate.Int("burst", c.api.burst, 1, 100'000));
  rate.Finish();

  YamlMap retry(y.Child("retry"), y.path() + ".retry");
  c.api.max_attempts = static_cast<int>(retry.Int("max_attempts", c.api.max_attempts, 1, 20));
  c.api.initial_backoff = retry.Duration("initial_backoff", c.api.initial_backoff);
  c.api.max_backoff = retry.Duration("max_backoff", c.api.max_backoff);
  c.api.max_rate_limit_wait = retry.Duration("max_rate_limit_wait", c.api.max_rate_limit_wait);
  retry.Finish();

  YamlMap tls(y.Child("tls"), y.path() + ".tls");
  c.api.http.ca_file = tls.String("ca_file", "");
  c.api.http.insecure_skip_verify = tls.Bool("insecure_skip_verify", false);
  tls.Finish();
  (void)index;
  return c;
}

ExporterConfig ParseExporterConfig(const std::string& yaml_text, const std::string& file_name) {
  const YAML::Node root = LoadYaml(yaml_text, file_name);
  ExporterConfig cfg;
  YamlMap top(root, "");

  YamlMap web(top.Child("web"), "web");
  cfg.web.listen_address = web.String("listen_address", cfg.web.listen_address);
  cfg.web.telemetry_path = web.String("telemetry_path", cfg.web.telemetry_path);
  if (cfg.web.telemetry_path.empty() || cfg.web.telemetry_path[0] != '/') {
    web.Fail("telemetry_path", "must start with '/'");
  }
  web.Finish();

  cfg.state_file = top.String("state_file", "");

  YamlMap branches(top.Child("branches"), "branches");
  if (branches.Has("keep")) cfg.branches.keep = branches.StringList("keep");
  branches.Finish();

  YamlMap metrics(top.Child("metrics"), "metrics");
  cfg.duration_buckets = Buckets(metrics, "duration_buckets", cfg.duration_buckets);
  cfg.queue_buckets = Buckets(metrics, "queue_buckets", cfg.queue_buckets);
  metrics.Finish();

  const YAML::Node sources = top.Child("sources");
  if (!sources || sources.IsNull() || !sources.IsSequence() || sources.size() == 0) {
    top.Fail("sources", "needs a list with at least one source");
  }
  std::set<std::string> names;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    YamlMap y(sources[i], "sources[" + std::to_string(i) + "]");
    SourceConfig sc;
    sc.common = ParseSourceCommon(y, i);
    const SourceType* type = FindSourceType(sc.common.type);
    if (type == nullptr) {
      std::string known;
      for (const auto& t : SourceTypes()) known += std::string(known.empty() ? "" : ", ") + t.type;
      y.Fail("type", "unknown source type \"" + sc.common.type + "\" (known: " + known + ")");
    }
    if (!names.insert(sc.common.name).second) {
      y.Fail("name", "duplicate source name \"" + sc.common.name + "\"; give each source a unique name");
    }
    sc.branch_filter = ReadFilter(y, "branch_filter");
    sc.make = type->parse(y, sc.common);
    y.Finish();
    cfg.sources.push_back(std::move(sc));
  }
  top.Finish();
  return cfg;
}

ExporterConfig LoadExporterConfig(const std::string& path) {
  auto text = ReadFileToString(path);
  if (!text) throw ConfigError("cannot read config file: " + text.status().message());
  return ParseExporterConfig(*text, path);
}

}  // namespace cicd::exporter
