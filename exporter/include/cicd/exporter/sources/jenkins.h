#pragma once
// Jenkins source: jobs found recursively through folders, builds via a tree=
// query of only the needed fields. (Being implemented.)

#include "cicd/exporter/source.h"

namespace cicd::exporter {

SourceFactory ParseJenkinsConfig(YamlMap& yaml, SourceCommon& common);

}  // namespace cicd::exporter
