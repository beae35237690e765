// Small core pieces: flags, globs, logging, JSON helpers, URLs, files.
#include <gtest/gtest.h>

#include <filesystem>

#include "cicd/core/atomic_file.h"
#include "cicd/core/cli.h"
#include "cicd/core/glob.h"
#include "cicd/core/http_client.h"
#include "cicd/core/json.h"
#include "cicd/core/log.h"
#include "support/fixtures.h"

namespace cicd {
namespace {

TEST(FlagSet, ParsesBothFormsAndPositionals) {
  FlagSet f("t");
  f.Add("config.file", "a.yml", "config");
  f.Add("log.level", "info", "level");
  f.AddBool("version", "version");
  const char* argv[] = {"t", "--config.file=x.yml", "export", "--log.level", "debug", "--version"};
  auto pos = f.Parse(6, argv);
  ASSERT_TRUE(pos.ok());
  EXPECT_EQ(*pos, std::vector<std::string>{"export"});
  EXPECT_EQ(f.Get("config.file"), "x.yml");
  EXPECT_EQ(f.Get("log.level"), "debug");
  EXPECT_TRUE(f.GetBool("version"));
  EXPECT_TRUE(f.IsSet("config.file"));
}

TEST(FlagSet, UnknownFlagIsAnError) {
  FlagSet f("t");
  f.Add("a", "", "");
  const char* argv[] = {"t", "--nope=1"};
  auto pos = f.Parse(2, argv);
  ASSERT_FALSE(pos.ok());
  EXPECT_NE(pos.status().message().find("--nope"), std::string::npos);
  const char* argv2[] = {"t", "--a"};
  EXPECT_FALSE(f.Parse(2, argv2).ok());  // missing value
}

TEST(Glob, MatchesAcrossSlashes) {
  EXPECT_TRUE(GlobMatch("release/*", "release/1.2"));
  EXPECT_TRUE(GlobMatch("team-*/*", "team-a/app/build"));
  EXPECT_FALSE(GlobMatch("main", "maint"));
  NameFilter f{{"team-*"}, {"team-b*"}};
  EXPECT_TRUE(f.Allows("team-a/x"));
  EXPECT_FALSE(f.Allows("team-b/x"));
  EXPECT_FALSE(f.Allows("other"));
  EXPECT_TRUE(NameFilter{}.Allows("anything"));
}

TEST(Logging, LogfmtAndRedaction) {
  std::vector<std::string> lines;
  Logging::SetSink([&](std::string_view l) { lines.emplace_back(l); });
  Logging::AddSecret("s3cr3t-token-value");
  LogInfo("polled source", {{"source", "gh"}, {"runs", 3}, {"err", "bad token s3cr3t-token-value"}});
  LogDebug("hidden at info level");
  Logging::SetSink(nullptr);
  ASSERT_EQ(lines.size(), 1u);
  const std::string& l = lines[0];
  EXPECT_EQ(l.rfind("ts=", 0), 0u);
  EXPECT_NE(l.find(" level=info msg=\"polled source\" source=gh runs=3 "), std::string::npos) << l;
  EXPECT_EQ(l.find("s3cr3t-token-value"), std::string::npos) << l;
  EXPECT_NE(l.find("<redacted>"), std::string::npos);
}

TEST(Json, UnknownIsNullopt) {
  auto v = json::Parse(R"({"a":1,"b":null,"c":"x","d":2.5,"e":3.0})");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(json::GetInt(*v, "a"), 1);
  EXPECT_FALSE(json::GetInt(*v, "b").has_value());
  EXPECT_FALSE(json::GetInt(*v, "missing").has_value());
  EXPECT_FALSE(json::GetInt(*v, "d").has_value());
  EXPECT_EQ(json::GetInt(*v, "e"), 3);
  EXPECT_EQ(json::GetString(*v, "c"), "x");
  EXPECT_FALSE(json::GetString(*v, "a").has_value());
}

TEST(Json, TruncatedAndTrailingGarbageAreErrors) {
  EXPECT_FALSE(json::Parse(R"({"a":[1,2)").ok());
  EXPECT_FALSE(json::Parse(R"({"a":1} x)").ok());
  EXPECT_FALSE(json::Parse("<html>502 Bad Gateway</html>").ok());
  EXPECT_TRUE(json::Parse("{\"a\":1}\n").ok());
}

TEST(Url, ParsesAndJoins) {
  auto u = Url::Parse("https://ghe.example.com/api/v3?x=1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "ghe.example.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->target, "/api/v3?x=1");
  EXPECT_EQ(JoinUrl("https://ghe.example.com/api/v3/", "/repos/o/r"),
            "https://ghe.example.com/api/v3/repos/o/r");
  EXPECT_FALSE(Url::Parse("ftp://x").ok());
  EXPECT_FALSE(Url::Parse("http://user:pw@host/").ok());
  EXPECT_EQ(UrlEncode("a b/c"), "a%20b%2Fc");
  EXPECT_EQ(BasicAuthHeader("user", "pass"), "Basic dXNlcjpwYXNz");
}

TEST(AtomicFile, WritesAndReplaces) {
  const std::string dir = testing::MakeTempDir("atomic");
  const std::string path = dir + "/state";
  ASSERT_TRUE(WriteFileAtomically(path, "one").ok());
  ASSERT_TRUE(WriteFileAtomically(path, "two").ok());
  EXPECT_EQ(*ReadFileToString(path), "two");
  EXPECT_EQ(ReadFileToString(dir + "/missing").status().code(), ErrorCode::kNotFound);
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(dir)) ++files;
  EXPECT_EQ(files, 1u);  // no temporary left behind
}

}  // namespace
}  // namespace cicd

namespace cicd {
namespace {

TEST(Hardening, OverflowingDurationIsRejected) {
  EXPECT_FALSE(ParseDuration("100000000000y").ok());
  EXPECT_FALSE(ParseDuration("9000000000000d").ok());
  EXPECT_TRUE(ParseDuration("100y").ok());
}

TEST(Hardening, UrlErrorsNeverQuoteCredentials) {
  for (const char* url : {"admin:hunter2secret@jenkins.example.com", "https://admin:hunter2secret@host/x"}) {
    auto u = Url::Parse(url);
    ASSERT_FALSE(u.ok()) << url;
    EXPECT_EQ(u.status().message().find("hunter2secret"), std::string::npos) << u.status().message();
  }
  EXPECT_TRUE(Url::Parse("https://host/path?q=a@b").ok());
}

TEST(Hardening, SecretsNeedingEscapesAreRedactedToo) {
  std::vector<std::string> lines;
  Logging::SetSink([&](std::string_view l) { lines.emplace_back(l); });
  Logging::AddSecret("pa\"ss word\\x");
  LogInfo("oops", {{"token", "pa\"ss word\\x"}});
  Logging::SetSink(nullptr);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0].find("ss word"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("<redacted>"), std::string::npos);
}

}  // namespace
}  // namespace cicd
