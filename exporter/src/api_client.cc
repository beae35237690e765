#include "cicd/exporter/api_client.h"

#include <algorithm>
#include <cmath>
#include <thread>

#include "cicd/core/log.h"

namespace cicd::exporter {
namespace {

std::string WithoutQuery(const std::string& url) { return url.substr(0, url.find('?')); }

std::optional<double> HeaderNumber(const HttpResponse& r, std::string_view name) {
  const std::string v = r.Header(name);
  if (v.empty()) return std::nullopt;
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (end == v.c_str() || !std::isfinite(d)) return std::nullopt;
  return d;
}

constexpr std::size_t kMaxCacheEntries = 20'000;

// GitHub sends X-RateLimit-*, Buildkite and GitLab the unprefixed
// RateLimit-* names of the IETF draft.
std::optional<double> RateLimitHeader(const HttpResponse& r, std::string_view field) {
  if (auto v = HeaderNumber(r, "x-ratelimit-" + std::string(field))) return v;
  return HeaderNumber(r, "ratelimit-" + std::string(field));
}

// A reset is a Unix time (GitHub, GitLab) or, when smaller than any Unix time
// this code will meet (before 2001), seconds from now (Buildkite).
constexpr double kResetIsDelta = 1e9;

}  // namespace

ApiClient::ApiClient(std::string source_name, ApiClientOptions options,
                     std::vector<std::pair<std::string, std::string>> auth_headers,
                     HttpFetcher* fetcher, const Clock* clock, ApiObserver* observer,
                     Sleeper sleep, std::uint64_t seed)
    : source_(std::move(source_name)),
      options_(std::move(options)),
      fetcher_(fetcher),
      clock_(clock),
      observer_(observer),
      sleep_(std::move(sleep)),
      tokens_(options_.burst),
      last_refill_(clock->Now()),
      rng_(seed),
      auth_headers_(std::move(auth_headers)) {}

void ApiClient::SetAuthHeaders(std::vector<std::pair<std::string, std::string>> auth_headers) {
  std::lock_guard lock(mu_);
  auth_headers_ = std::move(auth_headers);
}

bool ApiClient::Sleep(Millis d) {
  if (d <= Millis(0)) return true;
  if (sleep_) return sleep_(d);
  std::this_thread::sleep_for(d);
  return true;
}

bool ApiClient::AcquireToken() {
  if (options_.requests_per_second <= 0) return true;
  for (;;) {
    Millis wait{0};
    {
      std::lock_guard lock(mu_);
      const TimePoint now = clock_->Now();
      const double elapsed = std::max(0.0, Seconds(now - last_refill_).count());
      tokens_ = std::min<double>(options_.burst, tokens_ + elapsed * options_.requests_per_second);
      last_refill_ = now;
      if (tokens_ >= 1.0) {
        tokens_ -= 1.0;
        return true;
      }
      wait = Millis(static_cast<std::int64_t>(
          std::ceil((1.0 - tokens_) / options_.requests_per_second * 1000.0)));
    }
    if (!Sleep(wait)) return false;
  }
}

Millis ApiClient::Backoff(int attempt) {
  // Full jitter: uniform in [0, min(cap, base * 2^attempt)] with a floor of
  // base/2 so retries never hammer a failing server.
  const double cap = static_cast<double>(options_.max_backoff.count());
  const double base = static_cast<double>(options_.initial_backoff.count());
  const double ceiling = std::min(cap, base * std::pow(2.0, attempt - 1));
  std::lock_guard lock(mu_);
  std::uniform_real_distribution<double> dist(base / 2, std::max(base / 2, ceiling));
  return Millis(static_cast<std::int64_t>(dist(rng_)));
}

std::optional<Millis> ApiClient::RateLimitWait(const HttpResponse& r) const {
  // Waits are clamped before the cast: absurd header values must neither
  // overflow nor turn negative.
  constexpr double cap_s = 1e9;  // about 30 years: far past any sane wait
  if (auto retry_after = HeaderNumber(r, "retry-after")) {
    return Millis(static_cast<std::int64_t>(std::clamp(*retry_after, 0.0, cap_s) * 1000));
  }
  const auto remaining = RateLimitHeader(r, "remaining");
  const auto reset = RateLimitHeader(r, "reset");
  if (remaining && *remaining <= 0 && reset) {
    const double wait_s = *reset < kResetIsDelta ? *reset : *reset - ToUnixSeconds(clock_->Now());
    return Millis(static_cast<std::int64_t>(std::clamp(wait_s, 1.0, cap_s) * 1000));
  }
  if (r.status == 403 && r.body.find("secondary rate limit") != std::string::npos) {
    return Millis(60'000);  // GitHub: wait at least a minute when no header says more
  }
  if (r.status == 429) return std::nullopt;  // plain backoff
  return std::nullopt;
}

std::optional<double> ApiClient::rate_limit_remaining() const {
  std::lock_guard lock(mu_);
  return remaining_;
}

Result<ApiResponse> ApiClient::Get(const std::string& url, bool use_etag) {
  const std::string where = "GET " + WithoutQuery(url);
  Status last;
  for (int attempt = 1; attempt <= options_.max_attempts; ++attempt) {
    if (!AcquireToken()) {
      return Status::Error(ErrorCode::kCancelled, where + ": interrupted (shutting down)");
    }
    HttpRequest req;
    req.url = url;
    req.timeout = options_.timeout;
    std::optional<CacheEntry> cached;
    {
      std::lock_guard lock(mu_);
      req.headers = auth_headers_;
    }
    if (use_etag) {
      std::lock_guard lock(mu_);
      if (auto it = etag_cache_.find(url); it != etag_cache_.end()) {
        cached = it->second;
        req.headers.emplace_back("If-None-Match", it->second.etag);
      }
    }
    auto fetched = fetcher_->Fetch(req);
    const bool last_attempt = attempt == options_.max_attempts;
    if (!fetched) {
      const bool timeout = fetched.status().code() == ErrorCode::kTimeout;
      if (observer_) observer_->OnApiRequest(source_, timeout ? "timeout" : "error");
      last = fetched.status();
      if (last.code() == ErrorCode::kResourceExhausted) return last;  // retrying cannot help
      LogDebug("api request failed", {{"source", source_}, {"attempt", attempt}, {"err", last}});
      if (last_attempt || !Sleep(Backoff(attempt))) break;
      continue;
    }
    const HttpResponse& r = *fetched;
    if (observer_) observer_->OnApiRequest(source_, std::to_string(r.status));
    if (auto remaining = RateLimitHeader(r, "remaining")) {
      {
        std::lock_guard lock(mu_);
        remaining_ = *remaining;
      }
      if (observer_) observer_->OnRateLimitRemaining(source_, *remaining);
    }
    LogDebug("api request", {{"source", source_}, {"url", WithoutQuery(url)}, {"code", r.status}});
    if (r.status == 304 && cached) {
      ApiResponse out{304, cached->body, true, cached->link, r.headers};
      return out;
    }
    if (r.status >= 200 && r.status < 300) {
      ApiResponse out{r.status, r.body, false, r.Header("link"), r.headers};
      const std::string etag = r.Header("etag");
      if (use_etag && !etag.empty()) {
        std::lock_guard lock(mu_);
        if (etag_cache_.size() >= kMaxCacheEntries) etag_cache_.clear();
        etag_cache_[url] = CacheEntry{etag, r.body, out.link};
      }
      return out;
    }
    const std::string code = "HTTP " + std::to_string(r.status) + " from " + where;
    if (r.status == 401) {
      return Status::Error(ErrorCode::kUnauthenticated,
                           code + ": the credentials were refused; check the token");
    }
    if (r.status == 403 || r.status == 429) {
      const auto wait = RateLimitWait(r);
      if (r.status == 403 && !wait) {
        return Status::Error(ErrorCode::kUnauthenticated,
                             code + ": forbidden; check the token's permissions");
      }
      last = Status::Error(ErrorCode::kRateLimited, code + ": rate limited");
      const Millis delay = wait.value_or(Backoff(attempt));
      if (delay > options_.max_rate_limit_wait) {
        return Status::Error(ErrorCode::kRateLimited,
                             code + ": rate limited for another " +
                                 FormatDuration(std::chrono::duration_cast<std::chrono::seconds>(delay)) +
                                 "; will retry on a later poll");
      }
      LogWarn("rate limited, waiting", {{"source", source_}, {"wait", FormatDuration(delay)}});
      if (last_attempt || !Sleep(std::min(delay, options_.max_rate_limit_wait))) break;
      continue;
    }
    if (r.status == 404) return Status::Error(ErrorCode::kNotFound, code);
    if (r.status >= 400 && r.status < 500) return InvalidArgument(code);
    last = Status::Error(ErrorCode::kUnavailable, code);
    if (last_attempt || !Sleep(Backoff(attempt))) break;
  }
  if (last.ok()) last = Status::Error(ErrorCode::kUnavailable, where + ": interrupted");
  return last.WithContext("after " + std::to_string(options_.max_attempts) + " attempts");
}

std::string NextLink(const std::string& link_header) {
  // <https://api.github.com/...?page=2>; rel="next", <...>; rel="last"
  std::size_t pos = 0;
  while (pos < link_header.size()) {
    const auto open = link_header.find('<', pos);
    if (open == std::string::npos) return "";
    // The URL ends at the '>' followed by its parameters (';'), the next link
    // (',') or the end: cpp-httplib percent-decodes response header values, so
    // "?created=%3E%3D2025-..." arrives as "?created=>=2025-...".
    auto close = open;
    for (;;) {
      close = link_header.find('>', close + 1);
      if (close == std::string::npos) return "";
      const auto after = link_header.find_first_not_of(' ', close + 1);
      if (after == std::string::npos || link_header[after] == ';' || link_header[after] == ',') {
        break;
      }
    }
    const auto next_entry = link_header.find(',', close);
    const std::string params = link_header.substr(close + 1, next_entry == std::string::npos
                                                                 ? std::string::npos
                                                                 : next_entry - close - 1);
    if (params.find("rel=\"next\"") != std::string::npos ||
        params.find("rel=next") != std::string::npos) {
      return link_header.substr(open + 1, close - open - 1);
    }
    if (next_entry == std::string::npos) return "";
    pos = next_entry + 1;
  }
  return "";
}

}  // namespace cicd::exporter
