#pragma once
// HTTP for CI APIs: rate limiting, retries with exponential backoff and
// jitter, Retry-After and X-RateLimit-* handling, conditional requests with
// ETag/If-None-Match, and per-request accounting for self-metrics. Shared by
// every HTTP source; the parsing of payloads stays in the sources.

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "cicd/core/http_client.h"
#include "cicd/core/result.h"
#include "cicd/core/time.h"

namespace cicd::exporter {

// Waits for a duration; returns false when the wait was interrupted because
// the process is stopping (callers then give up).
using Sleeper = std::function<bool(Millis)>;

// Receives per-request facts for the exporter's self-metrics. Thread-safe.
class ApiObserver {
 public:
  virtual ~ApiObserver() = default;
  // `code` is the HTTP status as text, or "timeout" / "error" for transport
  // failures.
  virtual void OnApiRequest(const std::string& source, const std::string& code) = 0;
  virtual void OnRateLimitRemaining(const std::string& source, double remaining) = 0;
};

struct ApiClientOptions {
  Millis timeout{10'000};             // per request
  double requests_per_second = 5.0;   // sustained rate (token bucket)
  int burst = 10;                     // bucket size
  int max_attempts = 4;               // tries per request, including the first
  Millis initial_backoff{1'000};      // doubled per retry, with full jitter
  Millis max_backoff{60'000};         // cap of one backoff wait
  // A reset further away than this fails the request (kRateLimited) rather
  // than blocking the poller; the next poll tries again.
  Millis max_rate_limit_wait{120'000};
  HttpClientOptions http;             // TLS and body size
};

struct ApiResponse {
  int status = 0;
  std::string body;
  bool not_modified = false;  // a 304: `body` is the cached body
  std::string link;           // the Link header, for pagination
  std::vector<std::pair<std::string, std::string>> headers;
};

// Thread-safe (one mutex around the bucket and the ETag cache).
class ApiClient {
 public:
  // `auth_headers` are sent on every request and never logged. `fetcher`,
  // `clock` and `observer` are not owned (observer may be null).
  ApiClient(std::string source_name, ApiClientOptions options,
            std::vector<std::pair<std::string, std::string>> auth_headers,
            HttpFetcher* fetcher, const Clock* clock, ApiObserver* observer,
            Sleeper sleep, std::uint64_t seed = 42);

  // GET `url`. 2xx returns the response; 304 returns the cached body with
  // not_modified; 401/403/404/other 4xx fail at once with a clear Status;
  // 429, 403 with an exhausted quota, 5xx and transport errors are retried
  // up to max_attempts with backoff.
  Result<ApiResponse> Get(const std::string& url, bool use_etag = true);

  // Rate limit remaining as last reported by the server, if any.
  std::optional<double> rate_limit_remaining() const;

  // Replaces the headers sent on every request (a refreshed short-lived
  // token). Requests already under way keep the old ones.
  void SetAuthHeaders(std::vector<std::pair<std::string, std::string>> auth_headers);

 private:
  struct CacheEntry {
    std::string etag;
    std::string body;
    std::string link;
  };
  // False when the wait was interrupted (the process is stopping).
  bool AcquireToken();
  Millis Backoff(int attempt);
  std::optional<Millis> RateLimitWait(const HttpResponse& r) const;
  bool Sleep(Millis d);

  const std::string source_;
  const ApiClientOptions options_;
  HttpFetcher* const fetcher_;
  const Clock* const clock_;
  ApiObserver* const observer_;
  Sleeper sleep_;

  mutable std::mutex mu_;
  double tokens_;                                  // GUARDED_BY(mu_)
  TimePoint last_refill_;                          // GUARDED_BY(mu_)
  std::mt19937_64 rng_;                            // GUARDED_BY(mu_)
  std::map<std::string, CacheEntry> etag_cache_;   // GUARDED_BY(mu_)
  std::optional<double> remaining_;                // GUARDED_BY(mu_)
  std::vector<std::pair<std::string, std::string>> auth_headers_;  // GUARDED_BY(mu_)
};

// Parses an RFC 8288 Link header and returns the URL with rel="next", or "".
std::string NextLink(const std::string& link_header);

}  // namespace cicd::exporter
