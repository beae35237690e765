#pragma once
// The HTTP seam (STYLE.md principle 3): sources and the Prometheus client take
// an HttpFetcher, tests pass one that talks to a local server.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cicd/core/result.h"
#include "cicd/core/time.h"

namespace cicd {

struct Url {
  std::string scheme;  // "http" or "https"
  std::string host;
  int port = 0;
  std::string target;  // path and query, starts with '/'

  // "scheme://host[:port]"
  std::string Origin() const;
  static Result<Url> Parse(std::string_view text);
};

// Joins a base URL that may carry a path prefix ("https://ghe/api/v3") with
// an absolute path ("/repos/o/r"): "https://ghe/api/v3/repos/o/r".
std::string JoinUrl(std::string_view base, std::string_view path);

// Percent-encodes a query or path component.
std::string UrlEncode(std::string_view s);

struct HttpRequest {
  std::string method = "GET";
  std::string url;  // absolute
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type;  // for bodies
  Millis timeout{10'000};    // connect and per-read timeout; the whole exchange gets 6x this
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;

  // The first header of that name (case-insensitive), or "".
  std::string Header(std::string_view name) const;
};

// Performs one HTTP exchange. An HTTP error status is a response, not an
// error: only transport failures (refused, timeout, TLS, oversized body) are
// errors. Implementations are thread-safe.
class HttpFetcher {
 public:
  virtual ~HttpFetcher() = default;
  virtual Result<HttpResponse> Fetch(const HttpRequest& request) = 0;
};

struct HttpClientOptions {
  // PEM bundle to verify servers against; "" uses the system store.
  std::string ca_file;
  // Skips TLS verification. Default false; only for test servers.
  bool insecure_skip_verify = false;
  // A response body larger than this is refused (kResourceExhausted) so a broken
  // server cannot exhaust memory. Default 64 MiB.
  std::size_t max_body_bytes = 64u << 20;
  std::string user_agent = "cicd-anomaly/" CICD_VERSION;
};

// HttpFetcher over cpp-httplib (HTTP and HTTPS, gzip).
class HttplibFetcher final : public HttpFetcher {
 public:
  explicit HttplibFetcher(HttpClientOptions options = {});
  Result<HttpResponse> Fetch(const HttpRequest& request) override;

 private:
  const HttpClientOptions options_;
};

// "Basic base64(user:password)".
std::string BasicAuthHeader(std::string_view user, std::string_view password);

}  // namespace cicd
