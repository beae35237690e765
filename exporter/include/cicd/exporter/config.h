#pragma once
// The exporter's configuration: one typed tree, parsed and validated once at
// start-up (STYLE.md principle 6). Defaults stand next to the fields.

#include <string>
#include <string_view>
#include <vector>

#include "cicd/core/glob.h"
#include "cicd/exporter/source.h"

namespace cicd::exporter {

// Keeps the `branch` label bounded: branches matching `keep` (glob patterns)
// keep their name, every other branch becomes "other", unknown stays "".
struct BranchFolding {
  std::vector<std::string> keep = {"main", "master"};
  std::string Fold(std::string_view branch) const;
};

struct WebConfig {
  std::string listen_address = ":9801";   // --web.listen-address overrides
  std::string telemetry_path = "/metrics";  // --web.telemetry-path overrides
};

struct SourceConfig {
  SourceCommon common;
  NameFilter branch_filter;  // which branches' runs are exported at all
  SourceFactory make;        // bound to the source-specific settings
};

struct ExporterConfig {
  WebConfig web;
  // Cursor state (what was counted) for honest counters across restarts.
  // "" disables persistence: every start counts from initial_lookback.
  std::string state_file;
  BranchFolding branches;
  // Histogram buckets in seconds, ascending.
  std::vector<double> duration_buckets = {30, 60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 7200};
  std::vector<double> queue_buckets = {1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600};
  std::vector<SourceConfig> sources;
};

// Parses YAML text. Throws ConfigError naming the key and the line for an
// unknown key, a wrong type, a missing field or an unset ${VAR}.
ExporterConfig ParseExporterConfig(const std::string& yaml_text, const std::string& file_name);
ExporterConfig LoadExporterConfig(const std::string& path);

// Reads the common keys of a source entry; shared by the parser and tests.
SourceCommon ParseSourceCommon(YamlMap& yaml, std::size_t index);

}  // namespace cicd::exporter
