// The `github` source's config keys: defaults, validation, secrets.
#include <gtest/gtest.h>

#include <cstdlib>

#include "cicd/core/log.h"
#include "cicd/exporter/config.h"
#include "cicd/exporter/sources/github.h"

namespace cicd::exporter {
namespace {

GithubSettings Parse(const std::string& yaml) {
  const YAML::Node node = LoadYaml(yaml, "test.yml");
  YamlMap map(node, "sources[0]");
  GithubSettings s = ParseGithubSettings(map);
  map.Finish();
  return s;
}

TEST(GithubConfig, Defaults) {
  const GithubSettings s = Parse("repositories: [octo-org/octo-repo]\n");
  EXPECT_EQ(s.api_url, "https://api.github.com");
  EXPECT_EQ(s.token, "");
  EXPECT_EQ(s.repositories, std::vector<std::string>{"octo-org/octo-repo"});
  EXPECT_TRUE(s.workflows.include.empty());
  EXPECT_TRUE(s.workflows.exclude.empty());
  EXPECT_TRUE(s.events.empty());
  EXPECT_EQ(s.per_page, 100);
  EXPECT_EQ(s.max_pages, 10);
  EXPECT_TRUE(s.fetch_jobs);
  EXPECT_EQ(s.created_margin, Millis(24 * 3'600'000));
}

TEST(GithubConfig, AllKeysAndEnvironmentToken) {
  ::setenv("CICD_TEST_GH_TOKEN", "ghp_cfgTokenValue0123456789\n", 1);
  const GithubSettings s = Parse(R"(
api_url: https://ghe.example.com/api/v3/
token: ${CICD_TEST_GH_TOKEN}
repositories:
  - octo-org/octo-repo
  - PyTables/PyTables
workflows:
  include: [".github/workflows/ci*.yml"]
  exclude: [".github/workflows/ci-nightly.yml"]
events: [push, schedule]
per_page: 50
max_pages: 3
fetch_jobs: false
created_margin: 6h
)");
  ::unsetenv("CICD_TEST_GH_TOKEN");
  EXPECT_EQ(s.api_url, "https://ghe.example.com/api/v3");  // trailing '/' dropped
  EXPECT_EQ(s.token, "ghp_cfgTokenValue0123456789");       // newline trimmed
  EXPECT_EQ(s.repositories.size(), 2u);
  EXPECT_TRUE(s.workflows.Allows(".github/workflows/ci.yml"));
  EXPECT_TRUE(s.workflows.Allows(".github/workflows/ci-linux.yml"));
  EXPECT_FALSE(s.workflows.Allows(".github/workflows/ci-nightly.yml"));
  EXPECT_FALSE(s.workflows.Allows(".github/workflows/release.yml"));
  EXPECT_EQ(s.events, (std::vector<std::string>{"push", "schedule"}));
  EXPECT_EQ(s.per_page, 50);
  EXPECT_EQ(s.max_pages, 3);
  EXPECT_FALSE(s.fetch_jobs);
  EXPECT_EQ(s.created_margin, Millis(6 * 3'600'000));
  // Registered as a secret as soon as it was read.
  EXPECT_EQ(Logging::Redact("Bearer ghp_cfgTokenValue0123456789"), "Bearer <redacted>");
}

TEST(GithubConfig, RejectsBadValuesNamingTheKey) {
  struct Case {
    const char* yaml;
    const char* key;
  };
  const Case cases[] = {
      {"token: x\n", "sources[0].repositories"},
      {"repositories: []\n", "sources[0].repositories"},
      {"repositories: [octo]\n", "sources[0].repositories"},
      {"repositories: [a/b/c]\n", "sources[0].repositories"},
      {"repositories: [o/r, o/r]\n", "sources[0].repositories"},
      {"repositories: [o/r]\napi_url: ftp://x\n", "sources[0].api_url"},
      {"repositories: [o/r]\napi_url: api.github.com\n", "sources[0].api_url"},
      {"repositories: [o/r]\nper_page: 0\n", "sources[0].per_page"},
      {"repositories: [o/r]\nper_page: 101\n", "sources[0].per_page"},
      {"repositories: [o/r]\nmax_pages: 0\n", "sources[0].max_pages"},
      {"repositories: [o/r]\nfetch_jobs: maybe\n", "sources[0].fetch_jobs"},
      {"repositories: [o/r]\nworkflows: {includes: [x]}\n", "sources[0].workflows.includes"},
      {"repositories: [o/r]\ntoken: ${CICD_TEST_SURELY_UNSET_VAR}\n", "sources[0].token"},
      {"repositories: [o/r]\ntoken: \"ab cd ef\"\n", "sources[0].token"},
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

TEST(GithubConfig, BadTokenMessageDoesNotQuoteIt) {
  try {
    Parse("repositories: [o/r]\ntoken: \"ghp_with space_0123\"\n");
    FAIL() << "accepted a token with a space";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).find("ghp_with"), std::string::npos) << e.what();
  }
}

TEST(GithubConfig, WholeExporterConfigBuildsASource) {
  const ExporterConfig cfg = ParseExporterConfig(R"(
sources:
  - type: github
    name: gh
    repositories: [octo-org/octo-repo]
    workflows: {include: [".github/workflows/*.yml"]}
)",
                                                 "test.yml");
  ASSERT_EQ(cfg.sources.size(), 1u);
  EXPECT_EQ(cfg.sources[0].common.name, "gh");
  ASSERT_TRUE(cfg.sources[0].make);
  FakeClock clock(FromUnixSeconds(1.7e9));
  SourceDeps deps;
  deps.clock = &clock;  // no fetcher: the source owns an HttplibFetcher
  EXPECT_NE(cfg.sources[0].make(cfg.sources[0].common, deps), nullptr);

  // An unknown key of the github entry is caught by the caller's Finish().
  EXPECT_THROW(ParseExporterConfig("sources:\n  - type: github\n    repositories: [o/r]\n"
                                   "    per_pages: 5\n",
                                   "test.yml"),
               ConfigError);
}

}  // namespace
}  // namespace cicd::exporter
