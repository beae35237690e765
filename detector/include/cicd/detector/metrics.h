#pragma once
// Every metric of cicd-detector, defined in one place (STYLE.md principle 7),
// rendered in the Prometheus text format from a ServiceSnapshot. Pure.

#include <string>

#include "cicd/detector/service.h"

namespace cicd::detector {

// The whole /metrics body (text format 0.0.4); `promtool check metrics`
// accepts it without a message.
std::string RenderMetrics(const ServiceSnapshot& snapshot);

}  // namespace cicd::detector
