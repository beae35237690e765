#pragma once
// A small HTTP server over civetweb for /metrics, health and the REST APIs.
// Handlers are plain functions from request to response, so they are unit
// testable without a socket.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cicd/core/result.h"

class CivetServer;

namespace cicd {

struct WebRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // decoded, without the query
  std::string query;   // raw, without '?'
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;

  // Case-insensitive header lookup; "" when absent.
  std::string Header(std::string_view name) const;
  // Decoded value of a query parameter; std::nullopt-like "" with found=false.
  bool QueryParam(std::string_view name, std::string* value) const;
};

struct WebResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the body is produced by this function instead of `body` and
  // sent with chunked transfer encoding as it is written, so a large body
  // never has to exist whole. Runs on the server's worker thread.
  using Writer = std::function<void(std::string_view chunk)>;
  std::function<void(const Writer& write)> stream;

  // `body`, or everything `stream` writes (tests).
  std::string FullBody() const;

  // {"status":"error","error":message}
  static WebResponse JsonError(int status, std::string_view message);
  static WebResponse Text(int status, std::string body,
                          std::string content_type = "text/plain; charset=utf-8");
};

using WebHandler = std::function<WebResponse(const WebRequest&)>;

struct WebServerOptions {
  // Prometheus style: "127.0.0.1:9101", ":9101" (all interfaces), port 0 picks
  // a free port (tests).
  std::string listen_address = "127.0.0.1:0";
  int num_threads = 4;
  // Larger request bodies are answered 413 without being read.
  std::size_t max_body_bytes = 1u << 20;
};

// Routes (method, exact path) to handlers; anything else gets a JSON 404 (or
// 405 for a known path with another method). Thread-safe; handlers run on
// civetweb's worker threads and must be thread-safe themselves.
class WebServer {
 public:
  ~WebServer();
  WebServer(const WebServer&) = delete;
  WebServer& operator=(const WebServer&) = delete;

  // Binds and starts serving. Fails (kUnavailable) when the address is taken.
  static Result<std::unique_ptr<WebServer>> Start(const WebServerOptions& options);

  void Handle(std::string method, std::string path, WebHandler handler);
  // The port actually bound (useful with port 0).
  int port() const { return port_; }

  // Dispatches without a socket (tests, and the civetweb callback).
  WebResponse Dispatch(const WebRequest& request) const;

 private:
  class Adapter;
  WebServer() = default;

  WebServerOptions options_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, WebHandler> routes_;  // GUARDED_BY(mu_)
  std::unique_ptr<Adapter> adapter_;
  std::unique_ptr<CivetServer> server_;
  int port_ = 0;
};

}  // namespace cicd
