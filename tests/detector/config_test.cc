#include "cicd/detector/config.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "cicd/core/log.h"

namespace cicd::detector {
namespace {

TEST(DetectorConfig, DefaultsWithOnlyDetection) {
  const auto c = ParseDetectorConfig("detection:\n  min_runs: 10\n", "t.yml");
  EXPECT_EQ(c.detection.min_runs, 10u);
  EXPECT_EQ(c.web.listen_address, ":9802");
  EXPECT_EQ(c.schedule.detect_interval, std::chrono::seconds(30));
  EXPECT_EQ(c.schedule.retrain_minute, 120);
  EXPECT_EQ(c.schedule.cleanup_interval, std::chrono::hours(24 * 7));
  EXPECT_EQ(c.schedule.history, std::chrono::hours(24 * 30));
  EXPECT_EQ(c.prometheus.url, "http://127.0.0.1:9090");
  EXPECT_TRUE(c.api_token.empty());
}

TEST(DetectorConfig, AllSections) {
  ::setenv("CICD_TEST_API_TOKEN", "tok-123456", 1);
  ::setenv("CICD_TEST_PROM_PASS", "pw-abcdef", 1);
  const auto c = ParseDetectorConfig(R"(
prometheus:
  url: https://mimir.example/prometheus
  basic_auth: {username: det, password: "${CICD_TEST_PROM_PASS}"}
  timeout: 5s
  max_attempts: 2
  tls: {ca_file: /etc/ca.pem, insecure_skip_verify: false}
web: {listen_address: "127.0.0.1:0", max_body_bytes: 2048}
schedule: {detect_interval: 1s, retrain_at: "03:15", cleanup_interval: 1d, history: 7d}
state_dir: /var/lib/cicd-detector
api_token: ${CICD_TEST_API_TOKEN}
exporter_url: http://127.0.0.1:9801
anomaly_retention: 14d
detection: {min_runs: 5}
)",
                                     "t.yml");
  EXPECT_EQ(c.prometheus.url, "https://mimir.example/prometheus");
  EXPECT_EQ(c.prometheus.basic_user, "det");
  EXPECT_EQ(c.prometheus.basic_password, "pw-abcdef");
  EXPECT_EQ(c.prometheus.timeout, std::chrono::seconds(5));
  EXPECT_EQ(c.prometheus.max_attempts, 2);
  EXPECT_EQ(c.prometheus.http.ca_file, "/etc/ca.pem");
  EXPECT_EQ(c.web.max_body_bytes, 2048u);
  EXPECT_EQ(c.schedule.retrain_minute, 3 * 60 + 15);
  EXPECT_EQ(c.schedule.history, std::chrono::hours(24 * 7));
  EXPECT_EQ(c.api_token, "tok-123456");
  EXPECT_EQ(c.exporter_url, "http://127.0.0.1:9801");
  EXPECT_EQ(c.anomaly_retention, std::chrono::hours(24 * 14));
  // Secrets are registered with the redactor.
  EXPECT_EQ(Logging::Redact("a tok-123456 b pw-abcdef"), "a <redacted> b <redacted>");
}

TEST(DetectorConfig, ErrorsNameKeyAndLine) {
  auto fails = [](const std::string& yaml, const std::string& want) {
    try {
      ParseDetectorConfig(yaml, "t.yml");
      ADD_FAILURE() << "no error for " << yaml;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  };
  fails("schedule:\n  retrain_at: \"25:00\"\n", "schedule.retrain_at");
  fails("schedule:\n  retrain_at: \"25:00\"\n", "line 2");
  fails("schedule:\n  detect_interval: soon\n", "schedule.detect_interval");
  fails("prometheus:\n  url: not a url\n", "prometheus.url");
  fails("prometheus:\n  bearer_token: abcd1234\n  basic_auth: {username: u, password: p}\n", "exclusive");
  fails("prometheus:\n  basic_auth: {password: p}\n", "username");
  fails("web:\n  listen: x\n", "listen");
  fails("exporter_url: ftp//x\n", "exporter_url");
  fails("api_token: ${CICD_TEST_SURELY_UNSET_VAR}\n", "CICD_TEST_SURELY_UNSET_VAR");
  fails("statedir: x\n", "statedir");
}

}  // namespace
}  // namespace cicd::detector
