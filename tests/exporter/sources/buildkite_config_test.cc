// The `buildkite` source's config keys: defaults, validation, secrets.
#include <gtest/gtest.h>

#include <cstdlib>

#include "cicd/core/log.h"
#include "cicd/exporter/config.h"
#include "cicd/exporter/sources/buildkite.h"

namespace cicd::exporter {
namespace {

BuildkiteSettings Parse(const std::string& yaml) {
  const YAML::Node node = LoadYaml(yaml, "test.yml");
  YamlMap map(node, "sources[0]");
  BuildkiteSettings s = ParseBuildkiteSettings(map);
  map.Finish();
  return s;
}

TEST(BuildkiteConfig, Defaults) {
  const BuildkiteSettings s = Parse("organization: acme\ntoken: bkua_x\n");
  EXPECT_EQ(s.api_url, "https://api.buildkite.com/v2");
  EXPECT_EQ(s.organization, "acme");
  EXPECT_EQ(s.token, "bkua_x");
  EXPECT_TRUE(s.pipelines.include.empty());
  EXPECT_TRUE(s.pipelines.exclude.empty());
  EXPECT_EQ(s.per_page, 100);
  EXPECT_EQ(s.max_pages, 10);
  EXPECT_EQ(s.created_margin, Millis(24 * 3'600'000));
}

TEST(BuildkiteConfig, AllKeysAndEnvironmentToken) {
  ::setenv("CICD_TEST_BK_TOKEN", "bkua_cfgTokenValue0123456789\n", 1);
  const BuildkiteSettings s = Parse(R"(
url: https://bk-proxy.example.com/v2/
token: ${CICD_TEST_BK_TOKEN}
organization: my-great-org
pipelines:
  include: ["app*", deploy]
  exclude: [app-sandbox]
per_page: 50
max_pages: 3
created_margin: 6h
)");
  ::unsetenv("CICD_TEST_BK_TOKEN");
  EXPECT_EQ(s.api_url, "https://bk-proxy.example.com/v2");
  EXPECT_EQ(s.token, "bkua_cfgTokenValue0123456789");
  EXPECT_EQ(s.organization, "my-great-org");
  EXPECT_TRUE(s.pipelines.Allows("app"));
  EXPECT_TRUE(s.pipelines.Allows("app-linux"));
  EXPECT_TRUE(s.pipelines.Allows("deploy"));
  EXPECT_FALSE(s.pipelines.Allows("app-sandbox"));
  EXPECT_FALSE(s.pipelines.Allows("docs"));
  EXPECT_EQ(s.per_page, 50);
  EXPECT_EQ(s.max_pages, 3);
  EXPECT_EQ(s.created_margin, Millis(6 * 3'600'000));
  EXPECT_EQ(Logging::Redact("Bearer bkua_cfgTokenValue0123456789"), "Bearer <redacted>");
}

TEST(BuildkiteConfig, RejectsBadValuesNamingTheKey) {
  struct Case {
    const char* yaml;
    const char* key;
  };
  const Case cases[] = {
      {"token: x\n", "sources[0].organization"},
      {"token: x\norganization: \"a/b\"\n", "sources[0].organization"},
      {"token: x\norganization: \"\"\n", "sources[0].organization"},
      {"organization: acme\n", "sources[0].token"},
      {"organization: acme\ntoken: \"ab cd\"\n", "sources[0].token"},
      {"organization: acme\ntoken: ${CICD_TEST_SURELY_UNSET_VAR}\n", "sources[0].token"},
      {"organization: acme\ntoken: x\nurl: ftp://x\n", "sources[0].url"},
      {"organization: acme\ntoken: x\nper_page: 101\n", "sources[0].per_page"},
      {"organization: acme\ntoken: x\nmax_pages: 0\n", "sources[0].max_pages"},
      {"organization: acme\ntoken: x\npipelines: {only: [x]}\n", "sources[0].pipelines.only"},
      {"organization: acme\ntoken: x\ncreated_margin: -1h\n", "sources[0].created_margin"},
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

TEST(BuildkiteConfig, BadTokenMessageDoesNotQuoteIt) {
  try {
    Parse("organization: acme\ntoken: \"bkua_with space_0123\"\n");
    FAIL() << "accepted a token with a space";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).find("bkua_with"), std::string::npos) << e.what();
  }
}

TEST(BuildkiteConfig, WholeExporterConfigBuildsASource) {
  const ExporterConfig cfg = ParseExporterConfig(R"(
sources:
  - type: buildkite
    name: bk
    organization: acme
    token: bkua_x
    pipelines: {include: [app]}
)",
                                                 "test.yml");
  ASSERT_EQ(cfg.sources.size(), 1u);
  EXPECT_EQ(cfg.sources[0].common.name, "bk");
  FakeClock clock(FromUnixSeconds(1.7e9));
  SourceDeps deps;
  deps.clock = &clock;
  EXPECT_NE(cfg.sources[0].make(cfg.sources[0].common, deps), nullptr);
  EXPECT_THROW(ParseExporterConfig("sources:\n  - type: buildkite\n    organization: acme\n"
                                   "    token: x\n    organisation: acme\n",
                                   "test.yml"),
               ConfigError);
}

}  // namespace
}  // namespace cicd::exporter
