#pragma once
// The Prometheus text exposition format (0.0.4), written straight into a
// std::string. Output is byte-identical to prometheus-cpp 1.0.1's
// TextSerializer for the same MetricFamily values (the golden /metrics test
// pins it), and much faster: label sets are escaped once per series with
// whole-run appends instead of one ostream insertion per character, and
// numbers go through std::to_chars. bench/run_exposition_bench.sh measures
// the whole scrape path. Pure; thread-compatible.

#include <prometheus/metric_family.h>

#include <string>
#include <vector>

namespace cicd::exporter {

// "# HELP name help\n# TYPE name type\n"
void AppendFamilyHeader(const prometheus::MetricFamily& family, std::string& out);
// Every series of the family (histogram buckets, _count and _sum included).
void AppendFamilyMetrics(const prometheus::MetricFamily& family, std::string& out);
// Header and series of every family.
std::string RenderText(const std::vector<prometheus::MetricFamily>& families);

}  // namespace cicd::exporter
