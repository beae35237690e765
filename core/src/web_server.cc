#include "cicd/core/web_server.h"

#include <CivetServer.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "cicd/core/json.h"
#include "cicd/core/log.h"

namespace cicd {
namespace {

bool IEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(),
                    [](char x, char y) { return std::tolower(x) == std::tolower(y); });
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

// "127.0.0.1:9101" -> "127.0.0.1:9101"; ":9101" -> "9101"; "[::1]:9101" stays.
std::string CivetPorts(std::string_view listen) {
  if (!listen.empty() && listen[0] == ':') return std::string(listen.substr(1));
  return std::string(listen);
}

}  // namespace

std::string WebRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (IEquals(k, name)) return v;
  }
  return "";
}

bool WebRequest::QueryParam(std::string_view name, std::string* value) const {
  std::string_view q = query;
  while (!q.empty()) {
    const auto amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view() : q.substr(amp + 1);
    const auto eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    if (key != name) continue;
    const std::string raw(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    std::string decoded;
    CivetServer::urlDecode(raw, decoded, true);
    *value = decoded;
    return true;
  }
  return false;
}

std::string WebResponse::FullBody() const {
  if (!stream) return body;
  std::string out;
  stream([&](std::string_view chunk) { out.append(chunk); });
  return out;
}

WebResponse WebResponse::JsonError(int status, std::string_view message) {
  WebResponse r;
  r.status = status;
  r.body = "{\"status\":\"error\",\"error\":" + json::Quote(message) + "}";
  return r;
}

WebResponse WebResponse::Text(int status, std::string body, std::string content_type) {
  WebResponse r;
  r.status = status;
  r.body = std::move(body);
  r.content_type = std::move(content_type);
  return r;
}

class WebServer::Adapter : public CivetHandler {
 public:
  explicit Adapter(WebServer* server) : server_(server) {}
  bool handleGet(CivetServer*, mg_connection* c) override { return Serve(c); }
  bool handlePost(CivetServer*, mg_connection* c) override { return Serve(c); }
  bool handlePut(CivetServer*, mg_connection* c) override { return Serve(c); }
  bool handleDelete(CivetServer*, mg_connection* c) override { return Serve(c); }
  bool handleHead(CivetServer*, mg_connection* c) override { return Serve(c); }
  bool handlePatch(CivetServer*, mg_connection* c) override { return Serve(c); }

 private:
  bool Serve(mg_connection* conn) {
    const mg_request_info* info = mg_get_request_info(conn);
    WebRequest req;
    req.method = info->request_method ? info->request_method : "GET";
    req.path = info->local_uri ? info->local_uri : "/";
    req.query = info->query_string ? info->query_string : "";
    for (int i = 0; i < info->num_headers; ++i) {
      req.headers.emplace_back(info->http_headers[i].name, info->http_headers[i].value);
    }
    WebResponse resp;
    if (info->content_length > 0 &&
        static_cast<std::size_t>(info->content_length) > server_->options_.max_body_bytes) {
      resp = WebResponse::JsonError(
          413, "request body larger than " +
                   std::to_string(server_->options_.max_body_bytes) + " bytes");
    } else {
      const bool too_large = !ReadBody(conn, &req.body);
      resp = too_large ? WebResponse::JsonError(413, "request body too large")
                       : server_->Dispatch(req);
    }
    Write(conn, req.method == "HEAD", resp);
    return true;
  }

  bool ReadBody(mg_connection* conn, std::string* body) {
    char buf[8192];
    for (;;) {
      const int n = mg_read(conn, buf, sizeof buf);
      if (n <= 0) return true;
      if (body->size() + n > server_->options_.max_body_bytes) return false;
      body->append(buf, n);
    }
  }

  static void Write(mg_connection* conn, bool head_only, const WebResponse& r) {
    const bool chunked = static_cast<bool>(r.stream);
    std::string head = "HTTP/1.1 " + std::to_string(r.status) + " " + ReasonPhrase(r.status) +
                       "\r\nContent-Type: " + r.content_type +
                       (chunked ? std::string("\r\nTransfer-Encoding: chunked")
                                : "\r\nContent-Length: " + std::to_string(r.body.size())) +
                       "\r\nConnection: close\r\n";
    for (const auto& [k, v] : r.headers) head += k + ": " + v + "\r\n";
    head += "\r\n";
    mg_write(conn, head.data(), head.size());
    if (head_only) return;
    if (!chunked) {
      if (!r.body.empty()) mg_write(conn, r.body.data(), r.body.size());
      return;
    }
    bool open = true;  // stop writing once the client went away
    try {
      r.stream([&](std::string_view chunk) {
        if (!open || chunk.empty()) return;
        char size[24];
        const int n = std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
        open = mg_write(conn, size, n) > 0 && mg_write(conn, chunk.data(), chunk.size()) > 0 &&
               mg_write(conn, "\r\n", 2) > 0;
      });
    } catch (const std::exception& e) {
      // Headers are gone already: end the body without the final chunk so
      // the client sees a truncated response rather than a complete one.
      LogError("streaming a response failed", {{"err", e.what()}});
      return;
    }
    if (open) mg_write(conn, "0\r\n\r\n", 5);
  }

  WebServer* server_;
};

WebServer::~WebServer() {
  if (server_) server_->close();
}

Result<std::unique_ptr<WebServer>> WebServer::Start(const WebServerOptions& options) {
  std::unique_ptr<WebServer> ws(new WebServer());
  ws->options_ = options;
  ws->adapter_ = std::make_unique<Adapter>(ws.get());
  std::vector<std::string> civet_options = {
      "listening_ports", CivetPorts(options.listen_address),
      "num_threads", std::to_string(options.num_threads),
      "enable_keep_alive", "no",
      "request_timeout_ms", "30000",
  };
  try {
    ws->server_ = std::make_unique<CivetServer>(civet_options);
  } catch (const std::exception& e) {
    return Status::Error(ErrorCode::kUnavailable,
                         "cannot listen on " + options.listen_address + ": " + e.what() +
                             " (address in use?)");
  }
  ws->server_->addHandler("/", ws->adapter_.get());
  const auto ports = ws->server_->getListeningPorts();
  ws->port_ = ports.empty() ? 0 : ports.front();
  return ws;
}

void WebServer::Handle(std::string method, std::string path, WebHandler handler) {
  std::lock_guard lock(mu_);
  routes_[{std::move(method), std::move(path)}] = std::move(handler);
}

WebResponse WebServer::Dispatch(const WebRequest& request) const {
  WebHandler handler;
  bool path_known = false;
  {
    std::lock_guard lock(mu_);
    const std::string method = request.method == "HEAD" ? "GET" : request.method;
    if (auto it = routes_.find({method, request.path}); it != routes_.end()) {
      handler = it->second;
    } else {
      for (const auto& [key, h] : routes_) {
        if (key.second == request.path) path_known = true;
      }
    }
  }
  if (!handler) {
    if (path_known) return WebResponse::JsonError(405, "method " + request.method + " not allowed on " + request.path);
    return WebResponse::JsonError(404, "no such endpoint: " + request.path);
  }
  try {
    return handler(request);
  } catch (const std::exception& e) {
    LogError("handler failed", {{"path", request.path}, {"err", e.what()}});
    return WebResponse::JsonError(500, "internal error");
  }
}

}  // namespace cicd
