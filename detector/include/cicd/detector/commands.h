#pragma once
// The offline commands of cicd-detector (shared/DESIGN.md, "Offline modes").
// Each takes the arguments after its name and returns the process exit code.

namespace cicd::detector {

// cicd-detector iforest --csv FILE [--label-column NAME] [--trees N]
//   [--sample-size N] [--seed N] [--threads N] [--scores-out FILE]
int RunIforestCommand(int argc, const char* const* argv);

// cicd-detector replay --runs FILE.jsonl [--config FILE] [--out FILE]
int RunReplayCommand(int argc, const char* const* argv);

// cicd-detector history --config.file FILE [--range 30d] [--match MATCHERS]
//   [--out FILE]: the runs the sidecar reads from Prometheus, as JSON Lines.
int RunHistoryCommand(int argc, const char* const* argv);

// cicd-detector [serve] [--config.file FILE] [--web.listen-address ADDR]
//   [--log.level LEVEL] [--shard i/n]: the online sidecar; runs until
// SIGINT or SIGTERM. argv[0] is the program or command name.
int RunServeCommand(int argc, const char* const* argv);

}  // namespace cicd::detector
