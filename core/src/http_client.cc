#include "cicd/core/http_client.h"

#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace cicd {

std::string Url::Origin() const {
  // Appended piece by piece: GCC 12 in Release reports a false
  // -Wrestrict on `scheme + "://" + host`.
  std::string out;
  out.append(scheme).append("://").append(host);
  const bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  if (!default_port) out.append(":").append(std::to_string(port));
  return out;
}

Result<Url> Url::Parse(std::string_view text) {
  Url u;
  // Checked first, and the URL is never quoted then: it would print the
  // password.
  const auto at = text.find('@');
  if (at != std::string_view::npos && text.substr(0, at).find('/') == text.substr(0, at).rfind("//") &&
      text.substr(0, at).find_first_of("?#") == std::string_view::npos) {
    return InvalidArgument("URL must not carry credentials; configure them separately");
  }
  const auto sep = text.find("://");
  if (sep == std::string_view::npos) {
    if (at != std::string_view::npos) {
      return InvalidArgument("URL has no scheme (want http:// or https://) and must not carry credentials");
    }
    return InvalidArgument("URL \"" + std::string(text) + "\" has no scheme (want http:// or https://)");
  }
  u.scheme = std::string(text.substr(0, sep));
  std::transform(u.scheme.begin(), u.scheme.end(), u.scheme.begin(), ::tolower);
  if (u.scheme != "http" && u.scheme != "https") {
    return InvalidArgument("URL scheme \"" + u.scheme + "\" is not http or https");
  }
  std::string_view rest = text.substr(sep + 3);
  const auto slash = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  if (!u.target.empty() && u.target[0] == '?') u.target = "/" + u.target;
  if (authority.find('@') != std::string_view::npos) {
    return InvalidArgument("URL must not carry credentials; configure them separately");
  }
  u.port = u.scheme == "https" ? 443 : 80;
  std::string_view host = authority;
  if (!authority.empty() && authority[0] == '[') {  // [::1]:8080
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return InvalidArgument("bad IPv6 host in URL");
    host = authority.substr(0, close + 1);
    authority = authority.substr(close + 1);
    if (!authority.empty() && authority[0] == ':') {
      authority.remove_prefix(1);
      u.port = std::atoi(std::string(authority).c_str());
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    const std::string port(authority.substr(colon + 1));
    if (port.empty() || !std::all_of(port.begin(), port.end(), ::isdigit)) {
      return InvalidArgument("URL port \"" + port + "\" is not a number");
    }
    u.port = std::atoi(port.c_str());
  }
  if (host.empty()) return InvalidArgument("URL \"" + std::string(text) + "\" has no host");
  if (u.port <= 0 || u.port > 65535) return InvalidArgument("URL port out of range");
  u.host = std::string(host);
  return u;
}

std::string JoinUrl(std::string_view base, std::string_view path) {
  std::string out(base);
  while (!out.empty() && out.back() == '/') out.pop_back();
  if (!path.empty() && path[0] != '/') out += '/';
  out += path;
  return out;
}

std::string UrlEncode(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string HttpResponse::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k.size() == name.size() &&
        std::equal(k.begin(), k.end(), name.begin(),
                   [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
      return v;
    }
  }
  return "";
}

namespace {
// A whole request may take this many times the per-read timeout.
constexpr int kWholeRequestFactor = 6;
}  // namespace

HttplibFetcher::HttplibFetcher(HttpClientOptions options) : options_(std::move(options)) {}

Result<HttpResponse> HttplibFetcher::Fetch(const HttpRequest& request) {
  auto url = Url::Parse(request.url);
  if (!url) return url.status();
  if (request.method != "GET" && request.method != "POST") {
    return InvalidArgument("unsupported HTTP method " + request.method);
  }
  httplib::Client client(url->Origin());
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(request.timeout);
  const auto usecs = std::chrono::duration_cast<std::chrono::microseconds>(request.timeout - secs);
  client.set_connection_timeout(secs.count(), usecs.count());
  client.set_read_timeout(secs.count(), usecs.count());
  client.set_write_timeout(secs.count(), usecs.count());
  client.set_keep_alive(false);
  client.set_follow_location(false);
  if (url->scheme == "https") {
    client.enable_server_certificate_verification(!options_.insecure_skip_verify);
    if (!options_.ca_file.empty()) client.set_ca_cert_path(options_.ca_file.c_str());
  }
  httplib::Headers headers;
  headers.emplace("User-Agent", options_.user_agent);
  headers.emplace("Accept-Encoding", "gzip");
  for (const auto& [k, v] : request.headers) headers.emplace(k, v);

  HttpResponse out;
  bool too_large = false;
  bool too_slow = false;
  const std::size_t limit = options_.max_body_bytes;
  // The socket timeouts bound each read; a server trickling a body would
  // never trip them, so the whole exchange also has a deadline.
  const auto deadline = std::chrono::steady_clock::now() + kWholeRequestFactor * request.timeout;
  auto receiver = [&](const char* data, std::size_t len) {
    if (std::chrono::steady_clock::now() > deadline) {
      too_slow = true;
      return false;
    }
    if (out.body.size() + len > limit) {
      too_large = true;
      return false;
    }
    out.body.append(data, len);
    return true;
  };
  auto response_handler = [&](const httplib::Response& r) {
    out.status = r.status;
    for (const auto& [k, v] : r.headers) {
      std::string name = k;
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      out.headers.emplace_back(std::move(name), v);
    }
    return true;
  };
  // The receiver only runs when body bytes arrive: a server trickling the
  // status line or headers would never reach it. A watchdog shuts the
  // socket down at the deadline, wherever the exchange is.
  std::mutex watch_mu;
  std::condition_variable watch_cv;
  bool done = false;
  bool expired = false;
  std::thread watchdog([&] {
    std::unique_lock lock(watch_mu);
    if (watch_cv.wait_until(lock, deadline, [&] { return done; })) return;
    expired = true;
    lock.unlock();
    client.stop();
  });
  httplib::Result res{nullptr, httplib::Error::Unknown};
  if (request.method == "GET") {
    res = client.Get(url->target, headers, response_handler, receiver);
  } else if (request.method == "POST") {
    httplib::Request req;
    req.method = "POST";
    req.path = url->target;
    req.headers = headers;
    req.body = request.body;
    if (!request.content_type.empty()) req.set_header("Content-Type", request.content_type);
    req.response_handler = response_handler;
    req.content_receiver = [&](const char* data, std::size_t len, uint64_t, uint64_t) {
      return receiver(data, len);
    };
    res = client.send(req);
  } else {
    res = client.send(httplib::Request{});  // unreachable: checked above
  }
  {
    std::lock_guard lock(watch_mu);
    done = true;
  }
  watch_cv.notify_all();
  watchdog.join();
  too_slow = too_slow || expired;
  const std::string where = request.method + " " + url->Origin() + url->target.substr(0, url->target.find('?'));
  if (too_large) {
    return Status::Error(ErrorCode::kResourceExhausted,
                         where + ": response body larger than " +
                             std::to_string(limit) + " bytes");
  }
  if (too_slow) {
    return Status::Error(ErrorCode::kTimeout,
                         where + ": timed out after " +
                             FormatDuration(std::chrono::duration_cast<Millis>(kWholeRequestFactor * request.timeout)));
  }
  if (!res) {
    const auto err = res.error();
    const ErrorCode code =
        err == httplib::Error::Read || err == httplib::Error::ConnectionTimeout
            ? ErrorCode::kTimeout
            : ErrorCode::kUnavailable;
    return Status::Error(code, where + ": " + httplib::to_string(err));
  }
  return out;
}

std::string BasicAuthHeader(std::string_view user, std::string_view password) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const std::string in = std::string(user) + ":" + std::string(password);
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned n = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += table[(n >> 6) & 63];
    out += table[n & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned n = static_cast<unsigned char>(in[i]) << 16;
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned n = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8);
    out += table[(n >> 18) & 63];
    out += table[(n >> 12) & 63];
    out += table[(n >> 6) & 63];
    out += '=';
  }
  return "Basic " + out;
}

}  // namespace cicd
