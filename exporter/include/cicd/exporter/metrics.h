#pragma once
// Every metric of cicd-exporter is defined here and in metrics.cc (STYLE.md
// principle 7). Scrapes only read the RunStore; the API self-metrics live in
// a prometheus-cpp Registry fed by the ApiObserver callbacks.

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "cicd/exporter/api_client.h"
#include "cicd/exporter/store.h"

namespace cicd::exporter {

// Thread-safe. `store` must outlive this object.
class ExporterMetrics final : public ApiObserver {
 public:
  ExporterMetrics(const RunStore* store, std::string version);

  void OnApiRequest(const std::string& source, const std::string& code) override;
  void OnRateLimitRemaining(const std::string& source, double remaining) override;

  // Writes the exposition (text format 0.0.4) to `sink` in pieces of about
  // `chunk_bytes`, family by family and a block of pipelines at a time, so
  // neither the whole body nor all series as objects exist at once. Works on
  // a copy of the store taken under its lock: a slow scraper never blocks
  // the pollers.
  void Stream(std::size_t chunk_bytes, const std::function<void(std::string_view)>& sink) const;
  // The whole exposition as one string (tests, small outputs).
  std::string Render() const;

 private:
  const RunStore* store_;
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* api_requests_;
  prometheus::Family<prometheus::Gauge>* rate_limit_remaining_;
};

}  // namespace cicd::exporter
