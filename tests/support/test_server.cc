#include "support/test_server.h"

#include <chrono>
#include <stdexcept>

namespace cicd::testing {

TestServer::TestServer() {
  // Recorded before routing (not in the logger, which runs after the response
  // is sent) so a test that checks requests() right after a call sees it.
  server_.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response&) {
    std::lock_guard lock(mu_);
    std::string target = req.path;
    if (!req.params.empty()) {
      target += '?';
      bool first = true;
      for (const auto& [k, v] : req.params) {
        if (!first) target += '&';
        first = false;
        target += k + "=" + v;
      }
    }
    requests_.push_back(target);
    headers_.emplace_back(req.path, req.headers);
    return httplib::Server::HandlerResponse::Unhandled;
  });
}

TestServer::~TestServer() {
  server_.stop();
  if (thread_.joinable()) thread_.join();
}

void TestServer::Start() {
  port_ = server_.bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("test server cannot bind 127.0.0.1");
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  for (int i = 0; i < 500 && !server_.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

std::string TestServer::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::vector<std::string> TestServer::requests() const {
  std::lock_guard lock(mu_);
  return requests_;
}

httplib::Headers TestServer::last_headers(const std::string& path) const {
  std::lock_guard lock(mu_);
  for (auto it = headers_.rbegin(); it != headers_.rend(); ++it) {
    if (it->first == path) return it->second;
  }
  return {};
}

std::size_t TestServer::request_count() const {
  std::lock_guard lock(mu_);
  return requests_.size();
}

}  // namespace cicd::testing
