#pragma once
// The detector's configuration: one typed tree parsed once (STYLE.md
// principle 6). The offline commands read the `detection:` section; the
// sidecar adds its own sections.

#include <string>

#include "cicd/detector/options.h"

namespace cicd::detector {

struct DetectorConfig {
  DetectionOptions detection;
};

// Throws ConfigError naming the key and line.
DetectorConfig ParseDetectorConfig(const std::string& yaml_text, const std::string& file_name);
DetectorConfig LoadDetectorConfig(const std::string& path);

}  // namespace cicd::detector
