// cicd-exporter: polls CI APIs and serves the runs as Prometheus metrics.
//   cicd-exporter [flags]                 serve /metrics
//   cicd-exporter export --since 7d       finished runs as JSON Lines
//   cicd-exporter backfill --since 30d    OpenMetrics for promtool tsdb create-blocks-from

#include <malloc.h>

#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "cicd/core/cli.h"
#include "cicd/core/log.h"
#include "cicd/exporter/app.h"
#include "cicd/exporter/backfill.h"

namespace {

using namespace cicd;
using namespace cicd::exporter;

int WriteOutput(const std::string& path, const std::string& text) {
  if (path == "-" || path.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return std::fflush(stdout) == 0 ? 0 : 1;
  }
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) {
    std::fprintf(stderr, "cicd-exporter: cannot write %s\n", path.c_str());
    return 1;
  }
  return 0;
}

int Offline(const std::string& command, const ExporterConfig& config, const FlagSet& flags) {
  auto since = ParseDuration(flags.Get("since"));
  if (!since) {
    std::fprintf(stderr, "cicd-exporter: --since: %s\n", since.status().message().c_str());
    return 2;
  }
  HttplibFetcher fetcher;
  CollectedRuns collected = CollectOnce(config, *since, &SystemClock::Get(), &fetcher);
  for (const auto& e : collected.errors) LogError("source failed", {{"err", e}});
  std::string text;
  if (command == "export") {
    text = RenderJsonl(std::move(collected.runs));
  } else {
    StoreOptions opt;
    opt.duration_buckets = config.duration_buckets;
    opt.queue_buckets = config.queue_buckets;
    opt.branches = config.branches;
    text = RenderOpenMetricsBackfill(std::move(collected.runs), opt);
  }
  const int rc = WriteOutput(flags.Get("output"), text);
  return rc != 0 ? rc : (collected.errors.empty() ? 0 : 1);
}

int Serve(const ExporterConfig& config) {
  // Each civetweb worker renders scrapes in its own glibc arena, which keeps
  // the freed memory: two arenas bound the resident set to about one extra
  // scrape's worth (bench/README.md, "/metrics exposition").
  mallopt(M_ARENA_MAX, 2);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // every thread inherits this
  HttplibFetcher fetcher;
  Exporter exporter(config, &SystemClock::Get(), &fetcher);
  if (auto s = exporter.Start(); !s.ok()) {
    std::fprintf(stderr, "cicd-exporter: %s\n", s.message().c_str());
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  LogInfo("shutting down", {{"signal", sig == SIGINT ? "SIGINT" : "SIGTERM"}});
  exporter.Stop();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  FlagSet flags("cicd-exporter [flags] [serve|export|backfill]");
  flags.Add("config.file", "cicd-exporter.yml", "Path to the YAML configuration file.");
  flags.Add("web.listen-address", "", "Address to listen on (overrides web.listen_address, e.g. :9801).");
  flags.Add("web.telemetry-path", "", "Path under which to expose metrics (overrides web.telemetry_path).");
  flags.Add("log.level", "info", "Only log messages with the given severity or above: debug, info, warn, error.");
  flags.Add("since", "24h", "export/backfill: how far back to read finished runs.");
  flags.Add("output", "-", "export/backfill: output file, - for stdout.");
  flags.AddBool("help", "Show this help and exit.");
  flags.AddBool("version", "Show the version and exit.");
  auto positional = flags.Parse(argc, argv);
  if (!positional) {
    std::fprintf(stderr, "cicd-exporter: %s\nTry --help.\n", positional.status().message().c_str());
    return 2;
  }
  if (flags.GetBool("help")) {
    std::cout << flags.Help();
    return 0;
  }
  if (flags.GetBool("version")) {
    std::cout << "cicd-exporter, version " CICD_VERSION "\n";
    return 0;
  }
  const std::string command = positional->empty() ? "serve" : positional->front();
  if (positional->size() > 1 || (command != "serve" && command != "export" && command != "backfill")) {
    std::fprintf(stderr, "cicd-exporter: unknown command \"%s\" (want serve, export or backfill)\n",
                 command.c_str());
    return 2;
  }
  auto level = ParseLogLevel(flags.Get("log.level"));
  if (!level) {
    std::fprintf(stderr, "cicd-exporter: --log.level: %s\n", level.status().message().c_str());
    return 2;
  }
  Logging::SetLevel(*level);
  try {
    ExporterConfig config = LoadExporterConfig(flags.Get("config.file"));
    if (!flags.Get("web.listen-address").empty()) config.web.listen_address = flags.Get("web.listen-address");
    if (!flags.Get("web.telemetry-path").empty()) config.web.telemetry_path = flags.Get("web.telemetry-path");
    if (command == "serve") return Serve(config);
    return Offline(command, config, flags);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "cicd-exporter: config error: %s\n", e.what());
    return 1;
  }
}
