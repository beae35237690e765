// cicd-detector serve: the online sidecar.

#include <pthread.h>

#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <mutex>
#include <thread>

#include "cicd/core/cli.h"
#include "cicd/core/http_client.h"
#include "cicd/core/log.h"
#include "cicd/core/web_server.h"
#include "cicd/core/yaml.h"
#include "cicd/detector/api.h"
#include "cicd/detector/commands.h"
#include "cicd/detector/config.h"
#include "cicd/detector/prometheus_client.h"
#include "cicd/detector/service.h"

namespace cicd::detector {
namespace {

// Runs Service::Tick until stopped; wakes at the next due step or every
// second, whichever is first.
class Scheduler {
 public:
  explicit Scheduler(Service& service) : service_(service), thread_([this] { Loop(); }) {}
  ~Scheduler() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Loop() {
    std::unique_lock lock(mu_);
    while (!stop_) {
      lock.unlock();
      service_.Tick();
      const auto wait = std::clamp<TimePoint::duration>(service_.NextDue() - service_.clock().Now(),
                                                        std::chrono::milliseconds(50), std::chrono::seconds(1));
      lock.lock();
      cv_.wait_for(lock, wait, [this] { return stop_; });
    }
  }
  Service& service_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace

int RunServeCommand(int argc, const char* const* argv) {
  FlagSet flags("cicd-detector [serve] [flags]");
  flags.Add("config.file", "cicd-detector.yml", "Path to the YAML configuration file.");
  flags.Add("web.listen-address", "", "Address to listen on (overrides web.listen_address, e.g. :9802).");
  flags.Add("log.level", "info", "Only log messages with the given severity or above: debug, info, warn, error.");
  flags.Add("shard", "0/1", "Judge only the pipelines whose stable hash falls in shard i of n (i/n).");
  flags.AddBool("help", "Show this help and exit.");
  auto args = flags.Parse(argc, argv);
  if (!args) {
    std::fprintf(stderr, "cicd-detector: %s\nTry --help.\n", args.status().message().c_str());
    return 2;
  }
  if (flags.GetBool("help")) {
    std::fputs(flags.Help().c_str(), stdout);
    return 0;
  }
  if (!args->empty() && !(args->size() == 1 && (*args)[0] == "serve")) {
    std::fprintf(stderr, "cicd-detector: unexpected argument \"%s\"\n", (*args)[0].c_str());
    return 2;
  }
  auto level = ParseLogLevel(flags.Get("log.level"));
  if (!level) {
    std::fprintf(stderr, "cicd-detector: --log.level: %s\n", level.status().message().c_str());
    return 2;
  }
  Logging::SetLevel(*level);
  auto shard = ParseShard(flags.Get("shard"));
  if (!shard) {
    std::fprintf(stderr, "cicd-detector: %s\n", shard.status().message().c_str());
    return 2;
  }
  DetectorConfig config;
  try {
    config = LoadDetectorConfig(flags.Get("config.file"));
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "cicd-detector: %s\n", Logging::Redact(e.what()).c_str());
    return 1;
  }
  if (flags.IsSet("web.listen-address")) config.web.listen_address = flags.Get("web.listen-address");

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // every thread inherits this

  HttplibFetcher prom_fetcher(config.prometheus.http);
  HttplibFetcher exporter_fetcher;
  PrometheusClient client(config.prometheus, &prom_fetcher);
  ServiceDeps deps;
  deps.query = [&client](const std::string& q, TimePoint at) { return client.Query(q, at); };
  deps.series = [&client](const std::string& match, TimePoint start, TimePoint end) {
    return client.Series(match, start, end);
  };
  deps.fetcher = &exporter_fetcher;
  Service service(config, deps, *shard);
  const std::size_t loaded = service.Load();

  WebServerOptions web;
  web.listen_address = config.web.listen_address;
  web.max_body_bytes = config.web.max_body_bytes;
  auto server = WebServer::Start(web);
  if (!server) {
    std::fprintf(stderr, "cicd-detector: %s\n", server.status().message().c_str());
    return 1;
  }
  RegisterRoutes(**server, service);
  LogInfo("listening", {{"address", config.web.listen_address},
                        {"port", (*server)->port()},
                        {"prometheus", config.prometheus.url},
                        {"shard", flags.Get("shard")},
                        {"models_loaded", loaded}});
  if (loaded == 0) service.StartTraining(config.schedule.history);
  int sig = 0;
  {
    Scheduler scheduler(service);
    sigwait(&signals, &sig);
    LogInfo("shutting down", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
  }
  server->reset();
  if (auto s = service.Save(); !s.ok()) LogError("cannot save state", {{"err", s}});
  return 0;
}

}  // namespace cicd::detector
