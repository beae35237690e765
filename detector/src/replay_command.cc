#include <cstdio>

#include "cicd/detector/commands.h"

namespace cicd::detector {

int RunReplayCommand(int, const char* const*) {
  std::fputs("cicd-detector replay: not implemented yet\n", stderr);
  return 1;
}

}  // namespace cicd::detector
