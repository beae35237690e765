#include "cicd/exporter/sources/github.h"

namespace cicd::exporter {

SourceFactory ParseGithubConfig(YamlMap& yaml, SourceCommon&) {
  yaml.Fail("type", "github source not implemented yet");
}

}  // namespace cicd::exporter
