#include "cicd/exporter/sources/github_app.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <boost/json.hpp>
#include <memory>
#include <utility>
#include <vector>

#include "cicd/core/json.h"
#include "cicd/core/log.h"

namespace cicd::exporter {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// Encrypted keys are refused rather than prompting on the terminal.
int NoPassphrase(char*, int, int, void*) { return -1; }

// OpenSSL's error queue is per thread and shared with the TLS of the HTTP
// client: leave it empty.
Status KeyError(std::string problem) {
  ERR_clear_error();
  return InvalidArgument(std::move(problem));
}

Result<Pkey> LoadRsaKey(std::string_view pem) {
  std::unique_ptr<BIO, BioFree> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return KeyError("cannot read the private key (out of memory)");
  Pkey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!key) {
    return KeyError(
        "not a PEM private key (the .pem file GitHub gives when a key is generated; an "
        "encrypted key is not supported)");
  }
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_RSA) {
    return KeyError("not an RSA private key; GitHub App keys are RSA");
  }
  return key;
}

Result<std::string> SignRs256(EVP_PKEY* key, std::string_view data) {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  std::size_t size = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return KeyError("signing the GitHub App JWT failed");
  }
  std::string signature(size, '\0');
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &size,
                     reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    return KeyError("signing the GitHub App JWT failed");
  }
  signature.resize(size);
  return signature;
}

}  // namespace

namespace github {

std::string Base64UrlEncode(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

Status CheckAppPrivateKey(std::string_view pem) {
  auto key = LoadRsaKey(pem);
  return key ? Status::Ok() : key.status();
}

Result<std::string> MakeAppJwt(std::string_view pem, std::int64_t app_id, TimePoint now) {
  auto key = LoadRsaKey(pem);
  if (!key) return key.status();
  const std::int64_t now_s = static_cast<std::int64_t>(ToUnixSeconds(now));
  boost::json::object claims;
  claims["iat"] = now_s - 60;
  claims["exp"] = now_s + 9 * 60;
  claims["iss"] = app_id;
  const std::string signing_input = Base64UrlEncode(R"({"alg":"RS256","typ":"JWT"})") + "." +
                                    Base64UrlEncode(boost::json::serialize(claims));
  auto signature = SignRs256(key->get(), signing_input);
  if (!signature) return signature.status();
  return signing_input + "." + Base64UrlEncode(*signature);
}

Result<InstallationToken> ParseInstallationToken(std::string_view body) {
  auto doc = json::Parse(body);
  if (!doc) return doc.status().WithContext("installation token response");
  const auto token = json::GetString(*doc, "token");
  if (!token || token->empty()) {
    return ParseError("installation token response has no \"token\"");
  }
  const auto expires = json::GetString(*doc, "expires_at");
  if (!expires) return ParseError("installation token response has no \"expires_at\"");
  auto at = ParseRfc3339(*expires);
  if (!at) return at.status().WithContext("installation token \"expires_at\"");
  return InstallationToken{*token, *at};
}

}  // namespace github

GithubAppAuth::GithubAppAuth(std::string source, GithubAppSettings settings, std::string api_url,
                             ApiClientOptions api, HttpFetcher* fetcher, const Clock* clock,
                             ApiObserver* observer)
    : source_(std::move(source)),
      settings_(std::move(settings)),
      api_url_(std::move(api_url)),
      api_(std::move(api)),
      fetcher_(fetcher),
      clock_(clock),
      observer_(observer) {
  Logging::AddSecret(settings_.private_key_pem);
}

std::optional<TimePoint> GithubAppAuth::expires_at() const {
  if (!token_) return std::nullopt;
  return token_->expires_at;
}

void GithubAppAuth::Invalidate() { token_.reset(); }

Result<std::string> GithubAppAuth::Token() {
  if (token_ && clock_->Now() + kRefreshMargin < token_->expires_at) return token_->token;
  auto bought = Buy();
  if (!bought) return bought.status();
  // The token it replaces stays valid until it expires; the one before that
  // has expired and is no longer a secret worth the redaction cost.
  if (!previous_token_.empty()) Logging::RemoveSecret(previous_token_);
  previous_token_ = token_ ? token_->token : "";
  Logging::AddSecret(bought->token);
  token_ = std::move(*bought);
  LogDebug("github app installation token bought",
           {{"source", source_},
            {"installation_id", settings_.installation_id},
            {"expires_at", FormatRfc3339(token_->expires_at)}});
  return token_->token;
}

Result<github::InstallationToken> GithubAppAuth::Buy() {
  const std::string what = "GitHub App " + std::to_string(settings_.app_id) + " installation " +
                           std::to_string(settings_.installation_id);
  auto jwt = github::MakeAppJwt(settings_.private_key_pem, settings_.app_id, clock_->Now());
  if (!jwt) return jwt.status().WithContext(what);
  Logging::AddSecret(*jwt);
  if (!jwt_.empty()) Logging::RemoveSecret(jwt_);  // a JWT lives 10 minutes
  jwt_ = *jwt;

  HttpRequest req;
  req.method = "POST";
  req.url = JoinUrl(api_url_, "/app/installations/" + std::to_string(settings_.installation_id) +
                                  "/access_tokens");
  req.timeout = api_.timeout;
  req.headers = {{"Accept", "application/vnd.github+json"},
                 {"X-GitHub-Api-Version", "2022-11-28"},
                 {"Authorization", "Bearer " + *jwt}};
  auto fetched = fetcher_->Fetch(req);
  if (!fetched) {
    if (observer_) {
      observer_->OnApiRequest(
          source_, fetched.status().code() == ErrorCode::kTimeout ? "timeout" : "error");
    }
    return fetched.status().WithContext(what + ": buying an installation token");
  }
  if (observer_) observer_->OnApiRequest(source_, std::to_string(fetched->status));
  // The body is not quoted: GitHub's error bodies are harmless, but a 201
  // holds the token.
  const std::string code = "HTTP " + std::to_string(fetched->status) + " from POST " +
                           JoinUrl(api_url_, "/app/installations/{id}/access_tokens");
  if (fetched->status == 401) {
    return Status::Error(ErrorCode::kUnauthenticated,
                         what + ": " + code +
                             ": the JWT was refused; check app_id, private_key_file and "
                             "the clock");
  }
  if (fetched->status == 403 || fetched->status == 404) {
    return Status::Error(ErrorCode::kUnauthenticated,
                         what + ": " + code +
                             ": check installation_id and that the App is installed");
  }
  if (fetched->status == 429 || (fetched->status >= 500 && fetched->status < 600)) {
    return Status::Error(ErrorCode::kUnavailable, what + ": " + code);
  }
  if (fetched->status != 200 && fetched->status != 201) {
    return InvalidArgument(what + ": " + code);
  }
  auto token = github::ParseInstallationToken(fetched->body);
  if (!token) return token.status().WithContext(what);
  return token;
}

}  // namespace cicd::exporter
