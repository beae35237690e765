#pragma once
// GitHub App authentication for the GitHub source: the App's private key
// signs a short JWT (RS256), which buys an installation access token from
// POST /app/installations/{id}/access_tokens; the token is sent as the Bearer
// credential of every API request and bought again before it expires. An App
// installation has a rate limit of its own, larger than a user token's.
//
// The private key, every JWT and every token are log secrets: none of them
// appears in a log line, a metric or an error message.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "cicd/core/http_client.h"
#include "cicd/core/result.h"
#include "cicd/core/time.h"
#include "cicd/exporter/api_client.h"

namespace cicd::exporter {

struct GithubAppSettings {
  std::int64_t app_id = 0;           // the App's id (its settings page); required
  std::int64_t installation_id = 0;  // the installation on the org or user; required
  std::string private_key_file;      // where the PEM came from, for messages
  std::string private_key_pem;       // the PEM text (PKCS#1 or PKCS#8 RSA); a secret
};

namespace github {

// OK when `pem` is an RSA private key OpenSSL can sign with. The message never
// quotes the key.
Status CheckAppPrivateKey(std::string_view pem);

// The App JWT: header {"alg":"RS256","typ":"JWT"}, claims {"iat": now - 60 s
// (GitHub's advice against clock drift), "exp": now + 9 min (GitHub allows 10),
// "iss": app_id}, signed with the RSA key in `pem`. Pure: no I/O.
Result<std::string> MakeAppJwt(std::string_view pem, std::int64_t app_id, TimePoint now);

// base64url without padding (RFC 7515 section 2).
std::string Base64UrlEncode(std::string_view bytes);

// The body of a 201 from POST /app/installations/{id}/access_tokens:
// {"token": "...", "expires_at": "2016-07-11T22:14:10Z", ...}.
struct InstallationToken {
  std::string token;
  TimePoint expires_at;
};
Result<InstallationToken> ParseInstallationToken(std::string_view body);

}  // namespace github

// Holds the installation token of one source. Not thread-safe (the source's
// poller thread owns it).
class GithubAppAuth {
 public:
  // A token with less than this left is replaced before it is used.
  static constexpr Millis kRefreshMargin{5 * 60'000};

  // `fetcher`, `clock` and `observer` (may be null) are not owned.
  GithubAppAuth(std::string source, GithubAppSettings settings, std::string api_url,
                ApiClientOptions api, HttpFetcher* fetcher, const Clock* clock,
                ApiObserver* observer);

  // A token valid for at least kRefreshMargin, bought when needed. A refused
  // JWT (401) is kUnauthenticated naming the app and installation; transport
  // errors and 5xx are kUnavailable. The message never holds the key, the JWT
  // or a token.
  Result<std::string> Token();
  // Forgets the token (after the API refused it), so the next Token() buys one.
  void Invalidate();
  std::optional<TimePoint> expires_at() const;

 private:
  Result<github::InstallationToken> Buy();

  const std::string source_;
  const GithubAppSettings settings_;
  const std::string api_url_;
  const ApiClientOptions api_;
  HttpFetcher* const fetcher_;
  const Clock* const clock_;
  ApiObserver* const observer_;
  std::optional<github::InstallationToken> token_;
  std::string previous_token_;  // still a log secret until the next one replaces it
  std::string jwt_;             // the last JWT, a log secret until replaced
};

}  // namespace cicd::exporter
