#include "cicd/exporter/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include "cicd/core/atomic_file.h"

namespace cicd::exporter {
namespace {

TEST(BranchFolding, KeepsConfiguredBranches) {
  BranchFolding f;
  f.keep = {"main", "release/*"};
  EXPECT_EQ(f.Fold("main"), "main");
  EXPECT_EQ(f.Fold("release/1.2"), "release/1.2");
  EXPECT_EQ(f.Fold("feature/x"), "other");
  EXPECT_EQ(f.Fold(""), "");
}

std::string ErrorOf(const std::string& yaml) {
  try {
    ParseExporterConfig(yaml, "test.yml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ExporterConfig, MinimalReplay) {
  const auto cfg = ParseExporterConfig(
      "sources:\n  - type: replay\n    file: runs.jsonl\n    poll_interval: 5s\n", "t.yml");
  ASSERT_EQ(cfg.sources.size(), 1u);
  EXPECT_EQ(cfg.sources[0].common.name, "replay");
  EXPECT_EQ(cfg.sources[0].common.poll_interval, std::chrono::seconds(5));
  EXPECT_EQ(cfg.web.listen_address, ":9801");
  EXPECT_EQ(cfg.web.telemetry_path, "/metrics");
  EXPECT_TRUE(static_cast<bool>(cfg.sources[0].make));
}

TEST(ExporterConfig, UnknownKeyNamesKeyAndLine) {
  const std::string e = ErrorOf(
      "web:\n  listen_address: ':1'\nsources:\n  - type: replay\n    file: x\n    poll_intervall: 5s\n");
  EXPECT_NE(e.find("sources[0].poll_intervall"), std::string::npos) << e;
  EXPECT_NE(e.find("line 6"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key"), std::string::npos) << e;
}

TEST(ExporterConfig, WrongTypeNamesKeyAndLine) {
  const std::string e = ErrorOf("sources:\n  - type: replay\n    file: x\n    speed: fast\n");
  EXPECT_NE(e.find("sources[0].speed (line 4)"), std::string::npos) << e;
  const std::string d = ErrorOf("sources:\n  - type: replay\n    file: x\n    poll_interval: soon\n");
  EXPECT_NE(d.find("sources[0].poll_interval (line 4)"), std::string::npos) << d;
  const std::string b = ErrorOf("metrics:\n  duration_buckets: [10, 5]\nsources:\n  - type: replay\n    file: x\n");
  EXPECT_NE(b.find("metrics.duration_buckets (line 2)"), std::string::npos) << b;
}

TEST(ExporterConfig, MissingRequiredField) {
  EXPECT_NE(ErrorOf("sources:\n  - type: replay\n").find("sources[0].file"), std::string::npos);
  EXPECT_NE(ErrorOf("web: {}\n").find("sources"), std::string::npos);
  EXPECT_NE(ErrorOf("sources:\n  - name: x\n").find("sources[0].type"), std::string::npos);
  EXPECT_NE(ErrorOf("sources:\n  - type: travis\n").find("unknown source type \"travis\""),
            std::string::npos);
  EXPECT_NE(ErrorOf("sources:\n  - type: gitlab\n").find("sources[0].projects"), std::string::npos);
}

TEST(ExporterConfig, DuplicateSourceNames) {
  const std::string e = ErrorOf(
      "sources:\n  - type: replay\n    file: a\n  - type: replay\n    file: b\n");
  EXPECT_NE(e.find("sources[1].name"), std::string::npos) << e;
  EXPECT_NE(e.find("duplicate"), std::string::npos) << e;
}

TEST(ExporterConfig, UnsetEnvironmentVariableIsNamed) {
  unsetenv("CICD_TEST_UNSET_VAR");
  const std::string e = ErrorOf("sources:\n  - type: replay\n    file: ${CICD_TEST_UNSET_VAR}\n");
  EXPECT_NE(e.find("CICD_TEST_UNSET_VAR"), std::string::npos) << e;
  EXPECT_NE(e.find("sources[0].file (line 3)"), std::string::npos) << e;
  setenv("CICD_TEST_SET_VAR", "/tmp/runs.jsonl", 1);
  EXPECT_EQ(ErrorOf("sources:\n  - type: replay\n    file: ${CICD_TEST_SET_VAR}\n"), "");
}

TEST(ExporterConfig, SyntaxErrorHasLine) {
  const std::string e = ErrorOf("sources:\n  - type: replay\n   file: [unclosed\n");
  EXPECT_NE(e.find("line"), std::string::npos) << e;
}

TEST(ExporterConfig, ExampleFileIsValid) {
  setenv("JENKINS_TOKEN", "example-jenkins-token", 1);
  setenv("GITHUB_TOKEN", "example-github-token", 1);
  setenv("GITLAB_TOKEN", "example-gitlab-token", 1);
  setenv("BUILDKITE_TOKEN", "example-buildkite-token", 1);
  setenv("CIRCLECI_TOKEN", "example-circleci-token", 1);
  auto text = ReadFileToString(std::string(CICD_SOURCE_DIR) + "/config/config.example.yaml");
  ASSERT_TRUE(text.ok());
  const auto cfg = ParseExporterConfig(*text, "config.example.yaml");
  ASSERT_EQ(cfg.sources.size(), 6u);
  EXPECT_EQ(cfg.sources[0].common.type, "jenkins");
  EXPECT_EQ(cfg.sources[1].common.type, "github");
  EXPECT_EQ(cfg.sources[1].common.api.requests_per_second, 1.0);
  EXPECT_EQ(cfg.sources[2].common.type, "buildkite");
  EXPECT_EQ(cfg.sources[3].common.type, "circleci");
  EXPECT_EQ(cfg.sources[4].common.type, "replay");
  EXPECT_EQ(cfg.branches.keep.size(), 3u);
  EXPECT_EQ(cfg.sources[0].branch_filter.exclude, std::vector<std::string>{"dependabot/*"});
}

}  // namespace
}  // namespace cicd::exporter
