#pragma once
// A local HTTP server for component tests (STYLE.md level 2): binds
// 127.0.0.1 on a free port, serves canned responses from handlers, and stops
// when destroyed. Uses cpp-httplib's server.

#include <httplib.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace cicd::testing {

class TestServer {
 public:
  TestServer();
  ~TestServer();
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  // Register before Start(). Patterns are cpp-httplib regexes on the path.
  httplib::Server& server() { return server_; }
  // Starts listening on 127.0.0.1:<free port>; blocks until ready.
  void Start();
  int port() const { return port_; }
  // "http://127.0.0.1:<port>"
  std::string base_url() const;

  // Every request path+query seen, in order (thread-safe copy).
  std::vector<std::string> requests() const;
  // Headers of the last request to `path` (exact path without query).
  httplib::Headers last_headers(const std::string& path) const;
  std::size_t request_count() const;

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  mutable std::mutex mu_;
  std::vector<std::string> requests_;
  std::vector<std::pair<std::string, httplib::Headers>> headers_;
};

}  // namespace cicd::testing
