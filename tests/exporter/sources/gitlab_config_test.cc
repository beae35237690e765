// The `gitlab` source's config keys: defaults, validation, secrets, and the
// documented example in config/config.example.yaml.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "cicd/core/atomic_file.h"
#include "cicd/core/log.h"
#include "cicd/exporter/config.h"
#include "cicd/exporter/sources/gitlab.h"

namespace cicd::exporter {
namespace {

GitlabSettings Parse(const std::string& yaml) {
  const YAML::Node node = LoadYaml(yaml, "test.yml");
  YamlMap map(node, "sources[0]");
  GitlabSettings s = ParseGitlabSettings(map);
  map.Finish();
  return s;
}

TEST(GitlabConfig, Defaults) {
  const GitlabSettings s = Parse("projects: [test-group/test-project]\n");
  EXPECT_EQ(s.url, "https://gitlab.com");
  EXPECT_EQ(s.token, "");
  EXPECT_EQ(s.projects, std::vector<std::string>{"test-group/test-project"});
  EXPECT_TRUE(s.groups.empty());
  EXPECT_EQ(s.discovery_interval, Millis(30 * 60'000));
  EXPECT_EQ(s.per_page, 100);
  EXPECT_EQ(s.max_pages, 10);
  EXPECT_TRUE(s.fetch_jobs);
  EXPECT_TRUE(s.fetch_test_reports);
}

TEST(GitlabConfig, AllKeysAndEnvironmentToken) {
  ::setenv("CICD_TEST_GL_TOKEN", "glpat-cfgTokenValue0123456789\n", 1);
  const GitlabSettings s = Parse(R"(
url: https://git.example.com/gitlab/api/v4/
token: ${CICD_TEST_GL_TOKEN}
projects:
  - test-group/test-project
  - test-group/platform/tools
groups:
  - path: platform
    include_subgroups: false
    include: ["platform/*"]
    exclude: ["*/sandbox-*"]
    include_archived: true
  - path: infra/team
discovery_interval: 1h
per_page: 50
max_pages: 3
fetch_jobs: false
fetch_test_reports: false
)");
  ::unsetenv("CICD_TEST_GL_TOKEN");
  EXPECT_EQ(s.url, "https://git.example.com/gitlab");  // /api/v4 and '/' dropped
  EXPECT_EQ(s.token, "glpat-cfgTokenValue0123456789");  // newline trimmed
  EXPECT_EQ(s.projects.size(), 2u);
  ASSERT_EQ(s.groups.size(), 2u);
  EXPECT_EQ(s.groups[0].path, "platform");
  EXPECT_FALSE(s.groups[0].include_subgroups);
  EXPECT_TRUE(s.groups[0].projects.Allows("platform/api"));
  EXPECT_FALSE(s.groups[0].projects.Allows("platform/sandbox-1"));
  EXPECT_FALSE(s.groups[0].projects.Allows("other/api"));
  EXPECT_TRUE(s.groups[0].include_archived);
  EXPECT_EQ(s.groups[1].path, "infra/team");
  EXPECT_TRUE(s.groups[1].include_subgroups);
  EXPECT_FALSE(s.groups[1].include_archived);
  EXPECT_EQ(s.discovery_interval, Millis(3'600'000));
  EXPECT_EQ(s.per_page, 50);
  EXPECT_EQ(s.max_pages, 3);
  EXPECT_FALSE(s.fetch_jobs);
  EXPECT_FALSE(s.fetch_test_reports);
  // Registered as a secret as soon as it was read.
  EXPECT_EQ(Logging::Redact("PRIVATE-TOKEN: glpat-cfgTokenValue0123456789"),
            "PRIVATE-TOKEN: <redacted>");
}

TEST(GitlabConfig, GroupsAloneAreEnough) {
  const GitlabSettings s = Parse("groups: [{path: my-group}]\n");
  EXPECT_TRUE(s.projects.empty());
  ASSERT_EQ(s.groups.size(), 1u);
  EXPECT_EQ(s.groups[0].path, "my-group");
}

TEST(GitlabConfig, RejectsBadValuesNamingTheKey) {
  struct Case {
    const char* yaml;
    const char* key;
  };
  const Case cases[] = {
      {"token: x\n", "sources[0].projects"},
      {"projects: []\n", "sources[0].projects"},
      {"projects: [lonely]\n", "sources[0].projects"},
      {"projects: [a//b]\n", "sources[0].projects"},
      {"projects: [a/b, a/b]\n", "sources[0].projects"},
      {"projects: [\"a/b c\"]\n", "sources[0].projects"},
      {"projects: [a/b]\nurl: ftp://x\n", "sources[0].url"},
      {"projects: [a/b]\nurl: gitlab.com\n", "sources[0].url"},
      {"projects: [a/b]\nper_page: 0\n", "sources[0].per_page"},
      {"projects: [a/b]\nper_page: 101\n", "sources[0].per_page"},
      {"projects: [a/b]\nmax_pages: 0\n", "sources[0].max_pages"},
      {"projects: [a/b]\nfetch_jobs: maybe\n", "sources[0].fetch_jobs"},
      {"projects: [a/b]\nfetch_test_reports: 2\n", "sources[0].fetch_test_reports"},
      {"projects: [a/b]\ndiscovery_interval: 5s\n", "sources[0].discovery_interval"},
      {"groups: {path: g}\n", "sources[0].groups"},
      {"groups: [{}]\n", "sources[0].groups[0].path"},
      {"groups: [{path: \"../g\"}]\n", "sources[0].groups[0].path"},
      {"groups: [{path: g, subgroups: true}]\n", "sources[0].groups[0].subgroups"},
      {"groups: [{path: g, include_archived: perhaps}]\n", "sources[0].groups[0].include_archived"},
      {"projects: [a/b]\ntoken: ${CICD_TEST_SURELY_UNSET_VAR}\n", "sources[0].token"},
      {"projects: [a/b]\ntoken: \"ab cd ef\"\n", "sources[0].token"},
  };
  for (const auto& c : cases) {
    try {
      Parse(c.yaml);
      ADD_FAILURE() << "accepted: " << c.yaml;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(c.key), std::string::npos)
          << c.yaml << " -> " << e.what();
    }
  }
}

TEST(GitlabConfig, BadTokenMessageDoesNotQuoteIt) {
  try {
    Parse("projects: [a/b]\ntoken: \"glpat-with space_0123\"\n");
    FAIL() << "accepted a token with a space";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).find("glpat-with"), std::string::npos) << e.what();
  }
}

TEST(GitlabConfig, WholeExporterConfigBuildsASource) {
  const ExporterConfig cfg = ParseExporterConfig(R"(
sources:
  - type: gitlab
    name: gl
    url: https://gitlab.example.com
    projects: [test-group/test-project]
)",
                                                 "test.yml");
  ASSERT_EQ(cfg.sources.size(), 1u);
  EXPECT_EQ(cfg.sources[0].common.name, "gl");
  EXPECT_EQ(cfg.sources[0].common.type, "gitlab");
  ASSERT_TRUE(cfg.sources[0].make);
  FakeClock clock(FromUnixSeconds(1.7e9));
  SourceDeps deps;
  deps.clock = &clock;  // no fetcher: the source owns an HttplibFetcher
  EXPECT_NE(cfg.sources[0].make(cfg.sources[0].common, deps), nullptr);

  // An unknown key of the gitlab entry is caught by the caller's Finish().
  try {
    ParseExporterConfig("sources:\n  - type: gitlab\n    projects: [a/b]\n    project: [c/d]\n", "test.yml");
    FAIL() << "accepted an unknown key";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("sources[0].project (line 4): unknown key"), std::string::npos)
        << e.what();
  }
}

TEST(GitlabConfig, DocumentedExampleParses) {
  // config/config.example.yaml documents every gitlab key (that the whole
  // example parses is ExporterConfig.ExampleFileIsValid's job: it needs the
  // GitHub App key generated there).
  auto text = ReadFileToString(std::string(CICD_SOURCE_DIR) + "/config/config.example.yaml");
  ASSERT_TRUE(text.ok());
  const YAML::Node root = LoadYaml(*text, "config.example.yaml");
  YAML::Node entry;
  for (std::size_t i = 0; i < root["sources"].size(); ++i) {
    const YAML::Node s = root["sources"][i];
    if (s["type"] && s["type"].as<std::string>() == "gitlab") entry = s;
  }
  ASSERT_TRUE(entry) << "config.example.yaml has no gitlab source";
  EXPECT_EQ(entry["name"].as<std::string>(), "gitlab");
  for (const char* key : {"url", "token", "projects", "groups", "discovery_interval", "per_page",
                          "max_pages", "fetch_jobs", "fetch_test_reports"}) {
    EXPECT_TRUE(entry[key]) << "undocumented key " << key;
  }
  for (const char* key : {"path", "include_subgroups", "include", "exclude", "include_archived"}) {
    EXPECT_TRUE(entry["groups"][0][key]) << "undocumented key groups[]." << key;
  }
}

}  // namespace
}  // namespace cicd::exporter
