#pragma once
// GitHub Actions source. (Being implemented.)

#include "cicd/exporter/source.h"

namespace cicd::exporter {

SourceFactory ParseGithubConfig(YamlMap& yaml, SourceCommon& common);

}  // namespace cicd::exporter
