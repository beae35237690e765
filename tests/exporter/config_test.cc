#include "cicd/exporter/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <set>

#include "cicd/core/atomic_file.h"
#include "cicd/core/yaml.h"
#include "cicd/exporter/source.h"
#include "support/fixtures.h"

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

// The example names a GitHub App key file that exists only on a real host:
// point it at a key generated for this run.
std::string ExampleText() {
  setenv("JENKINS_TOKEN", "example-jenkins-token", 1);
  setenv("GITHUB_TOKEN", "example-github-token", 1);
  setenv("GITLAB_TOKEN", "example-gitlab-token", 1);
  setenv("BUILDKITE_TOKEN", "example-buildkite-token", 1);
  setenv("CIRCLECI_TOKEN", "example-circleci-token", 1);
  auto text = ReadFileToString(std::string(CICD_SOURCE_DIR) + "/config/config.example.yaml");
  EXPECT_TRUE(text.ok());
  if (!text) return "";
  static const std::string key_file = [] {
    const std::string dir = cicd::testing::MakeTempDir("config_example");
    std::unique_ptr<EVP_PKEY, void (*)(EVP_PKEY*)> key(EVP_RSA_gen(2048), EVP_PKEY_free);
    BIO* bio = BIO_new_file((dir + "/app.pem").c_str(), "w");
    PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    BIO_free(bio);
    return dir + "/app.pem";
  }();
  const std::string from = "private_key_file: /etc/cicd-exporter/github-app.pem";
  const auto pos = text->find(from);
  EXPECT_NE(pos, std::string::npos) << "the example's GitHub App key path changed";
  if (pos != std::string::npos) text->replace(pos, from.size(), "private_key_file: " + key_file);
  return *text;
}

const SourceConfig* SourceNamed(const ExporterConfig& cfg, const std::string& name) {
  for (const auto& s : cfg.sources) {
    if (s.common.name == name) return &s;
  }
  return nullptr;
}

TEST(ExporterConfig, ExampleFileIsValid) {
  const auto cfg = ParseExporterConfig(ExampleText(), "config.example.yaml");
  const SourceConfig* jenkins = SourceNamed(cfg, "jenkins");
  const SourceConfig* github = SourceNamed(cfg, "github");
  ASSERT_NE(jenkins, nullptr);
  ASSERT_NE(github, nullptr);
  ASSERT_NE(SourceNamed(cfg, "github-app"), nullptr);
  ASSERT_NE(SourceNamed(cfg, "demo"), nullptr);
  EXPECT_EQ(jenkins->common.type, "jenkins");
  EXPECT_EQ(github->common.type, "github");
  EXPECT_EQ(github->common.api.requests_per_second, 1.0);
  EXPECT_EQ(SourceNamed(cfg, "demo")->common.type, "replay");
  for (const char* type : {"gitlab", "buildkite", "circleci"}) {
    bool found = false;
    for (const auto& s : cfg.sources) found = found || s.common.type == type;
    EXPECT_TRUE(found) << type;
  }
  EXPECT_EQ(cfg.branches.keep.size(), 3u);
  EXPECT_EQ(jenkins->branch_filter.exclude, std::vector<std::string>{"dependabot/*"});
}

// "sources[3].organizations[0].include" -> "sources[github].organizations[].include";
// keys every source has (ParseSourceCommon, branch_filter) -> "sources[*]....".
std::string Generalise(const std::string& key, const std::vector<std::string>& types,
                       const std::set<std::string>& common) {
  std::string out = key;
  if (out.rfind("sources[", 0) == 0) {
    const auto close = out.find(']');
    const std::size_t index = std::stoul(out.substr(8, close - 8));
    std::string rest = out.substr(close + 1);  // ".jobs.include"
    const std::string top = rest.substr(1, rest.find('.', 1) == std::string::npos
                                               ? std::string::npos
                                               : rest.find('.', 1) - 1);
    const std::string type =
        common.count(top) ? "*" : (index < types.size() ? types[index] : "?");
    out = "sources[" + type + "]" + rest;
  }
  std::string clean;
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '[' && i + 1 < out.size() && std::isdigit(static_cast<unsigned char>(out[i + 1]))) {
      clean += "[]";
      i = out.find(']', i);
      continue;
    }
    clean += out[i];
  }
  return clean;
}

void CollectKeys(const YAML::Node& node, const std::string& path, std::set<std::string>& out) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
      const std::string key = (path.empty() ? "" : path + ".") + kv.first.Scalar();
      out.insert(key);
      CollectKeys(kv.second, key, out);
    }
  } else if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      CollectKeys(node[i], path + "[" + std::to_string(i) + "]", out);
    }
  }
}

TEST(ExporterConfig, ExampleDocumentsEveryKeyTheParserReads) {
  const std::string text = ExampleText();
  std::set<std::string> read;
  {
    YamlKeyRecorder recorder;
    ParseExporterConfig(text, "config.example.yaml");
    read = recorder.keys();
  }
  std::set<std::string> common;
  {
    YamlKeyRecorder recorder;
    YamlMap minimal(YAML::Load("type: replay"), "x");
    ParseSourceCommon(minimal, 0);
    for (const auto& k : recorder.keys()) common.insert(k.substr(2, k.find('.', 2) - 2));
  }
  common.insert("branch_filter");
  ASSERT_TRUE(common.count("tls"));
  ASSERT_TRUE(common.count("retry"));

  const YAML::Node doc = YAML::Load(text);
  std::vector<std::string> types;
  for (const auto& s : doc["sources"]) types.push_back(s["type"].as<std::string>());
  // Every source type of the table has an entry in the example.
  for (const auto& t : SourceTypes()) {
    EXPECT_NE(std::find(types.begin(), types.end(), t.type), types.end())
        << "config.example.yaml has no source of type " << t.type;
  }
  std::set<std::string> documented;
  {
    std::set<std::string> raw;
    CollectKeys(doc, "", raw);
    for (const auto& k : raw) documented.insert(Generalise(k, types, common));
  }
  std::set<std::string> undocumented;
  for (const auto& k : read) {
    const std::string g = Generalise(k, types, common);
    if (!documented.count(g)) undocumented.insert(g);
  }
  std::string missing;
  for (const auto& k : undocumented) missing += "  " + k + "\n";
  EXPECT_EQ(missing, "") << "keys the parser reads but config/config.example.yaml lacks:\n"
                         << missing;
  EXPECT_GT(read.size(), 60u);  // the recorder saw the whole parse
}

}  // namespace
}  // namespace cicd::exporter
