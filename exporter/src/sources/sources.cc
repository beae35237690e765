// The table of CI sources (STYLE.md principle 2): adding one means one new
// file under sources/ and one row here.
#include "cicd/exporter/source.h"
#include "cicd/exporter/sources/buildkite.h"
#include "cicd/exporter/sources/circleci.h"
#include "cicd/exporter/sources/github.h"
#include "cicd/exporter/sources/gitlab.h"
#include "cicd/exporter/sources/jenkins.h"
#include "cicd/exporter/sources/replay.h"

namespace cicd::exporter {

const std::vector<SourceType>& SourceTypes() {
  static const std::vector<SourceType> table = {
      {"jenkins", "Jenkins jobs (recursively through folders) via /api/json", &ParseJenkinsConfig},
      {"github", "GitHub Actions workflow runs via the REST API", &ParseGithubConfig},
      {"gitlab", "GitLab CI pipelines via the REST API v4", &ParseGitlabConfig},
      {"buildkite", "Buildkite builds of one organisation via the REST API", &ParseBuildkiteConfig},
      {"circleci", "CircleCI workflows of projects via the API v2", &ParseCircleciConfig},
      {"replay", "a JSONL file of run records replayed as if live", &ParseReplayConfig},
  };
  return table;
}

const SourceType* FindSourceType(std::string_view type) {
  for (const auto& t : SourceTypes()) {
    if (type == t.type) return &t;
  }
  return nullptr;
}

}  // namespace cicd::exporter
