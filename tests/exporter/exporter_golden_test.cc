// End-to-end test of the exporter on fixed input (node_exporter style): the
// replay source on a fixture, a fixed clock, and the whole /metrics output
// compared with tests/golden/exporter_metrics.txt. Regenerate after an
// intended change with: CICD_UPDATE_GOLDEN=1 build/bin/exporter_tests --gtest_filter='ExporterGolden*'

#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "cicd/core/atomic_file.h"
#include "cicd/exporter/app.h"
#include "support/fixtures.h"

namespace cicd::exporter {
namespace {

// Lines whose values depend on wall time of the test machine.
std::string StripVolatile(const std::string& text) {
  std::istringstream in(text);
  std::string out, line;
  while (std::getline(in, line)) {
    if (line.rfind("cicd_exporter_poll_duration_seconds{", 0) == 0) continue;
    out += line + "\n";
  }
  return out;
}

ExporterConfig GoldenConfig() {
  return ParseExporterConfig(
      "state_file: ''\n"
      "branches:\n  keep: [main]\n"
      "metrics:\n  duration_buckets: [300, 600, 1200]\n  queue_buckets: [10, 60]\n"
      "sources:\n"
      "  - type: replay\n    name: fixture\n    file: " +
          testing::FixturePath("edge_replay_runs.jsonl") +
          "\n    live_from: 1\n    initial_lookback: 1d\n",
      "golden.yml");
}

TEST(ExporterGolden, MetricsMatchGoldenFile) {
  const ExporterConfig config = GoldenConfig();
  FakeClock clock(*ParseRfc3339("2026-01-01T00:00:00Z"));
  HttplibFetcher fetcher;
  Exporter exporter(config, &clock, &fetcher);
  exporter.PollAllOnce();
  WebRequest req;
  req.method = "GET";
  req.path = "/metrics";
  const WebResponse resp = exporter.Handle(req);
  ASSERT_EQ(resp.status, 200);
  EXPECT_EQ(resp.content_type, "text/plain; version=0.0.4; charset=utf-8");
  const std::string got = StripVolatile(resp.FullBody());
  const std::string golden_path = std::string(CICD_SOURCE_DIR) + "/tests/golden/exporter_metrics.txt";
  if (std::getenv("CICD_UPDATE_GOLDEN") != nullptr) {
    ASSERT_TRUE(WriteFileAtomically(golden_path, got).ok());
  }
  auto want = ReadFileToString(golden_path);
  ASSERT_TRUE(want.ok()) << "missing golden file; run with CICD_UPDATE_GOLDEN=1";
  EXPECT_EQ(got, *want);
}

TEST(ExporterGolden, EndpointsAnswer) {
  const ExporterConfig config = GoldenConfig();
  FakeClock clock(*ParseRfc3339("2026-01-01T00:00:00Z"));
  HttplibFetcher fetcher;
  Exporter exporter(config, &clock, &fetcher);
  WebRequest req;
  req.method = "GET";
  req.path = "/-/ready";
  EXPECT_EQ(exporter.Handle(req).status, 503);  // not polled yet
  exporter.PollAllOnce();
  EXPECT_EQ(exporter.Handle(req).status, 200);
  req.path = "/-/healthy";
  EXPECT_EQ(exporter.Handle(req).status, 200);
  req.method = "POST";
  req.path = "/api/v1/collect";
  WebResponse r = exporter.Handle(req);
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, R"({"status":"accepted","sources":["fixture"]})");
  req.query = "source=nope";
  r = exporter.Handle(req);
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("\"error\""), std::string::npos);
}

}  // namespace
}  // namespace cicd::exporter
