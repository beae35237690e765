#include "cicd/detector/prometheus_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "cicd/detector/history.h"
#include "support/fixtures.h"
#include "support/test_server.h"

namespace cicd::detector {
namespace {

TEST(ParseQueryResponse, VectorWithLabels) {
  auto r = ParseQueryResponse(
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"a"},"value":[1700000000.5,"42"]}]}})",
      200);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->result_type, "vector");
  ASSERT_EQ(r->series.size(), 1u);
  EXPECT_EQ(r->series[0].labels.at("job"), "a");
  EXPECT_DOUBLE_EQ(r->series[0].samples[0].t, 1700000000.5);
  EXPECT_DOUBLE_EQ(r->series[0].samples[0].v, 42);
}

TEST(ParseQueryResponse, MatrixWarningsAndNonFinite) {
  auto r = ParseQueryResponse(testing::ReadFixture("prometheus/edge_query_matrix.json"), 200);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->result_type, "matrix");
  ASSERT_EQ(r->warnings.size(), 1u);
  EXPECT_EQ(r->series[0].samples.size(), 4u);  // the NaN sample is dropped...
  EXPECT_EQ(r->non_finite, 1u);                // ...and counted
}

TEST(ParseQueryResponse, ErrorsAreValues) {
  auto e = ParseQueryResponse(testing::ReadFixture("prometheus/edge_query_error.json"), 400);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(e.status().message().find("bad_data"), std::string::npos);
  EXPECT_NE(e.status().message().find("parse error"), std::string::npos);
  auto unavailable = ParseQueryResponse(R"({"status":"error","errorType":"timeout","error":"query timed out"})", 503);
  EXPECT_EQ(unavailable.status().code(), ErrorCode::kUnavailable);
  EXPECT_FALSE(ParseQueryResponse("<html>502 Bad Gateway</html>", 502).ok());
  EXPECT_FALSE(ParseQueryResponse(R"({"status":"success"})", 200).ok());
  EXPECT_FALSE(ParseQueryResponse(R"({"status":"success","data":{"resultType":"matrix","result":[{"values":[[1,2]]}]}})", 200).ok());
  EXPECT_FALSE(ParseQueryResponse(R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,"abc"]}]}})", 200).ok());
}

class PrometheusClientTest : public ::testing::Test {
 protected:
  PrometheusClient Client(PrometheusClientOptions o = {}) {
    o.url = server_.base_url() + "/prom";
    o.timeout = Millis(300);
    o.max_attempts = 3;
    o.backoff = Millis(1);
    return PrometheusClient(o, &fetcher_, [](Millis) {});
  }
  testing::TestServer server_;
  HttplibFetcher fetcher_;
};

TEST_F(PrometheusClientTest, BasePathBearerAndQueryEncoding) {
  std::string seen_query, seen_auth;
  server_.server().Post("/prom/api/v1/query", [&](const httplib::Request& req, httplib::Response& res) {
    seen_query = req.get_param_value("query");
    seen_auth = req.get_header_value("Authorization");
    res.set_content(R"({"status":"success","data":{"resultType":"vector","result":[]}})", "application/json");
  });
  server_.Start();
  PrometheusClientOptions o;
  o.bearer_token = "prom-bearer-secret-1234";
  auto c = Client(o);
  auto r = c.Query(R"(cicd_pipeline_last_run_duration_seconds{pipeline="a/b"}[30d])");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(seen_query, R"(cicd_pipeline_last_run_duration_seconds{pipeline="a/b"}[30d])");
  EXPECT_EQ(seen_auth, "Bearer prom-bearer-secret-1234");
}

TEST_F(PrometheusClientTest, SeriesListsLabelSetsThroughAPostForm) {
  std::string seen_match, seen_type, seen_start;
  server_.server().Post("/prom/api/v1/series", [&](const httplib::Request& req, httplib::Response& res) {
    seen_match = req.get_param_value("match[]");
    seen_start = req.get_param_value("start");
    seen_type = req.get_header_value("Content-Type");
    res.set_content(R"({"status":"success","data":[{"__name__":"m","source":"gh","pipeline":"o/a"},)"
                    R"({"__name__":"m","source":"gh","pipeline":"o/b"}]})",
                    "application/json");
  });
  server_.Start();
  auto c = Client();
  const TimePoint end = FromUnixSeconds(1'700'000'000);
  auto r = c.Series(R"(m{pipeline=~"o/.*"})", end - std::chrono::hours(1), end);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[1].at("pipeline"), "o/b");
  EXPECT_EQ(seen_match, R"(m{pipeline=~"o/.*"})");
  EXPECT_EQ(seen_start, "1699996400.000");
  EXPECT_EQ(seen_type, "application/x-www-form-urlencoded");
  EXPECT_FALSE(ParseSeriesResponse(R"({"status":"success","data":{}})", 200).ok());
  EXPECT_FALSE(ParseSeriesResponse(R"({"status":"error","errorType":"bad_data","error":"x"})", 400).ok());
}

TEST_F(PrometheusClientTest, RetriesServerErrorsThenSucceeds) {
  int calls = 0;
  server_.server().Post("/prom/api/v1/query", [&](const httplib::Request&, httplib::Response& res) {
    if (++calls < 3) {
      res.status = 503;
      res.set_content("busy", "text/plain");
      return;
    }
    res.set_content(R"({"status":"success","data":{"resultType":"scalar","result":[1,"1"]}})", "application/json");
  });
  server_.Start();
  auto c = Client();
  EXPECT_TRUE(c.Ping().ok());
  EXPECT_EQ(calls, 3);
}

TEST_F(PrometheusClientTest, TimeoutAndRefusedAreErrors) {
  server_.server().Post("/prom/api/v1/query", [&](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    res.set_content("{}", "application/json");
  });
  server_.Start();
  auto c = Client();
  auto r = c.Query("up");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kTimeout);
  PrometheusClientOptions o;
  o.url = "http://127.0.0.1:1";
  o.max_attempts = 1;
  PrometheusClient refused(o, &fetcher_, [](Millis) {});
  EXPECT_EQ(refused.Query("up").status().code(), ErrorCode::kUnavailable);
}

TEST_F(PrometheusClientTest, UnauthorizedIsNotRetried) {
  int calls = 0;
  server_.server().Post("/prom/api/v1/query", [&](const httplib::Request&, httplib::Response& res) {
    ++calls;
    res.status = 401;
  });
  server_.Start();
  auto c = Client();
  EXPECT_EQ(c.Query("up").status().code(), ErrorCode::kUnauthenticated);
  EXPECT_EQ(calls, 1);
}

PromSeries Series(std::map<std::string, std::string> labels, std::vector<PromSample> s) {
  labels.emplace("source", "buildkite");
  labels.emplace("pipeline", "org/app/build");
  return PromSeries{std::move(labels), std::move(s)};
}

TEST(History, OneRunPerDistinctFinishTime) {
  LastRunSeries in;
  // Run A finished at 1000 (backfilled sample at 1000, then scraped twice),
  // run B at 2000 (scraped at 2010 and 2025).
  in.finished.series = {Series({}, {{1000, 1000}, {1015, 1000}, {1030, 1000}, {2010, 2000}, {2025, 2000}})};
  in.duration.series = {Series({}, {{1000, 600}, {1015, 600}, {1030, 600}, {2010, 720}, {2025, 720}})};
  in.number.series = {Series({}, {{1000, 41}, {2010, 42}})};
  in.tests.series = {Series({{"outcome", "passed"}}, {{1000, 100}, {2010, 90}}),
                     Series({{"outcome", "failed"}}, {{1000, 0}, {2010, 10}})};
  in.result.series = {Series({{"result", "success"}}, {{1000, 1}, {2010, 0}}),
                      Series({{"result", "failure"}}, {{1000, 0}, {2010, 1}})};
  const History h = RunsFromLastRunSeries(in);
  ASSERT_EQ(h.runs.size(), 2u);
  EXPECT_EQ(h.incomplete, 0u);
  EXPECT_EQ(h.runs[0].run_id, "41");
  EXPECT_EQ(*h.runs[0].duration_seconds, 600);
  EXPECT_EQ(*h.runs[0].result, "success");
  EXPECT_EQ(*h.runs[0].tests_total, 100);
  EXPECT_EQ(h.runs[1].run_id, "42");
  EXPECT_EQ(*h.runs[1].result, "failure");
  EXPECT_EQ(*h.runs[1].tests_failed, 10);
  EXPECT_EQ(*h.runs[1].tests_total, 100);
  EXPECT_FALSE(h.runs[1].queue_seconds.has_value());  // unknown stays unknown
  EXPECT_EQ(ToUnixSeconds(*h.runs[1].finished_at), 2000);
}

TEST(History, AnIncompleteCopyDoesNotHideTheCompleteOne) {
  LastRunSeries in;
  // The same run in a backfilled series (no duration) and a scraped one
  // (job/instance labels, complete): one run, nothing incomplete.
  in.finished.series = {Series({}, {{1000, 1000}}), Series({{"job", "exporter"}}, {{1010, 1000}})};
  in.duration.series = {Series({{"job", "exporter"}}, {{1010, 600}})};
  in.result.series = {Series({{"result", "success"}}, {{1000, 1}}),
                      Series({{"job", "exporter"}, {"result", "success"}}, {{1010, 1}})};
  const History h = RunsFromLastRunSeries(in);
  ASSERT_EQ(h.runs.size(), 1u);
  EXPECT_EQ(*h.runs[0].duration_seconds, 600);
  EXPECT_EQ(h.incomplete, 0u);
}

TEST(History, RunWithoutDurationIsIncomplete) {
  LastRunSeries in;
  in.finished.series = {Series({}, {{1000, 1000}})};
  in.result.series = {Series({{"result", "success"}}, {{1000, 1}})};
  const History h = RunsFromLastRunSeries(in);
  EXPECT_TRUE(h.runs.empty());
  EXPECT_EQ(h.incomplete, 1u);
}

}  // namespace
}  // namespace cicd::detector
