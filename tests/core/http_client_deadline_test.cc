// Defect B of issue 10: a server that sends the status line and then trickles
// header bytes must not hold a fetch past its whole-request deadline.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "cicd/core/http_client.h"

namespace cicd {
namespace {

// Accepts one connection on 127.0.0.1 and sends a header byte every 50 ms
// until stopped (at most 10 s).
class TricklingServer {
 public:
  TricklingServer() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 4);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~TricklingServer() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
  }
  int port() const { return port_; }

 private:
  void Serve() {
    const int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) return;
    const std::string status = "HTTP/1.1 200 OK\r\nX-Slow: ";
    (void)::send(c, status.data(), status.size(), MSG_NOSIGNAL);
    for (int i = 0; i < 200 && !stop_; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      if (::send(c, "a", 1, MSG_NOSIGNAL) != 1) break;
    }
    ::close(c);
  }
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

TEST(HttpClientDeadlineTest, TricklingHeadersHitTheWholeRequestDeadline) {
  TricklingServer server;
  HttplibFetcher fetcher;
  HttpRequest req;
  req.url = "http://127.0.0.1:" + std::to_string(server.port()) + "/slow";
  req.timeout = Millis(200);  // per read; the whole exchange gets 1.2 s
  const auto t0 = std::chrono::steady_clock::now();
  auto r = fetcher.Fetch(req);
  const auto elapsed = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), ErrorCode::kTimeout);
  EXPECT_NE(r.status().message().find("timed out after"), std::string::npos) << r.status().message();
  EXPECT_LT(elapsed, std::chrono::seconds(4));
}

}  // namespace
}  // namespace cicd
