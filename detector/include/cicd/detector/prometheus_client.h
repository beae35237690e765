#pragma once
// A client of Prometheus's HTTP query API (and of compatible APIs: Thanos,
// Mimir, VictoriaMetrics): instant and range queries with a base path, basic
// auth or a bearer token, TLS, timeouts and retries. Fetching and parsing are
// separate: ParseQueryResponse is pure.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cicd/core/http_client.h"
#include "cicd/core/result.h"
#include "cicd/core/time.h"

namespace cicd::detector {

struct PromSample {
  double t = 0;  // Unix seconds
  double v = 0;
};

struct PromSeries {
  std::map<std::string, std::string> labels;
  std::vector<PromSample> samples;  // time order
};

struct PromQueryResult {
  std::string result_type;  // "vector", "matrix", "scalar", "string"
  std::vector<PromSeries> series;
  std::vector<std::string> warnings;
  // Samples whose value was NaN or +-Inf: dropped, counted here so the caller
  // can log and count them.
  std::size_t non_finite = 0;
};

// Parses a /api/v1/query or /api/v1/query_range response body. An error
// response ({"status":"error","errorType":..,"error":..}) or a body that is
// not the documented shape is an error naming what was wrong.
Result<PromQueryResult> ParseQueryResponse(std::string_view body, int http_status);

// Parses a /api/v1/series response body: the label sets of the series.
Result<std::vector<std::map<std::string, std::string>>> ParseSeriesResponse(std::string_view body,
                                                                             int http_status);

struct PrometheusClientOptions {
  // Base URL including any path prefix, e.g. "http://127.0.0.1:9090" or
  // "https://mimir.example/prometheus".
  std::string url = "http://127.0.0.1:9090";
  std::string bearer_token;                      // never logged
  std::string basic_user, basic_password;        // never logged
  Millis timeout{10'000};
  int max_attempts = 3;                          // 5xx, timeouts, refused
  Millis backoff{500};                           // doubled per retry
  HttpClientOptions http;                        // TLS
};

// Thread-safe if the fetcher is.
class PrometheusClient {
 public:
  // `fetcher` is not owned. `sleep` waits between retries (tests pass a no-op).
  PrometheusClient(PrometheusClientOptions options, HttpFetcher* fetcher,
                   std::function<void(Millis)> sleep = {});

  // POST /api/v1/query (form query=..&time=..)
  Result<PromQueryResult> Query(std::string_view promql, std::optional<TimePoint> at = std::nullopt);
  // GET /api/v1/query_range; REQUIRES: (end - start) / step <= 11000 points,
  // which Prometheus enforces; callers chunk longer ranges.
  Result<PromQueryResult> QueryRange(std::string_view promql, TimePoint start, TimePoint end,
                                     Millis step);
  // POST /api/v1/series (form match[]=..&start=..&end=..): the label sets of the
  // series matching a selector with samples in [start, end] (an index
  // lookup, no samples are read).
  Result<std::vector<std::map<std::string, std::string>>> Series(std::string_view match, TimePoint start,
                                                                 TimePoint end);
  // GET /-/ready (or the API's buildinfo) for the up metric.
  Status Ping();

 private:
  // GET, or POST of a form body when `form` is not empty.
  Result<PromQueryResult> Get(const std::string& path_and_query, const std::string& form = "");
  // The HTTP exchange with auth and retries; the final answer.
  Result<HttpResponse> Fetch(const std::string& path_and_query, const std::string& form = "");
  PrometheusClientOptions options_;
  HttpFetcher* fetcher_;
  std::function<void(Millis)> sleep_;
};

}  // namespace cicd::detector
