// The exporter's whole /metrics after one poll of a GitLab source (node_exporter
// style golden file): a local GitLab plays the recorded payloads of
// tests/fixtures/gitlab/, the clock is fixed, and the output is compared with
// tests/golden/exporter_metrics_gitlab.txt. Regenerate after an intended
// change with:
//   CICD_UPDATE_GOLDEN=1 build/bin/exporter_tests --gtest_filter='ExporterGolden*'

#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "cicd/core/atomic_file.h"
#include "cicd/exporter/app.h"
#include "support/fake_gitlab.h"
#include "support/fixtures.h"
#include "support/test_server.h"

namespace cicd::exporter {
namespace {

std::string StripVolatile(const std::string& text) {
  std::istringstream in(text);
  std::string out, line;
  while (std::getline(in, line)) {
    if (line.rfind("cicd_exporter_poll_duration_seconds{", 0) == 0) continue;
    out += line + "\n";
  }
  return out;
}

TEST(ExporterGoldenGitlab, MetricsMatchGoldenFile) {
  testing::TestServer server;
  testing::FakeGitlab gitlab(server);
  gitlab.ServeListing();
  gitlab.ServePipelines();
  server.Start();
  const ExporterConfig config = ParseExporterConfig(
      "state_file: ''\n"
      "branches:\n  keep: [main]\n"
      "metrics:\n  duration_buckets: [30, 300, 1200]\n  queue_buckets: [10, 60]\n"
      "sources:\n"
      "  - type: gitlab\n    url: " + server.base_url() +
          "\n    token: glpat-goldenToken0123456789\n    projects: [test-group/test-project]\n"
          "    initial_lookback: 2h\n"
          // The fixed clock never refills a token bucket.
          "    rate_limit: {requests_per_second: 0}\n",
      "golden-gitlab.yml");
  FakeClock clock(*ParseRfc3339("2022-09-21T02:00:00Z"));
  HttplibFetcher fetcher;
  Exporter exporter(config, &clock, &fetcher);
  exporter.PollAllOnce();
  WebRequest req;
  req.method = "GET";
  req.path = "/metrics";
  const WebResponse resp = exporter.Handle(req);
  ASSERT_EQ(resp.status, 200);
  const std::string got = StripVolatile(resp.FullBody());
  EXPECT_EQ(got.find("glpat-goldenToken"), std::string::npos);
  const std::string golden_path =
      std::string(CICD_SOURCE_DIR) + "/tests/golden/exporter_metrics_gitlab.txt";
  if (std::getenv("CICD_UPDATE_GOLDEN") != nullptr) {
    ASSERT_TRUE(WriteFileAtomically(golden_path, got).ok());
  }
  auto want = ReadFileToString(golden_path);
  ASSERT_TRUE(want.ok()) << "missing golden file; run with CICD_UPDATE_GOLDEN=1";
  EXPECT_EQ(got, *want);
}

}  // namespace
}  // namespace cicd::exporter
