#include "cicd/detector/config.h"

#include "cicd/core/atomic_file.h"

namespace cicd::detector {

DetectorConfig ParseDetectorConfig(const std::string& yaml_text, const std::string& file_name) {
  const YAML::Node root = LoadYaml(yaml_text, file_name);
  DetectorConfig cfg;
  YamlMap top(root, "");
  YamlMap detection(top.Child("detection"), "detection");
  cfg.detection = ParseDetectionOptions(detection);
  detection.Finish();
  top.Finish();
  return cfg;
}

DetectorConfig LoadDetectorConfig(const std::string& path) {
  auto text = ReadFileToString(path);
  if (!text) throw ConfigError("cannot read config file: " + text.status().message());
  return ParseDetectorConfig(*text, path);
}

}  // namespace cicd::detector
