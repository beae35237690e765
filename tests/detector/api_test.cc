#include "cicd/detector/api.h"

#include <gtest/gtest.h>

#include "cicd/core/http_client.h"
#include "cicd/core/json.h"
#include "fake_prometheus.h"

namespace cicd::detector {
namespace {

using testing::AddNormalRuns;
using testing::FakePrometheus;
using testing::FakeRun;

constexpr double kNow = 1'767'225'600;

class ApiTest : public ::testing::Test {
 protected:
  ApiTest() : clock_(FromUnixSeconds(kNow)) {
    config_.detection.min_runs = 30;
    AddNormalRuns(prom_, 80, kNow - 3600);
    AddNormalRuns(prom_, 4, kNow - 3600, "org/new/ci.yml");
  }
  Service& svc() {
    if (!svc_) {
      ServiceDeps deps;
      deps.query = prom_.Func();
      deps.clock = &clock_;
      svc_ = std::make_unique<Service>(config_, deps);
    }
    return *svc_;
  }
  WebResponse Call(const std::string& method, const std::string& path, const std::string& body = "",
                   const std::string& query = "", const std::string& auth = "") {
    WebRequest r;
    r.method = method;
    r.path = path;
    r.query = query;
    r.body = body;
    if (!auth.empty()) r.headers.emplace_back("Authorization", auth);
    return HandleApiRequest(svc(), r);
  }
  static boost::json::value Body(const WebResponse& r) {
    auto v = json::Parse(r.FullBody());
    EXPECT_TRUE(v.ok()) << r.FullBody();
    return v.ok() ? *v : boost::json::value();
  }
  static std::string Error(const WebResponse& r) {
    return json::GetString(Body(r), "error").value_or("<no error field>");
  }

  DetectorConfig config_;
  FakePrometheus prom_;
  FakeClock clock_;
  std::unique_ptr<Service> svc_;
};

TEST_F(ApiTest, HealthAndStatus) {
  auto h = Call("GET", "/health");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(json::GetString(Body(h), "status"), "ok");
  ASSERT_TRUE(svc().Train(std::chrono::hours(24 * 30)).ok());
  auto s = Call("GET", "/api/v1/status");
  ASSERT_EQ(s.status, 200);
  const auto body = Body(s);
  EXPECT_EQ(json::GetBool(body, "prometheus_up"), true);
  const auto* pipelines = json::FindArray(body, "pipelines");
  ASSERT_NE(pipelines, nullptr);
  ASSERT_EQ(pipelines->size(), 2u);
  const auto& app = (*pipelines)[0];
  EXPECT_EQ(json::GetString(app, "pipeline"), "org/app/ci.yml");
  EXPECT_EQ(json::GetString(app, "state"), "ready");
  EXPECT_EQ(json::GetInt(app, "runs_seen"), 80);
  EXPECT_EQ(json::GetInt(app, "samples"), 80);
  EXPECT_EQ(json::GetString(app, "model_trained_at"), "2026-01-01T00:00:00Z");
  const auto& cold = (*pipelines)[1];
  EXPECT_EQ(json::GetString(cold, "state"), "cold_start");
  EXPECT_EQ(json::GetInt(cold, "runs_needed"), 30);
  EXPECT_EQ(json::GetString(cold, "message"), "cold start: 4 of 30 runs needed");
}

TEST_F(ApiTest, DetectAndAnomalies) {
  ASSERT_TRUE(svc().Train(std::chrono::hours(24 * 30)).ok());
  FakeRun slow;
  slow.finished = kNow - 60;
  slow.duration = 2500;
  prom_.Add(slow);
  auto d = Call("POST", "/api/v1/detect", R"({"threshold":0.5})");
  ASSERT_EQ(d.status, 200) << d.FullBody();
  EXPECT_EQ(json::GetInt(Body(d), "runs"), 1);
  ASSERT_EQ(json::FindArray(Body(d), "verdicts")->size(), 1u);

  auto a = Call("GET", "/api/v1/anomalies", "", "hours=1");
  ASSERT_EQ(a.status, 200);
  const auto body = Body(a);
  const auto* list = json::FindArray(body, "anomalies");
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(json::GetString((*list)[0], "kind"), "slow");
  EXPECT_FALSE(json::FindArray((*list)[0], "reasons")->empty());
  EXPECT_EQ(json::FindArray(Body(Call("GET", "/api/v1/anomalies", "", "pipeline=org%2Fnew%2Fci.yml")),
                            "anomalies")
                ->size(),
            0u);
  EXPECT_EQ(json::FindArray(Body(Call("GET", "/api/v1/anomalies", "", "pipeline=org%2Fapp%2Fci.yml")),
                            "anomalies")
                ->size(),
            1u);
  clock_.Advance(std::chrono::hours(2));
  EXPECT_EQ(json::FindArray(Body(Call("GET", "/api/v1/anomalies", "", "hours=1")), "anomalies")->size(), 0u);
  EXPECT_EQ(json::FindArray(Body(Call("GET", "/api/v1/anomalies")), "anomalies")->size(), 1u);
}

TEST_F(ApiTest, AnomaliesRejectsBadHours) {
  for (const char* q : {"hours=abc", "hours=", "hours=-1", "hours=0", "hours=1e9", "hours=nan", "hours=5x"}) {
    auto r = Call("GET", "/api/v1/anomalies", "", q);
    EXPECT_EQ(r.status, 400) << q;
    EXPECT_NE(Error(r).find("\"hours\""), std::string::npos) << q;
  }
}

TEST_F(ApiTest, TrainStartsInTheBackground) {
  auto r = Call("POST", "/api/v1/train", R"({"days":30,"contamination":0.1})");
  EXPECT_EQ(r.status, 202) << r.FullBody();
  EXPECT_EQ(json::GetString(Body(r), "history"), "30d");
  EXPECT_EQ(json::GetNumber(Body(r), "contamination"), 0.1);
}

TEST_F(ApiTest, PipelineCollectsTrainsAndDetects) {
  auto r = Call("POST", "/api/v1/pipeline", "{}");
  ASSERT_EQ(r.status, 200) << r.FullBody();
  const auto b = Body(r);
  EXPECT_NE(json::GetString(b, "collect")->find("exporter_url"), std::string::npos);
  EXPECT_EQ(json::GetInt(*json::Find(b, "train"), "pipelines"), 2);
  EXPECT_EQ(json::GetInt(*json::Find(b, "detect"), "runs"), 0);
}

TEST_F(ApiTest, CollectWithoutExporterSaysWhy) {
  auto r = Call("POST", "/api/v1/collect");
  EXPECT_EQ(r.status, 409);
  EXPECT_NE(Error(r).find("exporter_url"), std::string::npos);
}

TEST_F(ApiTest, BadBodiesAre400NamingTheField) {
  struct Case {
    const char* path;
    const char* body;
    const char* want;
  };
  const Case cases[] = {
      {"/api/v1/train", "{", "malformed JSON"},
      {"/api/v1/train", "[1]", "JSON object"},
      {"/api/v1/train", "\"days\"", "JSON object"},
      {"/api/v1/train", R"({"days":"30"})", "\"days\" must be a number"},
      {"/api/v1/train", R"({"days":null})", "\"days\" must be a number"},
      {"/api/v1/train", R"({"days":0})", "\"days\" must be between"},
      {"/api/v1/train", R"({"contamination":0.9})", "\"contamination\" must be between"},
      {"/api/v1/train", R"({"contamination":true})", "\"contamination\" must be a number"},
      {"/api/v1/train", R"({"dayz":3})", "unknown field \"dayz\""},
      {"/api/v1/detect", R"({"threshold":"high"})", "\"threshold\" must be a number"},
      {"/api/v1/detect", R"({"threshold":-1})", "\"threshold\" must be between"},
      {"/api/v1/detect", "{\"threshold\":1", "malformed JSON"},
      {"/api/v1/pipeline", R"({"days":[30]})", "\"days\" must be a number"},
      {"/api/v1/pipeline", R"({"contamination":0.1})", "unknown field \"contamination\""},
  };
  for (const auto& c : cases) {
    auto r = Call("POST", c.path, c.body);
    EXPECT_EQ(r.status, 400) << c.path << " " << c.body;
    EXPECT_NE(Error(r).find(c.want), std::string::npos) << c.path << " " << c.body << ": " << Error(r);
  }
}

TEST_F(ApiTest, UnknownPathIs404AndWrongMethod405) {
  auto r = Call("GET", "/api/v1/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json::GetString(Body(r), "status"), "error");
  EXPECT_EQ(Call("GET", "/api/v1/train").status, 405);
  EXPECT_EQ(Call("POST", "/api/v1/status").status, 405);
}

TEST_F(ApiTest, TokenGuardsPostsOnly) {
  config_.api_token = "s3cret-token";
  EXPECT_EQ(Call("GET", "/api/v1/status").status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/anomalies").status, 200);
  for (const char* path : {"/api/v1/collect", "/api/v1/train", "/api/v1/detect", "/api/v1/pipeline"}) {
    auto none = Call("POST", path, "{}");
    EXPECT_EQ(none.status, 401) << path;
    EXPECT_EQ(none.FullBody().find("s3cret"), std::string::npos);
    EXPECT_EQ(Call("POST", path, "{}", "", "Bearer wrong-token").status, 401) << path;
    EXPECT_EQ(Call("POST", path, "{}", "", "s3cret-token").status, 401) << path;
  }
  EXPECT_EQ(Call("POST", "/api/v1/detect", "{}", "", "Bearer s3cret-token").status, 200);
  EXPECT_EQ(Call("GET", "/api/v1/status").FullBody().find("s3cret"), std::string::npos);
  EXPECT_EQ(Call("GET", "/metrics").FullBody().find("s3cret"), std::string::npos);
  EXPECT_EQ(Call("GET", "/").FullBody().find("s3cret"), std::string::npos);
}

TEST_F(ApiTest, StatusPageIsSelfContainedWithCharts) {
  ASSERT_TRUE(svc().Train(std::chrono::hours(24 * 30)).ok());
  FakeRun slow;
  slow.finished = kNow - 60;
  slow.duration = 2500;
  prom_.Add(slow);
  ASSERT_TRUE(svc().Detect().ok());
  auto r = Call("GET", "/");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  const std::string html = r.FullBody();
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("class=band"), std::string::npos);
  EXPECT_NE(html.find("class=anomalous"), std::string::npos);
  EXPECT_NE(html.find("duration 2500 s"), std::string::npos);
  EXPECT_NE(html.find("cold start: 4 of 30"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
}

// Through a real server on 127.0.0.1: routing, 404, 405 and 413.
TEST_F(ApiTest, OverHttp) {
  WebServerOptions o;
  o.listen_address = "127.0.0.1:0";
  o.max_body_bytes = 1024;
  auto server = WebServer::Start(o);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  RegisterRoutes(**server, svc());
  HttplibFetcher http;
  const std::string base = "http://127.0.0.1:" + std::to_string((*server)->port());
  auto get = [&](const std::string& path) {
    HttpRequest r;
    r.url = base + path;
    return http.Fetch(r);
  };
  auto metrics = get("/metrics");
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("cicd_detector_build_info{version=\""), std::string::npos);
  auto missing = get("/nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(missing->body.find("\"error\""), std::string::npos);
  HttpRequest big;
  big.method = "POST";
  big.url = base + "/api/v1/detect";
  big.content_type = "application/json";
  big.body = "{\"threshold\":1" + std::string(4096, ' ') + "}";
  auto r = http.Fetch(big);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 413);
  HttpRequest wrong;
  wrong.method = "POST";
  wrong.url = base + "/api/v1/status";
  r = http.Fetch(wrong);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 405);
}

}  // namespace
}  // namespace cicd::detector
