#pragma once
// Every metric of cicd-exporter is defined here and in metrics.cc (STYLE.md
// principle 7). Scrapes only read the RunStore; the API self-metrics live in
// a prometheus-cpp Registry fed by the ApiObserver callbacks.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>
#include <vector>

#include "cicd/exporter/api_client.h"
#include "cicd/exporter/store.h"

namespace cicd::exporter {

// Thread-safe. `store` must outlive this object.
class ExporterMetrics final : public ApiObserver {
 public:
  ExporterMetrics(const RunStore* store, std::string version);

  void OnApiRequest(const std::string& source, const std::string& code) override;
  void OnRateLimitRemaining(const std::string& source, double remaining) override;

  // All families, pipeline families first, in a stable order.
  std::vector<prometheus::MetricFamily> Collect() const;
  // The Prometheus text exposition format (version 0.0.4).
  std::string Render() const;

 private:
  const RunStore* store_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* api_requests_;
  prometheus::Family<prometheus::Gauge>* rate_limit_remaining_;
};

// Text format of families (prometheus-cpp's TextSerializer).
std::string RenderText(const std::vector<prometheus::MetricFamily>& families);

}  // namespace cicd::exporter
