// cicd-detector: per-pipeline anomaly detection for CI runs.
//   cicd-detector [serve] --config.file FILE   the online sidecar (default command)
//   cicd-detector iforest --csv FILE ...       fit and score the isolation forest on a CSV
//   cicd-detector replay --runs FILE ...       judge a history of runs as production would
//   cicd-detector history --config.file FILE   the runs the sidecar reads from Prometheus

#include <cstdio>
#include <cstring>
#include <string>

#include "cicd/detector/commands.h"

namespace {

const char* kUsage =
    "usage: cicd-detector [command] [flags]\n\n"
    "Commands:\n"
    "  serve     (default) the online sidecar: detection from Prometheus, /metrics, REST API\n"
    "  iforest   fit and score the isolation forest on a numeric CSV (benchmarks)\n"
    "  replay    play a JSONL history of runs in finish-time order and judge each run\n"
    "  history   print the runs the sidecar reads from Prometheus, as JSON Lines\n\n"
    "Run 'cicd-detector <command> --help' for a command's flags.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0)) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (argc >= 2 && std::strcmp(argv[1], "--version") == 0) {
    std::puts("cicd-detector, version " CICD_VERSION);
    return 0;
  }
  const std::string command = argc >= 2 ? argv[1] : "";
  if (command == "iforest") return cicd::detector::RunIforestCommand(argc - 1, argv + 1);
  if (command == "replay") return cicd::detector::RunReplayCommand(argc - 1, argv + 1);
  if (command == "history") return cicd::detector::RunHistoryCommand(argc - 1, argv + 1);
  if (command == "serve") return cicd::detector::RunServeCommand(argc - 1, argv + 1);
  if (command.empty() || command[0] == '-') return cicd::detector::RunServeCommand(argc, argv);
  std::fprintf(stderr, "cicd-detector: unknown command \"%s\"\n\n%s", command.c_str(), kUsage);
  return 2;
}
