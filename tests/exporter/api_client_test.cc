// Tests of ApiClient: unit tests with a scripted HttpFetcher (every branch of
// the retry and rate-limit logic, the sizes of the waits asked for) and
// component tests through a real HttplibFetcher against a local server
// (timeouts, body limit, ETag end to end). No test really waits: the sleeper
// records each wait and moves a fake clock.
#include "cicd/exporter/api_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <deque>
#include <mutex>
#include <thread>

#include "support/test_server.h"

namespace cicd::exporter {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

HttpResponse Response(int status, std::string body = "{}", Headers headers = {}) {
  HttpResponse r;
  r.status = status;
  r.body = std::move(body);
  for (auto& [k, v] : headers) {
    std::string name = k;
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    r.headers.emplace_back(name, v);
  }
  return r;
}

// Plays a script of responses (or transport errors) and records requests.
class ScriptedFetcher final : public HttpFetcher {
 public:
  void Push(Result<HttpResponse> r) { script_.push_back(std::move(r)); }
  // Served once the script is used up.
  void SetDefault(HttpResponse r) { default_ = std::move(r); }

  Result<HttpResponse> Fetch(const HttpRequest& request) override {
    std::lock_guard lock(mu_);
    requests_.push_back(request);
    if (script_.empty()) return default_;
    Result<HttpResponse> r = std::move(script_.front());
    script_.pop_front();
    return r;
  }
  std::vector<HttpRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

 private:
  mutable std::mutex mu_;
  std::deque<Result<HttpResponse>> script_;
  HttpResponse default_ = Response(200);
  std::vector<HttpRequest> requests_;
};

class RecordingObserver final : public ApiObserver {
 public:
  void OnApiRequest(const std::string& source, const std::string& code) override {
    std::lock_guard lock(mu_);
    EXPECT_EQ(source, "test");
    codes.push_back(code);
  }
  void OnRateLimitRemaining(const std::string&, double remaining) override {
    std::lock_guard lock(mu_);
    quota.push_back(remaining);
  }
  std::mutex mu_;
  std::vector<std::string> codes;
  std::vector<double> quota;
};

std::string Header(const HttpRequest& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

class ApiClientTest : public ::testing::Test {
 protected:
  ApiClientTest() : clock_(FromUnixSeconds(1'738'670'400)) {  // 2025-02-04T12:00:00Z
    options_.requests_per_second = 0;                         // no bucket unless a test wants one
    options_.max_attempts = 4;
    options_.initial_backoff = Millis(100);
    options_.max_backoff = Millis(1'000);
    options_.max_rate_limit_wait = Millis(120'000);
  }

  ApiClient& Client(HttpFetcher* fetcher = nullptr) {
    client_ = std::make_unique<ApiClient>(
        "test", options_, Headers{{"Authorization", "Bearer t0ken-value"}},
        fetcher ? fetcher : &fetcher_, &clock_, &observer_, [this](Millis d) {
          waits_.push_back(d);
          clock_.Advance(d);
          return keep_waiting_;
        });
    return *client_;
  }

  std::string ResetIn(int seconds) const {
    return std::to_string(static_cast<long long>(ToUnixSeconds(clock_.Now())) + seconds);
  }

  ApiClientOptions options_;
  FakeClock clock_;
  ScriptedFetcher fetcher_;
  RecordingObserver observer_;
  std::vector<Millis> waits_;
  bool keep_waiting_ = true;
  std::unique_ptr<ApiClient> client_;
};

TEST_F(ApiClientTest, SuccessPassesBodyLinkAndAuthHeaders) {
  fetcher_.Push(Response(200, "[1]", {{"Link", "<https://x/y?page=2>; rel=\"next\""}}));
  auto r = Client().Get("https://api.example.com/a?b=1");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "[1]");
  EXPECT_FALSE(r->not_modified);
  EXPECT_EQ(NextLink(r->link), "https://x/y?page=2");
  ASSERT_EQ(fetcher_.requests().size(), 1u);
  EXPECT_EQ(fetcher_.requests()[0].url, "https://api.example.com/a?b=1");
  EXPECT_EQ(Header(fetcher_.requests()[0], "Authorization"), "Bearer t0ken-value");
  EXPECT_EQ(fetcher_.requests()[0].timeout, options_.timeout);
  EXPECT_TRUE(waits_.empty());
}

TEST_F(ApiClientTest, TooManyRequestsWaitsRetryAfterThenSucceeds) {
  fetcher_.Push(Response(429, "", {{"Retry-After", "3"}}));
  fetcher_.Push(Response(200, "ok"));
  auto r = Client().Get("https://api.example.com/a");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "ok");
  EXPECT_EQ(waits_, std::vector<Millis>{Millis(3'000)});
  EXPECT_EQ(observer_.codes, (std::vector<std::string>{"429", "200"}));
  EXPECT_EQ(fetcher_.requests().size(), 2u);
}

TEST_F(ApiClientTest, TooManyRequestsWithoutRetryAfterBacksOff) {
  fetcher_.Push(Response(429));
  fetcher_.Push(Response(200));
  ASSERT_TRUE(Client().Get("https://api.example.com/a").ok());
  ASSERT_EQ(waits_.size(), 1u);
  EXPECT_GE(waits_[0], Millis(50));
  EXPECT_LE(waits_[0], Millis(100));
}

TEST_F(ApiClientTest, ExhaustedQuotaWaitsUntilResetThenRetries) {
  fetcher_.Push(Response(403, R"({"message":"API rate limit exceeded"})",
                         {{"X-RateLimit-Remaining", "0"}, {"X-RateLimit-Reset", ResetIn(20)}}));
  fetcher_.Push(Response(200, "ok", {{"X-RateLimit-Remaining", "4999"}}));
  auto r = Client().Get("https://api.example.com/a");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(waits_, std::vector<Millis>{Millis(20'000)});
  EXPECT_EQ(observer_.codes, (std::vector<std::string>{"403", "200"}));
  EXPECT_EQ(observer_.quota, (std::vector<double>{0, 4999}));
  EXPECT_EQ(client_->rate_limit_remaining(), 4999);
}

TEST_F(ApiClientTest, UnprefixedHeadersWithResetInSecondsFromNow) {
  // Buildkite: RateLimit-Reset is the seconds until the window resets.
  fetcher_.Push(
      Response(429, "", {{"RateLimit-Remaining", "0"}, {"RateLimit-Reset", "42"}}));
  fetcher_.Push(Response(200, "ok", {{"RateLimit-Remaining", "199"}}));
  ASSERT_TRUE(Client().Get("https://api.example.com/a").ok());
  EXPECT_EQ(waits_, std::vector<Millis>{Millis(42'000)});
  EXPECT_EQ(observer_.quota, (std::vector<double>{0, 199}));
  EXPECT_EQ(client_->rate_limit_remaining(), 199);
}

TEST_F(ApiClientTest, ResetAlreadyPassedWaitsAtLeastOneSecond) {
  fetcher_.Push(
      Response(429, "", {{"X-RateLimit-Remaining", "0"}, {"X-RateLimit-Reset", ResetIn(-5)}}));
  fetcher_.Push(Response(200));
  ASSERT_TRUE(Client().Get("https://api.example.com/a").ok());
  EXPECT_EQ(waits_, std::vector<Millis>{Millis(1'000)});
}

TEST_F(ApiClientTest, ResetTooFarAwayFailsAtOnce) {
  fetcher_.Push(
      Response(403, "", {{"X-RateLimit-Remaining", "0"}, {"X-RateLimit-Reset", ResetIn(3'600)}}));
  const auto t0 = std::chrono::steady_clock::now();
  auto r = Client().Get("https://api.example.com/a?page=2");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kRateLimited);
  EXPECT_NE(r.status().message().find("1h"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("later poll"), std::string::npos);
  EXPECT_EQ(r.status().message().find("page=2"), std::string::npos);  // no query in messages
  EXPECT_TRUE(waits_.empty());
  EXPECT_EQ(fetcher_.requests().size(), 1u);
  EXPECT_EQ(observer_.quota, std::vector<double>{0});
}

TEST_F(ApiClientTest, SecondaryRateLimitWaitsAMinute) {
  fetcher_.Push(Response(403, R"({"message":"You have exceeded a secondary rate limit."})"));
  fetcher_.Push(Response(200));
  ASSERT_TRUE(Client().Get("https://api.example.com/a").ok());
  EXPECT_EQ(waits_, std::vector<Millis>{Millis(60'000)});
}

TEST_F(ApiClientTest, RateLimitedOnEveryAttemptFails) {
  fetcher_.SetDefault(Response(429, "", {{"Retry-After", "2"}}));
  auto r = Client().Get("https://api.example.com/a");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kRateLimited);
  EXPECT_EQ(fetcher_.requests().size(), 4u);
  EXPECT_EQ(waits_, std::vector<Millis>(3, Millis(2'000)));  // none after the last
}

TEST_F(ApiClientTest, ForbiddenWithoutRateLimitHeadersIsUnauthenticated) {
  fetcher_.Push(Response(403, R"({"message":"Resource not accessible by integration"})"));
  auto r = Client().Get("https://api.example.com/a");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(r.status().message().find("permissions"), std::string::npos);
  EXPECT_EQ(fetcher_.requests().size(), 1u);
  EXPECT_TRUE(waits_.empty());
}

TEST_F(ApiClientTest, UnauthorizedIsUnauthenticatedWithoutRetry) {
  fetcher_.Push(Response(401, R"({"message":"Bad credentials"})"));
  auto r = Client().Get("https://api.example.com/a");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kUnauthenticated);
  EXPECT_NE(r.status().message().find("HTTP 401 from GET https://api.example.com/a"),
            std::string::npos)
      << r.status().message();
  EXPECT_EQ(fetcher_.requests().size(), 1u);
  EXPECT_EQ(observer_.codes, std::vector<std::string>{"401"});
}

TEST_F(ApiClientTest, OtherClientErrorsFailAtOnce) {
  fetcher_.Push(Response(404));
  fetcher_.Push(Response(422));
  EXPECT_EQ(Client().Get("https://api.example.com/a").status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(client_->Get("https://api.example.com/a").status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(fetcher_.requests().size(), 2u);
  EXPECT_TRUE(waits_.empty());
}

TEST_F(ApiClientTest, ServerErrorThenSuccessIsRetried) {
  fetcher_.Push(Response(500));
  fetcher_.Push(Response(503));
  fetcher_.Push(Response(200, "ok"));
  auto r = Client().Get("https://api.example.com/a");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->body, "ok");
  EXPECT_EQ(observer_.codes, (std::vector<std::string>{"500", "503", "200"}));
  ASSERT_EQ(waits_.size(), 2u);
}

TEST_F(ApiClientTest, ServerErrorAlwaysFailsAfterMaxAttemptsWithGrowingBackoff) {
  fetcher_.SetDefault(Response(500));
  auto r = Client().Get("https://api.example.com/a");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(r.status().message().find("after 4 attempts"), std::string::npos);
  EXPECT_NE(r.status().message().find("HTTP 500"), std::string::npos);
  EXPECT_EQ(fetcher_.requests().size(), 4u);
  // Full jitter with a floor of half the initial backoff: attempt k waits
  // within [50 ms, min(1 s, 100 ms * 2^(k-1))].
  ASSERT_EQ(waits_.size(), 3u);
  const Millis ceilings[] = {Millis(100), Millis(200), Millis(400)};
  for (std::size_t i = 0; i < waits_.size(); ++i) {
    EXPECT_GE(waits_[i], Millis(50)) << i;
    EXPECT_LE(waits_[i], ceilings[i]) << i;
  }
}

TEST_F(ApiClientTest, BackoffIsCappedByMaxBackoff) {
  options_.max_attempts = 8;
  options_.initial_backoff = Millis(100);
  options_.max_backoff = Millis(300);
  fetcher_.SetDefault(Response(502));
  EXPECT_FALSE(Client().Get("https://api.example.com/a").ok());
  ASSERT_EQ(waits_.size(), 7u);
  for (const Millis w : waits_) EXPECT_LE(w, Millis(300));
}

TEST_F(ApiClientTest, TransportErrorsAreRetried) {
  fetcher_.Push(
      Status::Error(ErrorCode::kUnavailable, "GET https://api.example.com/a: Connection"));
  fetcher_.Push(Status::Error(ErrorCode::kTimeout, "GET https://api.example.com/a: Read"));
  fetcher_.Push(Response(200));
  ASSERT_TRUE(Client().Get("https://api.example.com/a").ok());
  EXPECT_EQ(observer_.codes, (std::vector<std::string>{"error", "timeout", "200"}));
  EXPECT_EQ(waits_.size(), 2u);
}

TEST_F(ApiClientTest, TimeoutOnEveryAttemptIsATimeout) {
  options_.max_attempts = 2;
  for (int i = 0; i < 2; ++i) {
    fetcher_.Push(Status::Error(ErrorCode::kTimeout, "GET https://api.example.com/a: Read"));
  }
  auto r = Client().Get("https://api.example.com/a");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kTimeout);
  EXPECT_EQ(observer_.codes, (std::vector<std::string>{"timeout", "timeout"}));
}

TEST_F(ApiClientTest, InterruptedSleepGivesUp) {
  keep_waiting_ = false;
  fetcher_.SetDefault(Response(500));
  auto r = Client().Get("https://api.example.com/a");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(fetcher_.requests().size(), 1u);  // no retry once stopping
}

TEST_F(ApiClientTest, EtagMakesTheSecondRequestConditional) {
  fetcher_.Push(
      Response(200, "body-v1", {{"ETag", "\"abc\""}, {"Link", "<https://n>; rel=\"next\""}}));
  fetcher_.Push(Response(304, "", {{"X-RateLimit-Remaining", "4000"}}));
  auto& client = Client();
  auto first = client.Get("https://api.example.com/a");
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->not_modified);
  EXPECT_EQ(Header(fetcher_.requests()[0], "If-None-Match"), "");

  auto second = client.Get("https://api.example.com/a");
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(Header(fetcher_.requests()[1], "If-None-Match"), "\"abc\"");
  EXPECT_TRUE(second->not_modified);
  EXPECT_EQ(second->status, 304);
  EXPECT_EQ(second->body, "body-v1");
  EXPECT_EQ(second->link, "<https://n>; rel=\"next\"");
  EXPECT_EQ(observer_.codes, (std::vector<std::string>{"200", "304"}));

  // Another URL has its own entry; use_etag=false never sends one.
  ASSERT_TRUE(client.Get("https://api.example.com/b").ok());
  ASSERT_TRUE(client.Get("https://api.example.com/a", /*use_etag=*/false).ok());
  EXPECT_EQ(Header(fetcher_.requests()[2], "If-None-Match"), "");
  EXPECT_EQ(Header(fetcher_.requests()[3], "If-None-Match"), "");
}

TEST_F(ApiClientTest, ChangedResourceReplacesTheCachedBody) {
  fetcher_.Push(Response(200, "v1", {{"ETag", "\"1\""}}));
  fetcher_.Push(Response(200, "v2", {{"ETag", "\"2\""}}));
  fetcher_.Push(Response(304));
  auto& client = Client();
  ASSERT_TRUE(client.Get("https://api.example.com/a").ok());
  ASSERT_TRUE(client.Get("https://api.example.com/a").ok());
  auto third = client.Get("https://api.example.com/a");
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(Header(fetcher_.requests()[2], "If-None-Match"), "\"2\"");
  EXPECT_EQ(third->body, "v2");
}

TEST_F(ApiClientTest, TokenBucketSpacesRequests) {
  options_.requests_per_second = 2;
  options_.burst = 1;
  auto& client = Client();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client.Get("https://api.example.com/a").ok());
  // The first request takes the burst token; the next ones wait 1/rate.
  EXPECT_EQ(waits_, (std::vector<Millis>{Millis(500), Millis(500)}));
}

TEST(ApiClientNextLink, ParsesRfc8288Headers) {
  EXPECT_EQ(NextLink(""), "");
  EXPECT_EQ(NextLink("<https://a/r?page=2>; rel=\"next\", <https://a/r?page=5>; rel=\"last\""),
            "https://a/r?page=2");
  EXPECT_EQ(NextLink("<https://a/r?page=1>; rel=\"prev\", <https://a/r?page=3>; rel=\"next\""),
            "https://a/r?page=3");
  EXPECT_EQ(NextLink("<https://a/r?page=1>; rel=\"first\", <https://a/r?page=4>; rel=\"last\""),
            "");
  EXPECT_EQ(NextLink("<https://a/r?page=2>; rel=next"), "https://a/r?page=2");
  EXPECT_EQ(NextLink("<https://a/r?page=2; rel=\"next\""), "");  // unterminated
  // cpp-httplib percent-decodes response headers: GitHub's
  // "?created=%3E%3D2025-02-03T00%3A00%3A00Z" arrives with a raw '>'.
  EXPECT_EQ(NextLink("<https://a/r?created=>=2025-02-03T00:00:00Z&page=2>; rel=\"next\", "
                     "<https://a/r?created=>=2025-02-03T00:00:00Z&page=9>; rel=\"last\""),
            "https://a/r?created=>=2025-02-03T00:00:00Z&page=2");
  EXPECT_EQ(NextLink("<https://a/r?q=>x&page=8>; rel=\"prev\",<https://a/r?q=>x&page=9> ; "
                     "rel=\"next\""),
            "https://a/r?q=>x&page=9");
}

// Through a real HttplibFetcher and a local server.
class ApiClientHttpTest : public ApiClientTest {
 protected:
  ApiClient& HttpClient() {
    http_ = std::make_unique<HttplibFetcher>(options_.http);
    return Client(http_.get());
  }
  cicd::testing::TestServer server_;
  std::unique_ptr<HttplibFetcher> http_;
};

TEST_F(ApiClientHttpTest, SlowResponseTimesOut) {
  options_.timeout = Millis(200);
  options_.max_attempts = 2;
  server_.server().Get("/slow", [](const httplib::Request&, httplib::Response& res) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    res.set_content("late", "text/plain");
  });
  server_.Start();
  const auto t0 = std::chrono::steady_clock::now();
  auto r = HttpClient().Get(server_.base_url() + "/slow");
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(1'500));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kTimeout) << r.status().ToString();
  EXPECT_EQ(observer_.codes, (std::vector<std::string>{"timeout", "timeout"}));
  EXPECT_EQ(waits_.size(), 1u);
}

TEST_F(ApiClientHttpTest, BodyOverMaxBodyBytesIsRefused) {
  options_.http.max_body_bytes = 64 * 1024;
  options_.max_attempts = 3;  // an oversized body is not retried: it would be as large again
  server_.server().Get("/big", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(200 * 1024, 'x'), "text/plain");
  });
  server_.server().Get("/fits", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(64 * 1024, 'y'), "text/plain");
  });
  server_.Start();
  auto& client = HttpClient();
  auto big = client.Get(server_.base_url() + "/big");
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), ErrorCode::kResourceExhausted);
  EXPECT_NE(big.status().message().find("larger than 65536 bytes"), std::string::npos)
      << big.status().message();
  EXPECT_EQ(server_.request_count(), 1u);
  auto fits = client.Get(server_.base_url() + "/fits");
  ASSERT_TRUE(fits.ok()) << fits.status().ToString();
  EXPECT_EQ(fits->body.size(), 64u * 1024);
}

TEST_F(ApiClientHttpTest, EtagEndToEnd) {
  std::atomic<int> full{0};
  server_.server().Get("/etag", [&](const httplib::Request& req, httplib::Response& res) {
    res.set_header("X-RateLimit-Remaining", "4990");
    if (req.get_header_value("If-None-Match") == "W/\"v1\"") {
      res.status = 304;
      return;
    }
    ++full;
    res.set_header("ETag", "W/\"v1\"");
    res.set_content(R"({"n":1})", "application/json");
  });
  server_.Start();
  auto& client = HttpClient();
  auto first = client.Get(server_.base_url() + "/etag");
  auto second = client.Get(server_.base_url() + "/etag");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(full.load(), 1);
  EXPECT_TRUE(second->not_modified);
  EXPECT_EQ(second->body, R"({"n":1})");
  // The server logs a request after responding: wait for both logs.
  for (int i = 0; i < 2000 && server_.request_count() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(server_.last_headers("/etag").find("Authorization")->second, "Bearer t0ken-value");
  EXPECT_EQ(observer_.quota, (std::vector<double>{4990, 4990}));
}

TEST_F(ApiClientHttpTest, ConnectionRefusedIsRetriedThenUnavailable) {
  options_.max_attempts = 2;
  server_.Start();
  const std::string url = server_.base_url() + "/x";
  server_.server().stop();
  auto r = HttpClient().Get(url);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().code(), ErrorCode::kOk);
  EXPECT_EQ(observer_.codes.size(), 2u);
}

}  // namespace
}  // namespace cicd::exporter
