#include "cicd/core/web_server.h"

#include <gtest/gtest.h>

#include "cicd/core/http_client.h"

namespace cicd {
namespace {

class WebServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    WebServerOptions o;
    o.listen_address = "127.0.0.1:0";
    o.max_body_bytes = 1024;
    auto s = WebServer::Start(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = s->release();
    server_->Handle("GET", "/hello", [](const WebRequest& r) {
      std::string who = "nobody";
      r.QueryParam("name", &who);
      return WebResponse::Text(200, "hello " + who);
    });
    server_->Handle("POST", "/echo", [](const WebRequest& r) {
      return WebResponse::Text(200, r.body + "|" + r.Header("x-test"));
    });
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  Result<HttpResponse> Call(const std::string& method, const std::string& path,
                            const std::string& body = "") {
    HttpRequest req;
    req.method = method;
    req.url = "http://127.0.0.1:" + std::to_string(server_->port()) + path;
    req.body = body;
    req.content_type = "text/plain";
    req.headers = {{"X-Test", "yes"}};
    return fetcher_.Fetch(req);
  }
  static WebServer* server_;
  HttplibFetcher fetcher_;
};
WebServer* WebServerTest::server_ = nullptr;

TEST_F(WebServerTest, RoutesAndDecodesQuery) {
  auto r = Call("GET", "/hello?name=a%20b");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello a b");
}

TEST_F(WebServerTest, PostBodyAndHeaders) {
  auto r = Call("POST", "/echo", "payload");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "payload|yes");
}

TEST_F(WebServerTest, UnknownPathIsJson404) {
  auto r = Call("GET", "/missing");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->Header("content-type"), "application/json");
  EXPECT_EQ(r->body, R"({"status":"error","error":"no such endpoint: /missing"})");
}

TEST_F(WebServerTest, WrongMethodIs405) {
  auto r = Call("POST", "/hello", "x");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 405);
}

TEST_F(WebServerTest, LargeBodyIs413) {
  auto r = Call("POST", "/echo", std::string(4096, 'x'));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 413);
}

TEST(WebServer, BusyPortIsAnError) {
  auto first = WebServer::Start({});
  ASSERT_TRUE(first.ok());
  WebServerOptions o;
  o.listen_address = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = WebServer::Start(o);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("cannot listen"), std::string::npos);
}

}  // namespace
}  // namespace cicd

namespace cicd {
namespace {

TEST(WebServerStream, ChunkedBodyArrivesWhole) {
  auto s = WebServer::Start({});
  ASSERT_TRUE(s.ok());
  (*s)->Handle("GET", "/big", [](const WebRequest&) {
    WebResponse r;
    r.content_type = "text/plain";
    r.stream = [](const WebResponse::Writer& write) {
      for (int i = 0; i < 1000; ++i) write(std::string(1000, static_cast<char>('a' + i % 26)));
    };
    return r;
  });
  HttplibFetcher fetcher;
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string((*s)->port()) + "/big";
  auto r = fetcher.Fetch(req);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->Header("transfer-encoding"), "chunked");
  ASSERT_EQ(r->body.size(), 1'000'000u);
  EXPECT_EQ(r->body.substr(999'000, 3), "lll");
}

}  // namespace
}  // namespace cicd
