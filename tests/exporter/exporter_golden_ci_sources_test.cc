// The golden /metrics test for the polled CI sources: a Buildkite and a
// CircleCI source against a local server playing recorded payloads, a fixed
// clock, and the whole /metrics output compared with
// tests/golden/exporter_metrics_ci_sources.txt (request counters and the
// server's port-free values only). Regenerate after an intended change with:
// CICD_UPDATE_GOLDEN=1 build/bin/exporter_tests --gtest_filter='ExporterGoldenCiSources*'
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "cicd/core/atomic_file.h"
#include "cicd/exporter/app.h"
#include "support/fixtures.h"
#include "support/test_server.h"

namespace cicd::exporter {
namespace {

using cicd::testing::ReadFixture;

std::string StripVolatile(const std::string& text) {
  std::istringstream in(text);
  std::string out, line;
  while (std::getline(in, line)) {
    if (line.rfind("cicd_exporter_poll_duration_seconds{", 0) == 0) continue;
    if (line.rfind("cicd_exporter_build_info{", 0) == 0) continue;
    out += line + "\n";
  }
  return out;
}

TEST(ExporterGoldenCiSources, MetricsMatchGoldenFile) {
  testing::TestServer server;
  const std::string builds = "[" + ReadFixture("buildkite/monorobot_get_build_181734_mixed_job_types.json") +
                             "," + ReadFixture("buildkite/edge_builds_mixed.json").substr(1);
  server.server().Get("/organizations/acme/builds",
                      [builds](const httplib::Request& req, httplib::Response& res) {
                        res.set_content(req.has_param("finished_from") ? builds : "[]",
                                        "application/json");
                      });
  server.server().Get("/project/gh/acme/app/pipeline", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(ReadFixture("circleci/edge_pipelines.json"), "application/json");
  });
  server.server().Get("/pipeline/p-3/workflow", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(ReadFixture("circleci/edge_workflows.json"), "application/json");
  });
  server.server().Get(R"(/pipeline/([^/]+)/workflow)", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"items":[],"next_page_token":null})", "application/json");
  });
  server.server().Get(R"(/workflow/([^/]+)/job)", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(ReadFixture("circleci/edge_workflow_jobs.json"), "application/json");
  });
  server.server().Get(R"(/project/gh/acme/app/job/(\d+))",
                      [](const httplib::Request& req, httplib::Response& res) {
                        res.set_content(ReadFixture("circleci/edge_job_" + std::string(req.matches[1]) + ".json"),
                                        "application/json");
                      });
  server.Start();
  const ExporterConfig config = ParseExporterConfig(
      "state_file: ''\n"
      "branches:\n  keep: [main]\n"
      "metrics:\n  duration_buckets: [300, 600, 1200]\n  queue_buckets: [10, 60]\n"
      "sources:\n"
      "  - type: buildkite\n    url: " + server.base_url() +
          "\n    token: bk-golden\n    organization: acme\n    initial_lookback: 1h\n    rate_limit: {requests_per_second: 0}\n"
          "  - type: circleci\n    url: " + server.base_url() +
          "\n    token: cc-golden\n    projects: [gh/acme/app]\n    initial_lookback: 1h\n    rate_limit: {requests_per_second: 0}\n",
      "golden.yml");
  FakeClock clock(*ParseRfc3339("2025-02-04T12:40:00Z"));
  HttplibFetcher fetcher;
  Exporter exporter(config, &clock, &fetcher);
  exporter.PollAllOnce();
  WebRequest req;
  req.method = "GET";
  req.path = "/metrics";
  const WebResponse resp = exporter.Handle(req);
  ASSERT_EQ(resp.status, 200);
  const std::string got = StripVolatile(resp.FullBody());
  EXPECT_NE(got.find("source=\"buildkite\",pipeline=\"acme/app\""), std::string::npos);
  EXPECT_NE(got.find("source=\"circleci\",pipeline=\"gh/acme/app/build-and-test\""), std::string::npos);
  const std::string golden_path =
      std::string(CICD_SOURCE_DIR) + "/tests/golden/exporter_metrics_ci_sources.txt";
  if (std::getenv("CICD_UPDATE_GOLDEN") != nullptr) {
    ASSERT_TRUE(WriteFileAtomically(golden_path, got).ok());
  }
  auto want = ReadFileToString(golden_path);
  ASSERT_TRUE(want.ok()) << "missing golden file; run with CICD_UPDATE_GOLDEN=1";
  EXPECT_EQ(got, *want);
}

}  // namespace
}  // namespace cicd::exporter
