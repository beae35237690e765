// cicd-detector replay --runs FILE.jsonl [--config FILE] [--out FILE]
// Exit codes: 0 all lines judged; 3 done but malformed lines were skipped;
// 1 fatal error (unreadable input, bad config); 2 usage error.

#include <cstdio>
#include <fstream>
#include <iostream>

#include "cicd/core/atomic_file.h"
#include "cicd/core/cli.h"
#include "cicd/detector/commands.h"
#include "cicd/detector/config.h"
#include "cicd/detector/replay.h"

namespace cicd::detector {

int RunReplayCommand(int argc, const char* const* argv) {
  FlagSet flags("cicd-detector replay --runs FILE.jsonl [--config FILE] [--out FILE]");
  flags.Add("runs", "", "JSON Lines of run records (shared/DESIGN.md); required.");
  flags.Add("config", "", "Detector YAML config (its detection: section); defaults otherwise.");
  flags.Add("out", "-", "Where to write one JSON verdict per run; - for stdout.");
  flags.AddBool("help", "Show this help and exit.");
  auto pos = flags.Parse(argc, argv);
  if (!pos || !pos->empty()) {
    std::fprintf(stderr, "cicd-detector replay: %s\n%s",
                 pos ? "unexpected argument" : pos.status().message().c_str(), flags.Help().c_str());
    return 2;
  }
  if (flags.GetBool("help")) {
    std::cout << flags.Help();
    return 0;
  }
  if (flags.Get("runs").empty()) {
    std::fprintf(stderr, "cicd-detector replay: --runs is required\n");
    return 2;
  }
  DetectorConfig config;
  try {
    if (!flags.Get("config").empty()) config = LoadDetectorConfig(flags.Get("config"));
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "cicd-detector replay: config error: %s\n", e.what());
    return 1;
  }
  auto text = ReadFileToString(flags.Get("runs"));
  if (!text) {
    std::fprintf(stderr, "cicd-detector replay: %s\n", text.status().message().c_str());
    return 1;
  }
  ParsedRuns parsed = ParseRunRecords(*text);
  std::size_t skipped = parsed.errors.size();
  for (const auto& e : parsed.errors) {
    std::fprintf(stderr, "cicd-detector replay: %s: skipped: %s\n", flags.Get("runs").c_str(), e.c_str());
  }
  std::vector<RunRecord> finished;
  for (auto& r : parsed.runs) {
    if (r.status == RunStatus::kCompleted) {
      finished.push_back(std::move(r));
    } else {
      ++skipped;
      std::fprintf(stderr, "cicd-detector replay: skipped run %s of %s: not completed\n",
                   r.run_id.c_str(), r.pipeline.c_str());
    }
  }
  const std::vector<Verdict> verdicts = ReplayRuns(std::move(finished), config.detection);
  std::string out;
  std::size_t anomalous = 0;
  for (const auto& v : verdicts) {
    out += v.ToJsonLine();
    out += '\n';
    anomalous += v.anomalous ? 1 : 0;
  }
  const std::string& path = flags.Get("out");
  if (path == "-") {
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
  } else if (auto s = WriteFileAtomically(path, out); !s.ok()) {
    std::fprintf(stderr, "cicd-detector replay: %s\n", s.message().c_str());
    return 1;
  }
  std::fprintf(stderr, "cicd-detector replay: %zu runs judged, %zu anomalous, %zu lines skipped\n",
               verdicts.size(), anomalous, skipped);
  return skipped > 0 ? 3 : 0;
}

}  // namespace cicd::detector
