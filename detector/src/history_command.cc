// cicd-detector history --config.file FILE [--range 30d] [--match MATCHERS] [--out FILE]
// Prints the per-run history the sidecar would learn from, rebuilt from
// Prometheus exactly as training reads it (ReadHistory), as JSON Lines of run
// records. For checking what the detector sees. Exit codes: 0 done; 1
// Prometheus or config error; 2 usage error.

#include <cstdio>
#include <iostream>

#include "cicd/core/atomic_file.h"
#include "cicd/core/cli.h"
#include "cicd/core/log.h"
#include "cicd/detector/commands.h"
#include "cicd/detector/config.h"
#include "cicd/detector/history.h"

namespace cicd::detector {

int RunHistoryCommand(int argc, const char* const* argv) {
  FlagSet flags("cicd-detector history --config.file FILE [--range 30d] [--match MATCHERS] [--out FILE]");
  flags.Add("config.file", "", "Detector YAML config (its prometheus: section); required.");
  flags.Add("range", "", "How far back to read (default: schedule.history).");
  flags.Add("match", "", "Label matchers, e.g. pipeline=\"org/app/ci.yml\" (default: every pipeline).");
  flags.Add("out", "-", "Where to write the runs as JSON Lines; - for stdout.");
  flags.AddBool("help", "Show this help and exit.");
  auto pos = flags.Parse(argc, argv);
  if (!pos || !pos->empty()) {
    std::fprintf(stderr, "cicd-detector history: %s\n%s",
                 pos ? "unexpected argument" : pos.status().message().c_str(), flags.Help().c_str());
    return 2;
  }
  if (flags.GetBool("help")) {
    std::cout << flags.Help();
    return 0;
  }
  if (flags.Get("config.file").empty()) {
    std::fprintf(stderr, "cicd-detector history: --config.file is required\n");
    return 2;
  }
  DetectorConfig config;
  try {
    config = LoadDetectorConfig(flags.Get("config.file"));
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "cicd-detector history: config error: %s\n", Logging::Redact(e.what()).c_str());
    return 1;
  }
  Millis range = config.schedule.history;
  if (!flags.Get("range").empty()) {
    auto r = ParseDuration(flags.Get("range"));
    if (!r) {
      std::fprintf(stderr, "cicd-detector history: --range: %s\n", r.status().message().c_str());
      return 2;
    }
    range = *r;
  }
  HttplibFetcher fetcher(config.prometheus.http);
  PrometheusClient client(config.prometheus, &fetcher);
  const QueryFunc query = [&client](const std::string& q, TimePoint at) { return client.Query(q, at); };
  auto history = ReadHistory(query, range, SystemClock::Get().Now(), config.history_read, flags.Get("match"));
  if (!history) {
    std::fprintf(stderr, "cicd-detector history: %s\n", Logging::Redact(history.status().ToString()).c_str());
    return 1;
  }
  std::string out;
  for (const RunRecord& r : history->runs) out += ToJsonLine(r) + "\n";
  const std::string& path = flags.Get("out");
  if (path == "-") {
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
  } else if (auto s = WriteFileAtomically(path, out); !s.ok()) {
    std::fprintf(stderr, "cicd-detector history: %s\n", s.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "cicd-detector history: %zu runs, %zu incomplete, %zu non-finite samples\n",
               history->runs.size(), history->incomplete, history->non_finite);
  return 0;
}

}  // namespace cicd::detector
