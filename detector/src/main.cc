// cicd-detector: per-pipeline anomaly detection for CI runs.
//   cicd-detector iforest --csv FILE ...   fit and score the isolation forest on a CSV
//   cicd-detector replay --runs FILE ...   judge a history of runs as production would

#include <cstdio>
#include <cstring>
#include <string>

#include "cicd/detector/commands.h"

namespace {

const char* kUsage =
    "usage: cicd-detector <command> [flags]\n\n"
    "Commands:\n"
    "  iforest   fit and score the isolation forest on a numeric CSV (benchmarks)\n"
    "  replay    play a JSONL history of runs in finish-time order and judge each run\n\n"
    "Run 'cicd-detector <command> --help' for a command's flags.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (std::strcmp(argv[1], "--version") == 0) {
    std::puts("cicd-detector, version " CICD_VERSION);
    return 0;
  }
  const std::string command = argv[1];
  if (command == "iforest") return cicd::detector::RunIforestCommand(argc - 1, argv + 1);
  if (command == "replay") return cicd::detector::RunReplayCommand(argc - 1, argv + 1);
  std::fprintf(stderr, "cicd-detector: unknown command \"%s\"\n\n%s", command.c_str(), kUsage);
  return 2;
}
